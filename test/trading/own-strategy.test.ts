/**
 * A user's own strategy, risk check and venue in the reference trading loop, built only from the
 * public API (`src/index.ts`, what `require("ticktrace")` gives): `createTrader` with a runtime
 * that serves `/metrics` on 127.0.0.1 and exports traces to a real OTLP receiver on 127.0.0.1.
 * The orders show on `/metrics` as the demo's do, and each tick is a trace with its stage spans.
 *
 * The example in docs/api.md is checked here to be the bot the package test runs.
 *
 * The runtime is started with the sources' lazily loaded modules (`require` in the runtime loads
 * built files, which a test of the sources does not have); everything else is the public API.
 */
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  createTrader,
  parseConfig,
  TicktraceError,
  type Fill,
  type Order,
  type PlaceOrderRequest,
  type Quotes,
  type RiskCheck,
  type Runtime,
  type Strategy,
  type Ticker,
  type TickInfo,
  type Venue,
} from "../../src/index.js";
import { startRuntimeWith } from "../../src/runtime/start.js";
import { sourceModules } from "../runtime/source-modules.js";
import { ROOT, tempDir } from "../telemetry/helpers.js";
import { attributes, eventually, OtlpReceiver } from "../telemetry/otlp-receiver.js";

/** The user's paper venue: every order rests until the user's own matching says it filled. */
class PaperVenue implements Venue {
  readonly orders = new Map<string, Order>();
  private next = 1;
  placeOrder(request: PlaceOrderRequest, call?: { onSent?: () => void }): Promise<Order> {
    call?.onSent?.();
    const order: Order = {
      ...request,
      orderId: `p-${this.next++}`,
      filled: 0,
      status: "open",
      createdAt: 0,
      fills: [],
    };
    this.orders.set(order.orderId, order);
    return Promise.resolve({ ...order });
  }
  cancelOrder(orderId: string): Promise<Order> {
    const order = this.orders.get(orderId);
    if (!order) return Promise.reject(new Error(`no order ${orderId}`));
    order.status = "cancelled";
    return Promise.resolve({ ...order });
  }
  getOrder(orderId: string): Promise<Order> {
    const order = this.orders.get(orderId);
    return order ? Promise.resolve({ ...order }) : Promise.reject(new Error(`no order ${orderId}`));
  }
  openOrders(symbol?: string): Promise<Order[]> {
    return Promise.resolve(
      [...this.orders.values()].filter(
        (o) => o.status === "open" && (symbol === undefined || o.symbol === symbol),
      ),
    );
  }
}

/** Bids 10 bps under the mid for one unit; offers only when long. */
const strategy: Strategy = {
  id: "dip-buyer",
  quote(_symbol, bestBid, bestAsk, position): Quotes {
    const mid = (bestBid + bestAsk) / 2;
    return {
      bid: { side: "buy", price: mid * 0.999, quantity: 1 },
      ...(position > 0 ? { ask: { side: "sell", price: mid * 1.001, quantity: position } } : {}),
    };
  },
};

/** Refuses any bid above a price cap. */
const priceCap: RiskCheck = {
  check: (intent) =>
    intent.side === "buy" && intent.price > 60_000
      ? { approved: false, reason: "above_price_cap" }
      : { approved: true },
};

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function start(): Promise<{ runtime: Runtime; receiver: OtlpReceiver }> {
  const receiver = new OtlpReceiver();
  const endpoint = await receiver.start();
  cleanups.push(() => receiver.stop());
  const dir = tempDir("own-strategy");
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const config = parseConfig(
    {
      service: { name: "own-strategy-test" },
      health: { port: 0 },
      logging: { level: "error" },
      telemetry: {
        otlp: { endpoint, protocol: "http/protobuf" },
        traces: { batch_delay_ms: 200 },
        shutdown_timeout_ms: 3_000,
      },
      alerts: { jsonl: { dir: join(dir, "alerts") }, outbox: { dir: join(dir, "outbox") } },
      monitoring: { enabled: false },
      decisions: { enabled: false },
    },
    { file: "test.yaml" },
  );
  const runtime = await startRuntimeWith(config, { registerGlobal: false, modules: sourceModules });
  cleanups.push(() => runtime.shutdown());
  return { runtime, receiver };
}

const ticker = (mid: number): Ticker => ({
  symbol: "BTC/USDT",
  bid: mid - 5,
  ask: mid + 5,
  last: mid,
  ts: 0,
});

async function scrape(runtime: Runtime): Promise<string> {
  return (await fetch(`${runtime.healthUrl}/metrics`)).text();
}

