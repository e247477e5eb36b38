import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseStreamMessage } from "../../src/trading/venues/wire-schema.js";

const TICKERS = {
  type: "tickers",
  seq: 3,
  tickers: [{ symbol: "BTC/USDT", bid: 1, ask: 2, last: 1.5, ts: 10 }],
};
const FILL = {
  type: "fill",
  fill: {
    fillId: "f1",
    orderId: "o1",
    symbol: "BTC/USDT",
    side: "buy",
    price: 1,
    quantity: 2,
    fee: 0,
    ts: 1,
  },
  order: {
    orderId: "o1",
    symbol: "BTC/USDT",
    side: "buy",
    type: "limit",
    price: 1,
    quantity: 2,
    filled: 2,
    status: "filled",
    createdAt: 1,
    fills: [],
  },
};

describe("exchange stream messages from outside", () => {
  it("accepts the simulator's messages", () => {
    expect(parseStreamMessage(JSON.stringify(TICKERS))).toEqual(TICKERS);
    expect(parseStreamMessage(JSON.stringify(FILL))).toMatchObject({ type: "fill", fill: FILL.fill });
  });

  it("regression: a message was cast, not checked, so a price as a string reached the strategy; it is dropped", () => {
    const bad = { ...TICKERS, tickers: [{ ...TICKERS.tickers[0], bid: "1" }] };
    expect(parseStreamMessage(JSON.stringify(bad))).toBeUndefined();
    expect(parseStreamMessage(JSON.stringify({ type: "fill", fill: FILL.fill }))).toBeUndefined();
    expect(parseStreamMessage("{not json")).toBeUndefined();
  });

  it("random input never throws, and whatever passes has the fields the client reads", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.jsonValue().map((v) => JSON.stringify(v)),
          fc.jsonValue({ maxDepth: 1 }).map((v) => JSON.stringify({ ...TICKERS, tickers: [v] })),
        ),
        (text) => {
          const message = parseStreamMessage(text);
          if (message?.type === "tickers")
            for (const t of message.tickers) expect(Number.isFinite(t.bid + t.ask + t.last)).toBe(true);
        },
      ),
      { numRuns: 500, seed: 20_261_201 },
    );
  });
});
