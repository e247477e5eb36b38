import type { Tracer } from "@opentelemetry/api";
import {
  AlwaysOffSampler,
  BasicTracerProvider,
  InMemorySpanExporter,
  ParentBasedSampler,
  SimpleSpanProcessor,
  type ReadableSpan,
  type Sampler,
} from "@opentelemetry/sdk-trace-base";
import { describe, expect, it } from "vitest";
import { createManualClock } from "../../src/clock.js";
import { HealthRegistry } from "../../src/health/registry.js";
import { HotPathRecorder } from "../../src/telemetry/hot-path.js";
import { createTradingEvents, type TradingEventMap } from "../../src/events/trading-events.js";
import { MarketMaker } from "../../src/trading/strategy/market-maker.js";
import { Orchestrator, type TickInfo } from "../../src/trading/orchestrator.js";
import { OrderExecutor } from "../../src/trading/execution/order-executor.js";
import { PositionManager } from "../../src/trading/portfolio/position-manager.js";
import { RiskMonitor } from "../../src/trading/risk/risk-monitor.js";
import { createMetricsProbe, FakeVenue, tickDriver } from "./helpers.js";

/** The tracer wrapped to count `startSpan` calls. */
function countingTracer(tracer: Tracer): Tracer & { started: number } {
  const counting = {
    started: 0,
    startSpan: (...args: Parameters<Tracer["startSpan"]>) => {
      counting.started++;
      return tracer.startSpan(...args);
    },
    startActiveSpan: tracer.startActiveSpan.bind(tracer),
  };
  return counting;
}

/**
 * `monotonicStepMs`: the orchestrator's monotonic clock moves on by this much at every read, so
 * the stages of one tick get distinct timestamps (the manual clock stands still otherwise).
 */
function setup(options: { sampler?: Sampler; monotonicStepMs?: number } = {}) {
  const clock = createManualClock();
  const exporter = new InMemorySpanExporter();
  const tracer = countingTracer(
    new BasicTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(exporter)],
      ...(options.sampler ? { sampler: options.sampler } : {}),
    }).getTracer("test"),
  );
  const probe = createMetricsProbe();
  const events = createTradingEvents();
  const seen: { name: keyof TradingEventMap; payload: unknown }[] = [];
  for (const name of ["strategyPanic", "strategyRecovered", "orderPlaced"] as const)
    events.on(name, (p) => seen.push({ name, payload: p }));
  const health = new HealthRegistry({ clock });
  const venue = new FakeVenue();
  const positions = new PositionManager({ symbols: ["BTC/USDT"], startingEquity: 100_000, clock });
  const risk = new RiskMonitor({
    limits: {
      startingEquity: 100_000,
      dailyLossLimit: 1_500,
      maxPositionNotional: 20_000,
      maxExposureRatio: 0.5,
      maxOrdersPerSecond: 100,
    },
    strategy: "mm-1",
    metrics: probe.metrics,
    events,
    clock,
  });
  const strategy = new MarketMaker({
    id: "mm-1",
    halfSpreadBps: 8,
    quoteNotional: 500,
    inventorySkewBps: 15,
    maxPositionNotional: 20_000,
    clock,
  });
  const hotPath = new HotPathRecorder();
  const executor = new OrderExecutor({
    exchange: "simex",
    venue,
    positions,
    metrics: probe.metrics,
    events,
    clock,
    hotPath,
  });
  const ticks: TickInfo[] = [];
  let reads = 0;
  const step = options.monotonicStepMs ?? 0;
  const tickClock = step > 0 ? { ...clock, monotonicMs: () => clock.monotonicMs() + step * ++reads } : clock;
  const orchestrator = new Orchestrator({
    exchange: "simex",
    symbols: ["BTC/USDT"],
    strategy,
    executor,
    positions,
    risk,
    metrics: probe.metrics,
    events,
    tracer,
    hotPath,
    health,
    clock: tickClock,
    requoteThresholdBps: 4,
    panicCooldownMs: 1_000,
    onTick: (t) => ticks.push(t),
  });
  const tick = tickDriver(orchestrator, clock, ticks);
  return {
    clock,
    exporter,
    tracer,
    probe,
    seen,
    health,
    venue,
    strategy,
    hotPath,
    orchestrator,
    tick,
    risk,
    events,
  };
}