describe("a user's own strategy in createTrader, from the public API", () => {
  it("its orders show on /metrics and its ticks are traces with the stage spans, its position is monitored; the user's risk check refuses on the span", async () => {
    const { runtime, receiver } = await start();
    const venue = new PaperVenue();
    const ticks: TickInfo[] = [];
    const trader = createTrader({
      runtime,
      strategy,
      exchange: "paper",
      symbols: ["BTC/USDT"],
      startingEquity: 100_000,
      venue,
      risk: priceCap,
      positionMonitorIntervalMs: 100,
      onTick: (tick) => ticks.push(tick),
    });
    trader.start();

    trader.onMarketData([ticker(50_000)]);
    await eventually(() => ticks.length === 1, "the first tick");
    expect(ticks[0]!.outcome).toBe("ok");
    const [first] = [...venue.orders.values()];
    expect(first).toMatchObject({ side: "buy", price: 50_000 * 0.999, quantity: 1, type: "limit" });

    // The user's matching fills the bid: the position and the fill metrics follow.
    const fill: Fill = {
      fillId: "f-1",
      orderId: first!.orderId,
      symbol: "BTC/USDT",
      side: "buy",
      price: first!.price,
      quantity: 1,
      fee: 10,
      ts: 0,
    };
    trader.onFill(fill);
    trader.onFill(fill); // the same fill again (stream and REST): applied once
    expect(trader.positions.position("BTC/USDT").quantity).toBe(1);

    // Long now: the strategy offers; the bid at 70k is refused by the user's cap.
    trader.onMarketData([ticker(70_000)]);
    await eventually(() => ticks.length === 2, "the second tick");
    expect([...venue.orders.values()].map((o) => [o.side, o.status])).toEqual([
      ["buy", "open"],
      ["sell", "open"],
    ]);
    expect(trader.ticks).toBe(2);
    expect(trader.strategyState).toBe("running");

    // Tick-path metrics are folded off the path, once a second.
    await eventually(
      async () => /^trading_orders_placed_total\{[^}]*side="sell"[^}]*\} 1$/m.test(await scrape(runtime)),
      "the sell order on /metrics",
    );
    const metrics = await scrape(runtime);
    expect(metrics).toMatch(
      /^trading_orders_placed_total\{exchange="paper",symbol="BTC\/USDT",side="buy",type="limit"[^}]*\} 1$/m,
    );
    expect(metrics).toMatch(/^trading_orders_filled_total\{[^}]*exchange="paper"[^}]*side="buy"[^}]*\} 1$/m);
    // The position monitor records the position the fill opened, and the day's PnL.
    await eventually(
      async () =>
        /^trading_position_size\{exchange="paper",symbol="BTC\/USDT"[^}]*\} 1$/m.test(await scrape(runtime)),
      "the position on /metrics",
    );
    expect(await scrape(runtime)).toMatch(/^trading_pnl_daily_usd\{strategy="dip-buyer"[^}]*\} -?\d/m);
    expect(metrics).toMatch(/^trading_ticks_total\{[^}]*strategy="dip-buyer"[^}]*outcome="ok"[^}]*\} 2$/m);
    expect(metrics).toMatch(/^trading_tick_to_trade_duration_seconds_count\{[^}]*stage="ack"[^}]*\} [1-9]/m);

    await trader.shutdown();
    expect(trader.strategyState).toBe("stopped");
    expect([...venue.orders.values()].map((o) => o.status)).toEqual(["cancelled", "cancelled"]);
    await runtime.shutdown(); // flushes the traces

    const spans = receiver.spans.map((s) => s.item);
    const roots = spans.filter(
      (s) => s.name === "tick" && attributes(s.attributes)["strategy.id"] === "dip-buyer",
    );
    expect(roots).toHaveLength(2);
    const stages = (root: (typeof roots)[number]) =>
      spans.filter((s) => s.traceId === root.traceId && s.parentSpanId === root.spanId).map((s) => s.name);
    expect(stages(roots[0]!).sort()).toEqual(["ack", "decide", "market_data", "place_order", "risk_check"]);
    const refused = spans.find((s) => s.traceId === roots[1]!.traceId && s.name === "risk_check");
    expect(attributes(refused?.attributes)["risk.rejected"]).toBe("above_price_cap");
  }, 30_000);

  it("refuses options out of range, naming the option", async () => {
    const { runtime } = await start();
    const options = {
      runtime,
      strategy,
      exchange: "paper",
      symbols: ["BTC/USDT"],
      startingEquity: 100_000,
      venue: new PaperVenue(),
      risk: priceCap,
    };
    expect(() => createTrader({ ...options, symbols: [] })).toThrow(
      new TicktraceError(
        "INVALID_ARGUMENT",
        "createTrader: options.symbols must be at least one symbol like BTC/USDT (got [])",
      ),
    );
    expect(() => createTrader({ ...options, startingEquity: 0 })).toThrow(
      "createTrader: options.startingEquity must be a positive number (got 0)",
    );
  });
});

describe("docs/api.md, Your own strategy", () => {
  it("shows examples/own-strategy/bot.ts verbatim (the bot the package test runs from the installed package)", () => {
    const api = readFileSync(join(ROOT, "docs", "api.md"), "utf8");
    const section = api.slice(api.indexOf("## Your own strategy"), api.indexOf("## The public API"));
    const blocks = [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]!.trimEnd());
    expect(blocks).toEqual([
      readFileSync(join(ROOT, "examples", "own-strategy", "bot.ts"), "utf8").trimEnd(),
    ]);
  });
});
