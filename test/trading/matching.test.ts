import { describe, expect, it } from "vitest";
import { ExchangeRejection, MatchingEngine } from "../../src/trading/venues/simulator/matching.js";
import { createRandom, logNormalSampler, type Random } from "../../src/trading/venues/simulator/random.js";
import type { Ticker } from "../../src/trading/venues/wire.js";

/** A random source that replays the given values (then 0.99). */
function scripted(values: number[]): Random {
  return { next: () => values.shift() ?? 0.99, normal: () => 0 };
}

const ticker = (bid: number, ask: number): Ticker => ({
  symbol: "BTC/USDT",
  bid,
  ask,
  last: (bid + ask) / 2,
  ts: 0,
});

describe("MatchingEngine", () => {
  it("fills a resting bid completely when the market moves through it, with the fee and balances", () => {
    const engine = new MatchingEngine({
      symbols: ["BTC/USDT"],
      random: scripted([]),
      feeRate: 0.001,
      startingQuote: 10_000,
    });
    const { order, fills } = engine.place(
      { symbol: "BTC/USDT", side: "buy", type: "limit", price: 99, quantity: 2 },
      ticker(99.9, 100.1),
      1,
    );
    expect(fills).toEqual([]);
    expect(engine.openOrders().map((o) => o.orderId)).toEqual([order.orderId]);
    const [fill] = engine.match([ticker(98.5, 98.9)], 2);
    expect(fill).toMatchObject({ orderId: order.orderId, side: "buy", price: 99, quantity: 2 });
    expect(fill!.fee).toBeCloseTo(0.198, 12);
    expect(engine.get(order.orderId)).toMatchObject({ status: "filled", filled: 2 });
    expect(engine.balanceSheet()).toEqual({ USDT: 10_000 - 198 - 0.198, BTC: 2 });
  });

  it("fills in parts when only the taker flow reaches the order", () => {
    // flow: excursion draw, side draw (<0.5 = sellers), partial draw (<0.3), fraction draw
    const engine = new MatchingEngine({
      symbols: ["BTC/USDT"],
      random: scripted([0.9, 0.1, 0.1, 0.5]),
      feeRate: 0,
      startingQuote: 0,
    });
    const { order } = engine.place(
      { symbol: "BTC/USDT", side: "buy", type: "limit", price: 99.8, quantity: 1 },
      ticker(99.9, 100.1),
      1,
    );
    const [fill] = engine.match([ticker(99.9, 100.1)], 2, 10);
    expect(fill!.quantity).toBeCloseTo(0.5, 12);
    expect(engine.get(order.orderId)).toMatchObject({ status: "partially_filled", filled: 0.5 });
  });

  it("fills a marketable order at once at the touch, and refuses bad input by code", () => {
    const engine = new MatchingEngine({
      symbols: ["BTC/USDT"],
      random: scripted([]),
      feeRate: 0,
      startingQuote: 0,
    });
    const { fills } = engine.place(
      { symbol: "BTC/USDT", side: "sell", type: "limit", price: 99, quantity: 1 },
      ticker(99.9, 100.1),
      1,
    );
    expect(fills[0]).toMatchObject({ price: 99.9, quantity: 1 });
    expect(() =>
      engine.place(
        { symbol: "BTC/USDT", side: "buy", type: "limit", price: 0, quantity: 1 },
        ticker(1, 2),
        1,
      ),
    ).toThrow(new ExchangeRejection("INVALID_ORDER", "price and quantity must be positive numbers"));
    expect(() => engine.cancel("o-1")).toThrow("order o-1 is already filled");
  });
});

describe("simulator randomness", () => {
  it("is reproducible by seed, and the latency sampler matches its median", () => {
    const a = createRandom(42);
    const b = createRandom(42);
    expect(Array.from({ length: 5 }, () => a.next())).toEqual(Array.from({ length: 5 }, () => b.next()));
    const sample = logNormalSampler(createRandom(1), 2, 15);
    const values = Array.from({ length: 20_000 }, sample).sort((x, y) => x - y);
    expect(values[10_000]!).toBeGreaterThan(1.8);
    expect(values[10_000]!).toBeLessThan(2.2);
    expect(values[19_800]!).toBeGreaterThan(12);
    expect(values[19_800]!).toBeLessThan(18);
  });
});
