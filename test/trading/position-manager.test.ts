import { describe, expect, it } from "vitest";
import { createManualClock } from "../../src/clock.js";
import { PositionManager } from "../../src/trading/portfolio/position-manager.js";

const fill = (side: "buy" | "sell", quantity: number, price: number, fee = 0) => ({
  symbol: "BTC/USDT",
  side,
  quantity,
  price,
  fee,
});

describe("PositionManager", () => {
  it("averages entries on the same side and realizes PnL net of fees when reducing", () => {
    const pm = new PositionManager({ startingEquity: 10_000, clock: createManualClock() });
    pm.applyFill(fill("buy", 1, 100, 0.1));
    pm.applyFill(fill("buy", 1, 110, 0.1));
    const p = pm.position("BTC/USDT");
    expect(p.quantity).toBe(2);
    expect(p.averagePrice).toBeCloseTo(105, 10);
    const result = pm.applyFill(fill("sell", 0.5, 115, 0.05));
    expect(result.realized).toBeCloseTo(0.5 * 10 - 0.05, 10);
    expect(p.quantity).toBeCloseTo(1.5, 10);
    expect(p.averagePrice).toBeCloseTo(105, 10); // reducing keeps the average
    expect(p.realizedPnl).toBeCloseTo(-0.2 + 4.95, 10);
    expect(p.fees).toBeCloseTo(0.25, 10);
  });

  it("partial fills add up to the same position as one fill", () => {
    const a = new PositionManager({ startingEquity: 1, clock: createManualClock() });
    const b = new PositionManager({ startingEquity: 1, clock: createManualClock() });
    a.applyFill(fill("buy", 0.3, 200, 0.06));
    a.applyFill(fill("buy", 0.7, 200, 0.14));
    b.applyFill(fill("buy", 1, 200, 0.2));
    expect(a.position("BTC/USDT").quantity).toBeCloseTo(b.position("BTC/USDT").quantity, 12);
    expect(a.position("BTC/USDT").averagePrice).toBeCloseTo(200, 12);
    expect(a.totals().realized).toBeCloseTo(b.totals().realized, 12);
  });

  it("flips through zero: closes at the average, opens the rest at the fill price", () => {
    const clock = createManualClock();
    const pm = new PositionManager({ startingEquity: 10_000, clock });
    pm.applyFill(fill("buy", 2, 100));
    clock.advance(30_000);
    const result = pm.applyFill(fill("sell", 5, 90, 0.45));
    const p = pm.position("BTC/USDT");
    expect(result.realized).toBeCloseTo(2 * (90 - 100) - 0.45, 10);
    expect(result.closed).toEqual({ side: "long", durationMs: 30_000 });
    expect(p.quantity).toBeCloseTo(-3, 10);
    expect(p.averagePrice).toBe(90);
    // Short 3 at 90; price falls to 80: unrealized +30.
    pm.mark("BTC/USDT", 80);
    expect(pm.unrealized(p)).toBeCloseTo(30, 10);
    // Buy back 3 at 85: realized +15, flat again.
    const back = pm.applyFill(fill("buy", 3, 85));
    expect(back.realized).toBeCloseTo(15, 10);
    expect(back.closed?.side).toBe("short");
    expect(p.quantity).toBe(0);
    expect(p.averagePrice).toBe(0);
    expect(pm.totals().realized).toBeCloseTo(-20 - 0.45 + 15, 10);
  });

  it("totals: unrealized against the mark, equity, gross notional, open positions", () => {
    const pm = new PositionManager({ startingEquity: 1_000, clock: createManualClock() });
    pm.applyFill({ symbol: "ETH/USDT", side: "sell", quantity: 2, price: 50, fee: 0 });
    pm.applyFill(fill("buy", 1, 100));
    pm.mark("ETH/USDT", 55);
    pm.mark("BTC/USDT", 104);
    const totals = pm.totals();
    expect(totals.unrealized).toBeCloseTo(-10 + 4, 10);
    expect(totals.grossNotional).toBeCloseTo(110 + 104, 10);
    expect(totals.equity).toBeCloseTo(994, 10);
    expect(totals.openPositions).toBe(2);
  });

  it("daily PnL restarts at the UTC day boundary", () => {
    const clock = createManualClock(Date.UTC(2026, 0, 1, 23, 59, 0));
    const pm = new PositionManager({ startingEquity: 1_000, clock });
    pm.applyFill(fill("buy", 1, 100));
    pm.applyFill(fill("sell", 1, 90));
    expect(pm.totals().daily).toBeCloseTo(-10, 10);
    clock.advance(120_000);
    expect(pm.totals().daily).toBeCloseTo(0, 10);
    pm.applyFill(fill("buy", 1, 100));
    pm.applyFill(fill("sell", 1, 105));
    expect(pm.totals().daily).toBeCloseTo(5, 10);
    expect(pm.totals().realized).toBeCloseTo(-5, 10);
  });
});