describe("Orchestrator", () => {
  it("one trace per tick: root `tick` with market_data, decide, risk_check, place_order and ack children", async () => {
    const { exporter, tick, venue } = setup();
    const info = await tick(60_000);
    expect(info.outcome).toBe("ok");
    expect(venue.placed.map((p) => p.side)).toEqual(["buy", "sell"]);
    const spans = exporter.getFinishedSpans();
    const root = spans.find((s) => s.name === "tick")!;
    expect(root.spanContext().traceId).toBe(info.traceId);
    const children = spans
      .filter((s) => s.parentSpanContext?.spanId === root.spanContext().spanId)
      .map((s) => s.name)
      .sort();
    expect(children).toEqual([
      "ack",
      "ack",
      "decide",
      "market_data",
      "place_order",
      "place_order",
      "risk_check",
    ]);
    expect(spans.every((s) => s.spanContext().traceId === info.traceId)).toBe(true);
  });

  it("stage spans sit inside the tick on one time base, in stage order; adjacent stages share one reading: market_data ends where the first decide starts, decide where risk_check starts, risk_check where the first place_order starts, place_order where its ack starts", async () => {
    const { exporter, tick } = setup({ monotonicStepMs: 0.25 });
    await tick(60_000);
    const spans = exporter.getFinishedSpans();
    const ns = (t: [number, number]) => BigInt(t[0]) * 1_000_000_000n + BigInt(t[1]);
    const one = (name: string): ReadableSpan => spans.find((s) => s.name === name)!;
    const root = one("tick");
    for (const span of spans) {
      expect(ns(span.startTime) >= ns(root.startTime), span.name).toBe(true);
      expect(ns(span.endTime) <= ns(root.endTime), span.name).toBe(true);
    }
    expect(ns(one("decide").endTime)).toBe(ns(one("risk_check").startTime));
    expect(ns(one("market_data").startTime) < ns(one("market_data").endTime)).toBe(true);
    expect(ns(one("market_data").startTime)).toBe(ns(root.startTime));
    expect(ns(one("market_data").endTime)).toBe(ns(one("decide").startTime));
    expect(ns(one("decide").startTime) < ns(one("decide").endTime)).toBe(true);
    expect(ns(one("risk_check").startTime) < ns(one("risk_check").endTime)).toBe(true);
    expect(ns(one("risk_check").endTime)).toBe(ns(one("place_order").startTime));
    expect(ns(one("place_order").startTime) < ns(one("place_order").endTime)).toBe(true);
    for (const place of spans.filter((s) => s.name === "place_order")) {
      const ack = spans.find(
        (s) => s.name === "ack" && s.attributes["order.status"] && ns(s.startTime) === ns(place.endTime),
      );
      expect(ack, "an ack span starts where its place_order ends").toBeDefined();
    }
    expect(one("place_order").attributes).toMatchObject({ symbol: "BTC/USDT", "exchange.name": "simex" });
    expect(one("decide").attributes).toEqual({ symbol: "BTC/USDT" });
  });

  it("a tick the sampler dropped starts its root span and nothing else, and still records tick-to-trade", async () => {
    const { tick, tracer, exporter, hotPath, probe, venue } = setup({
      sampler: new ParentBasedSampler({ root: new AlwaysOffSampler() }),
    });
    const info = await tick(60_000);
    expect(info.outcome).toBe("ok");
    expect(info.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(venue.placed).toHaveLength(2);
    expect(tracer.started).toBe(1);
    expect(exporter.getFinishedSpans()).toEqual([]);
    hotPath.flush();
    const stages = (await probe.points("trading_tick_to_trade_duration_seconds")).map(
      (p) => `${String(p.attributes.stage)}:${p.value}`,
    );
    expect(stages.sort()).toEqual(["ack:2", "sent:2"]);
  });

  it("records tick-to-trade (sent, ack) and per-order metrics through the hot path, folded later", async () => {
    const { tick, probe, hotPath } = setup();
    await tick(60_000);
    expect(await probe.points("trading_orders_placed_total")).toEqual([]);
    hotPath.flush();
    const stages = (await probe.points("trading_tick_to_trade_duration_seconds")).map(
      (p) => `${String(p.attributes.stage)}:${p.value}`,
    );
    expect(stages.sort()).toEqual(["ack:2", "sent:2"]);
    expect((await probe.points("trading_orders_placed_total")).reduce((n, p) => n + p.value, 0)).toBe(2);
    expect(await probe.points("trading_ticks_total")).toEqual([
      { attributes: { strategy: "mm-1", outcome: "ok" }, value: 1 },
    ]);
  });

  it("keeps a quote that has not moved beyond the threshold, replaces one that has", async () => {
    const { tick, venue } = setup();
    await tick(60_000);
    await tick(60_006); // 1 bps
    expect(venue.placed).toHaveLength(2);
    await tick(60_120); // 20 bps
    expect(venue.placed).toHaveLength(4);
    expect(venue.cancelled).toEqual(["o-1", "o-2"]);
  });

  it("contains a strategy panic: faulted (health down, event, orders cancelled), retried after the cooldown, recovered", async () => {
    const { tick, strategy, seen, health, venue, clock, exporter } = setup();
    await tick(60_000);
    strategy.panicOnNextQuote("boom");
    const panicked = await tick(60_000);
    expect(panicked.outcome).toBe("error");
    expect(seen.find((e) => e.name === "strategyPanic")!.payload).toEqual({
      strategy: "mm-1",
      error: "boom",
      traceId: panicked.traceId,
    });
    expect(health.stateOf("mm-1")).toBe("down");
    expect(venue.cancelled).toEqual(["o-1", "o-2"]);
    const decide = exporter
      .getFinishedSpans()
      .find((s) => s.name === "decide" && s.status.message === "boom");
    expect(decide?.events[0]?.name).toBe("exception");
    expect((await tick(60_000)).outcome).toBe("skipped");
    clock.advance(1_000);
    expect((await tick(60_000)).outcome).toBe("ok");
    expect(seen.at(-1)).toEqual({ name: "strategyRecovered", payload: { strategy: "mm-1" } });
    expect(health.stateOf("mm-1")).toBe("up");
  });

  it("an order the exchange refuses is logged and counted, and the tick goes on", async () => {
    const { tick, venue, probe } = setup();
    venue.failNext = new Error("socket hang up");
    expect((await tick(60_000)).outcome).toBe("ok");
    expect(venue.placed).toHaveLength(1);
    expect(await probe.points("trading_orders_failed_total")).toEqual([
      { attributes: { exchange: "simex", reason: "unknown" }, value: 1 },
    ]);
  });

  it("regression: strategies.mm-1 said `up quoting` during a breaker trip and during an exchange outage", async () => {
    const { tick, health, risk, events } = setup();
    const strategyHealth = () => {
      const group = health.snapshot().components.strategies as Record<
        string,
        { status: string; detail?: string }
      >;
      return group["mm-1"];
    };
    await tick(60_000);
    expect(strategyHealth()).toEqual({ status: "up", detail: "quoting" });

    events.emit("exchangeDisconnected", { exchange: "simex", reason: "market-data stream closed" });
    expect(strategyHealth()).toEqual({
      status: "degraded",
      detail: "halted: exchange simex disconnected (market-data stream closed)",
    });
    events.emit("exchangeDisconnected", { exchange: "other", reason: "not ours" });
    events.emit("exchangeReconnected", { exchange: "simex", downtimeMs: 3_000 });
    expect(strategyHealth()).toEqual({ status: "up", detail: "quoting" });

    const loss = {
      realized: -2_000,
      unrealized: 0,
      fees: 0,
      daily: -2_000,
      equity: 98_000,
      grossNotional: 0,
      openPositions: 0,
    };
    risk.evaluate(loss, []);
    expect((await tick(60_010)).outcome).toBe("skipped");
    expect(strategyHealth()).toEqual({
      status: "degraded",
      detail: "halted: circuit breaker active, orders cancelled",
    });
    risk.reset();
    expect((await tick(60_020)).outcome).toBe("ok");
    expect(strategyHealth()).toEqual({ status: "up", detail: "quoting" });
  });
});
