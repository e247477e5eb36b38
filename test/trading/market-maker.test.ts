import { describe, expect, it } from "vitest";
import { createManualClock } from "../../src/clock.js";
import { MarketMaker, type QuoteDecisionRecord } from "../../src/trading/strategy/market-maker.js";

const base = {
  id: "mm-1",
  halfSpreadBps: 10,
  quoteNotional: 1_000,
  inventorySkewBps: 20,
  maxPositionNotional: 10_000,
};

describe("MarketMaker", () => {
  it("quotes symmetrically around the mid when flat", () => {
    const mm = new MarketMaker(base);
    const d = mm.quote("BTC/USDT", 99.99, 100.01, 0);
    expect(d.mid).toBeCloseTo(100, 10);
    expect(d.skewBps).toBe(0);
    expect(d.bid.price).toBeCloseTo(99.9, 10);
    expect(d.ask.price).toBeCloseTo(100.1, 10);
    expect(d.bid.quantity).toBeCloseTo(10, 10);
    expect(d.ask.quantity).toBeCloseTo(10, 10);
    expect(d.reason).toBe("flat: no skew");
  });

  it("skews both quotes down when long and up when short, in proportion to the inventory", () => {
    const mm = new MarketMaker(base);
    const long = mm.quote("BTC/USDT", 100, 100, 50); // 5000 of 10000: half the limit
    expect(long.skewBps).toBeCloseTo(10, 10);
    expect(long.bid.price).toBeCloseTo(100 * (1 - 10 / 1e4) * (1 - 10 / 1e4), 10);
    expect(long.ask.price).toBeCloseTo(100 * (1 - 10 / 1e4) * (1 + 10 / 1e4), 10);
    const short = mm.quote("BTC/USDT", 100, 100, -200); // beyond the limit: clamped to -1
    expect(short.skewBps).toBeCloseTo(-20, 10);
    expect(short.ask.price).toBeGreaterThan(100.1);
    expect(short.reason).toBe("short 1.00 of limit: skew up");
  });

  it("widens the spread when realized volatility rises", () => {
    const mm = new MarketMaker({ ...base, referenceVolatilityBps: 2 });
    mm.quote("ETH/USDT", 100, 100, 0);
    let d = mm.quote("ETH/USDT", 100, 100, 0);
    expect(d.halfSpreadBps).toBe(10);
    for (let i = 0; i < 10; i++) d = mm.quote("ETH/USDT", i % 2 ? 100 : 101, i % 2 ? 100 : 101, 0);
    expect(d.halfSpreadBps).toBeGreaterThan(20);
    expect(d.halfSpreadBps).toBeLessThanOrEqual(40);
  });

  it("panic switch: the next quote throws once", () => {
    const mm = new MarketMaker(base);
    mm.panicOnNextQuote("boom");
    expect(() => mm.quote("BTC/USDT", 100, 100, 0)).toThrow("boom");
    expect(() => mm.quote("BTC/USDT", 100, 100, 0)).not.toThrow();
  });

  it("records decisions at most once per interval per symbol, and survives a throwing recorder", () => {
    const clock = createManualClock();
    const records: QuoteDecisionRecord[] = [];
    const mm = new MarketMaker({
      ...base,
      clock,
      recordIntervalMs: 1_000,
      decisionRecorder: { recordQuoteDecision: (r) => records.push(r) },
    });
    const d = mm.quote("BTC/USDT", 100, 100, 0);
    mm.recordOutcome(d, 0, true);
    mm.recordOutcome(d, 0, false, "order_rate");
    clock.advance(1_000);
    mm.recordOutcome(d, 0, false, "position_limit");
    expect(records).toEqual([
      { symbol: "BTC/USDT", mid: 100, skewBps: 0, position: 0, reason: "flat: no skew", approved: true },
      {
        symbol: "BTC/USDT",
        mid: 100,
        skewBps: 0,
        position: 0,
        reason: "flat: no skew",
        approved: false,
        riskReason: "position_limit",
      },
    ]);
    const throwing = new MarketMaker({
      ...base,
      decisionRecorder: {
        recordQuoteDecision: () => {
          throw new Error("x");
        },
      },
    });
    expect(() => throwing.recordOutcome(throwing.quote("BTC/USDT", 100, 100, 0), 0, true)).not.toThrow();
  });

  it("enlarges bids for the large-fill scenario only for the given time", () => {
    const clock = createManualClock();
    const mm = new MarketMaker({ ...base, clock });
    mm.quote("BTC/USDT", 100, 100, 0);
    mm.enlargeBids("BTC/USDT", 20, 500);
    expect(mm.quote("BTC/USDT", 100, 100, 0).bid.quantity).toBeCloseTo(200, 10);
    clock.advance(500);
    expect(mm.quote("BTC/USDT", 100, 100, 0).bid.quantity).toBeCloseTo(10, 10);
  });
});
