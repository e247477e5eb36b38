import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { TicktraceError } from "../../src/errors.js";
import { HealthRegistry } from "../../src/health/registry.js";
import { createTradingEvents, type TradingEventMap } from "../../src/events/trading-events.js";
import { ExchangeClient } from "../../src/trading/venues/exchange-client.js";
import { ExchangeSimulator } from "../../src/trading/venues/simulator/server.js";
import type { Ticker } from "../../src/trading/venues/wire.js";
import { createMetricsProbe } from "./helpers.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function setup(clientOptions: { requestTimeoutMs?: number; baseUrl?: string } = {}) {
  const simulator = new ExchangeSimulator({
    symbols: ["BTC/USDT"],
    seed: 7,
    tickIntervalMs: 20,
    volatilityBps: 1,
    latencyP50Ms: 0.5,
    latencyP99Ms: 2,
    errorRate: 0,
    rateLimitPerSecond: 1_000,
    feeRate: 0.001,
    startingQuote: 100_000,
  });
  await simulator.start();
  const probe = createMetricsProbe();
  const health = new HealthRegistry();
  const events = createTradingEvents();
  const seen: { name: keyof TradingEventMap; payload: unknown }[] = [];
  for (const name of ["exchangeDisconnected", "exchangeReconnected", "rateLimited"] as const) {
    events.on(name, (payload) => seen.push({ name, payload }));
  }
  const tickers: Ticker[][] = [];
  const client = new ExchangeClient({
    exchange: "simex",
    baseUrl: clientOptions.baseUrl ?? simulator.url,
    streamUrl: simulator.streamUrl,
    rateLimitPerSecond: 100,
    requestTimeoutMs: clientOptions.requestTimeoutMs ?? 2_000,
    reconnectInitialMs: 50,
    reconnectMaxMs: 200,
    metrics: probe.metrics,
    health,
    events,
    onMarketData: (t) => tickers.push([...t]),
  });
  cleanups.push(
    () => simulator.shutdown(),
    () => client.shutdown(),
  );
  return { simulator, client, probe, health, seen, tickers };
}

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("ExchangeClient against the simulator", () => {
  it("places, queries and cancels an order; times each call by operation and outcome", async () => {
    const { client, probe } = await setup();
    const ticker = await client.ticker("BTC/USDT");
    const order = await client.placeOrder({
      symbol: "BTC/USDT",
      side: "buy",
      type: "limit",
      price: ticker.bid * 0.9,
      quantity: 0.01,
    });
    expect(order).toMatchObject({ symbol: "BTC/USDT", side: "buy", status: "open", filled: 0 });
    expect((await client.openOrders()).map((o) => o.orderId)).toEqual([order.orderId]);
    expect((await client.getOrder(order.orderId)).status).toBe("open");
    expect((await client.cancelOrder(order.orderId)).status).toBe("cancelled");
    const durations = await probe.points("trading_exchange_request_duration_seconds");
    const ops = durations
      .map((p) => `${String(p.attributes.operation)}:${String(p.attributes.outcome)}:${p.value}`)
      .sort();
    expect(ops).toEqual([
      "cancel_order:ok:1",
      "get_order:ok:1",
      "open_orders:ok:1",
      "place_order:ok:1",
      "ticker:ok:1",
    ]);
    const waits = await probe.points("trading_exchange_ratelimit_wait_seconds");
    expect(waits.reduce((n, p) => n + p.value, 0)).toBe(5);
  });

  it("keeps 'rejected' apart: the exchange said no", async () => {
    const { client, probe, simulator } = await setup();
    const error = await client
      .placeOrder({ symbol: "BTC/USDT", side: "buy", type: "limit", price: -1, quantity: 1 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TicktraceError);
    expect(error).toMatchObject({
      code: "REJECTED",
      status: 400,
      message: `simex place_order failed (400: INVALID_ORDER: price and quantity must be positive numbers) at POST ${simulator.url}/api/v1/orders; check the request`,
    });
    const [point] = await probe.points("trading_exchange_request_duration_seconds");
    expect(point!.attributes).toEqual({ exchange: "simex", operation: "place_order", outcome: "rejected" });
  });

  it("'unreachable' when nothing listens", async () => {
    // A port that was free a moment ago (fetch refuses port 1 itself, as a "bad port").
    const spare = createServer().listen(0, "127.0.0.1");
    await once(spare, "listening");
    const port = (spare.address() as AddressInfo).port;
    await new Promise((resolve) => spare.close(resolve));
    const { client } = await setup({ baseUrl: `http://127.0.0.1:${port}` });
    const error = await client.balances().catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "UNREACHABLE",
      message: `simex balances could not reach GET http://127.0.0.1:${port}/api/v1/balances: ECONNREFUSED; check that the exchange is up`,
    });
  });

  it("honours retry-after on 429: counts the hit, pauses, and sends nothing early", async () => {
    const { client, simulator, probe, seen } = await setup();
    simulator.startRateLimitStorm({ burstMs: 300, periodMs: 60_000, retryAfterSeconds: 1 });
    const error = await client.ticker("BTC/USDT").catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "RATE_LIMITED", status: 429, retryAfterSeconds: 1 });
    expect(seen).toEqual([
      { name: "rateLimited", payload: { exchange: "simex", operation: "ticker", retryAfterMs: 1_000 } },
    ]);
    const started = performance.now();
    await client.ticker("BTC/USDT");
    expect(performance.now() - started).toBeGreaterThanOrEqual(950);
    expect(simulator.stats()).toMatchObject({ rateLimited: 1, retryAfterViolations: 0 });
    expect(await probe.points("trading_exchange_rate_limit_hits_total")).toEqual([
      { attributes: { exchange: "simex", operation: "ticker" }, value: 1 },
    ]);
    const waits = await probe.points("trading_exchange_ratelimit_wait_seconds");
    expect(Math.max(...waits.map((p) => p.sum ?? 0))).toBeGreaterThan(0.9);
  });

  it("follows an outage: timeouts, stream dropped (health down, event), reconnect with backoff (health up, event, counter)", async () => {
    const { client, simulator, health, seen, probe, tickers } = await setup({ requestTimeoutMs: 300 });
    client.start();
    await until(() => client.isConnected && tickers.length > 0);
    expect(health.stateOf("simex")).toBe("up");
    simulator.startOutage();
    const error = await client.ticker("BTC/USDT").catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "TIMEOUT",
      message: `simex ticker: no answer from GET ${simulator.url}/api/v1/ticker?symbol=BTC%2FUSDT within 300 ms; check that the exchange is up`,
    });
    await until(() => !client.isConnected);
    expect(health.stateOf("simex")).toBe("down");
    expect(health.snapshot().ready).toBe(false);
    expect(seen[0]).toEqual({
      name: "exchangeDisconnected",
      payload: { exchange: "simex", reason: "market-data stream closed" },
    });
    simulator.endOutage();
    await until(() => client.isConnected);
    expect(health.stateOf("simex")).toBe("up");
    expect(seen.at(-1)!.name).toBe("exchangeReconnected");
    expect(await probe.points("trading_exchange_reconnects_total")).toEqual([
      { attributes: { exchange: "simex" }, value: 1 },
    ]);
    expect(await probe.points("trading_exchange_connected")).toEqual([
      { attributes: { exchange: "simex" }, value: 1 },
    ]);
  });
});
