/**
 * Worker tick tracing against the SDK fallback: the same tick loop, on the same stepped clock,
 * traced both ways into two real OTLP receivers on 127.0.0.1 (the SDK path through the real
 * OTLP exporters, the worker path through the exporter thread's own encoder), in both
 * encodings. The traces must be the same: names, parents, attributes, timestamps, status and
 * exception events.
 */
import { MessageChannel } from "node:worker_threads";
import { context, ROOT_CONTEXT, trace, type Tracer } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { OTLPTraceExporter as JsonTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as ProtoTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  InMemorySpanExporter,
  ParentBasedSampler,
  SamplingDecision,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
} from "@opentelemetry/sdk-trace-base";
import { afterEach, describe, expect, it } from "vitest";
import { createManualClock } from "../../src/clock.js";
import { HealthRegistry } from "../../src/health/registry.js";
import { InternTable, RingTickTracer } from "../../src/telemetry/tick-trace/ring-tick-tracer.js";
import { CONTROL_HEAD, CONTROL_TAIL, TickRing } from "../../src/telemetry/tick-trace/ring.js";
import { sdkTickTracerFactory, type TickTracerFactory } from "../../src/telemetry/tick-trace/tick-tracer.js";
import {
  createWorkerTickTracing,
  type WorkerTickTracing,
  type WorkerTickTracingOptions,
} from "../../src/telemetry/tick-trace/worker-exporter.js";
import { createTradingEvents } from "../../src/events/trading-events.js";
import { MarketMaker } from "../../src/trading/strategy/market-maker.js";
import { Orchestrator, type TickInfo } from "../../src/trading/orchestrator.js";
import { OrderExecutor } from "../../src/trading/execution/order-executor.js";
import { PositionManager } from "../../src/trading/portfolio/position-manager.js";
import { RiskMonitor } from "../../src/trading/risk/risk-monitor.js";
import { createMetricsProbe, FakeVenue } from "../trading/helpers.js";
import { attributes, eventually, OtlpReceiver } from "./otlp-receiver.js";

const RESOURCE = {
  "service.name": "tick-trace-test",
  "service.version": "1.2.3",
  "process.pid": 4242,
  "host.name": "box",
};
const SYMBOLS = ["BTC/USDT", "ETH/USDT"];

/** A fixed error: the same message and stack on both paths. */
function fixedError(message: string): Error {
  const error = new Error(message);
  error.stack = `Error: ${message}\n    at the test (tick-tracing.test.ts:1:1)`;
  return error;
}

/**
 * Runs the scripted ticks through an orchestrator traced by `tickTracing`: a normal tick, a
 * rejected placement, a risk rejection, a strategy panic and a failing tick; returns the ticks.
 */
async function runScript(
  tickTracing: TickTracerFactory,
  tracer: Tracer,
): Promise<{ ticks: TickInfo[]; venue: FakeVenue }> {
  const clock = createManualClock(Date.UTC(2026, 5, 1, 12));
  const probe = createMetricsProbe();
  const events = createTradingEvents();
  const venue = new FakeVenue();
  const positions = new PositionManager({ symbols: SYMBOLS, startingEquity: 100_000, clock });
  const risk = new RiskMonitor({
    limits: {
      startingEquity: 100_000,
      dailyLossLimit: 1_500,
      maxPositionNotional: 20_000,
      maxExposureRatio: 0.5,
      maxOrdersPerSecond: 1_000,
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
  const executor = new OrderExecutor({
    exchange: "simex",
    venue,
    positions,
    metrics: probe.metrics,
    events,
    clock,
  });
  const ticks: TickInfo[] = [];
  // Every monotonic read moves on by 0.125 ms, so each stage has distinct, reproducible timestamps.
  let reads = 0;
  const tickClock = { ...clock, monotonicMs: () => 1_000 + 0.125 * ++reads };
  const orchestrator = new Orchestrator({
    exchange: "simex",
    symbols: SYMBOLS,
    strategy,
    executor,
    positions,
    risk,
    metrics: probe.metrics,
    events,
    tracer,
    tickTracing,
    health: new HealthRegistry({ clock }),
    clock: tickClock,
    requoteThresholdBps: 4,
    panicCooldownMs: 0,
    onTick: (t) => ticks.push(t),
  });
  const tick = async (mid: number) => {
    const before = ticks.length;
    orchestrator.onMarketData(
      SYMBOLS.map((symbol, i) => {
        const m = i === 0 ? mid : mid / 20;
        return { symbol, bid: m - 1, ask: m + 1, last: m, ts: 0 };
      }),
      tickClock.monotonicMs(),
    );
    for (let i = 0; i < 200 && ticks.length === before; i++) await new Promise((r) => setImmediate(r));
  };
  await tick(60_000);
  venue.failNext = fixedError("venue said no");
  await tick(60_600);
  const check = risk.check.bind(risk);
  risk.check = () => ({ approved: false, reason: "position_limit" });
  await tick(61_200);
  risk.check = check;
  const quote = strategy.quote.bind(strategy);
  strategy.quote = () => {
    throw fixedError("strategy bug");
  };
  await tick(61_800);
  strategy.quote = quote;
  const evaluate = risk.evaluate.bind(risk);
  risk.evaluate = () => {
    throw fixedError("evaluation failed");
  };
  await tick(62_400);
  risk.evaluate = evaluate;
  await orchestrator.shutdown();
  return { ticks, venue };
}

/** The received spans as comparable values: ids replaced by parent names, traces in start order. */
function normalize(receiver: OtlpReceiver) {
  const spans = receiver.spans.map((r) => r.item);
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const rootStart = new Map<string, bigint>();
  for (const s of spans) if (!s.parentSpanId) rootStart.set(s.traceId, BigInt(s.startTimeUnixNano));
  const rows = spans.map((s) => {
    const exception = s.events?.find((e) => e.name === "exception");
    const exceptionAttributes = exception ? attributes(exception.attributes) : undefined;
    return {
      trace: rootStart.get(s.traceId) ?? -1n,
      name: s.name,
      kind: s.kind,
      parent: s.parentSpanId ? (byId.get(s.parentSpanId)?.name ?? "(missing)") : null,
      sameTrace: !s.parentSpanId || byId.get(s.parentSpanId)?.traceId === s.traceId,
      start: String(s.startTimeUnixNano),
      end: String(s.endTimeUnixNano),
      attributes: attributes(s.attributes),
      status: {
        code: s.status?.code ?? 0,
        message: s.status?.message === "" ? undefined : s.status?.message,
      },
      events: (s.events ?? []).map((e) => ({ name: e.name, time: String(e.timeUnixNano) })),
      exception: exceptionAttributes,
    };
  });
  rows.sort((a, b) =>
    a.trace !== b.trace
      ? a.trace < b.trace
        ? -1
        : 1
      : a.start !== b.start
        ? BigInt(a.start) < BigInt(b.start)
          ? -1
          : 1
        : (a.name + JSON.stringify(a.attributes)).localeCompare(b.name + JSON.stringify(b.attributes)),
  );
  return rows.map(({ trace: t, ...row }) => ({ ...row, traceStart: String(t) }));
}

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** What every worker tick tracing here shares: the receiver at `url`, every tick sampled. */
function workerOptions(url: string, fallbackTracer: Tracer): Omit<WorkerTickTracingOptions, "protocol"> {
  return {
    url: `${url}/v1/traces`,
    timeoutMs: 5_000,
    batchDelayMs: 20,
    samplingRatio: 1,
    resource: RESOURCE,
    scopeName: "ticktrace",
    fallbackTracer,
  };
}

async function receiver(): Promise<{ receiver: OtlpReceiver; url: string }> {
  const r = new OtlpReceiver();
  const url = await r.start();
  cleanup.push(() => r.stop());
  return { receiver: r, url };
}

describe.each(["http/json", "http/protobuf"] as const)("worker tick tracing (%s)", (protocol) => {
  it("sends the same traces as the SDK fallback: names, parents, attributes, timings, status, exceptions", async () => {
    const sdkSide = await receiver();
    const workerSide = await receiver();
    const Exporter = protocol === "http/json" ? JsonTraceExporter : ProtoTraceExporter;
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes(RESOURCE),
      sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(1) }),
      spanProcessors: [new BatchSpanProcessor(new Exporter({ url: `${sdkSide.url}/v1/traces` }))],
    });
    cleanup.push(() => provider.shutdown());
    const tracer = provider.getTracer("ticktrace");
    const exports: { ok: boolean; error?: string }[] = [];
    const tracing = createWorkerTickTracing({
      ...workerOptions(workerSide.url, tracer),
      protocol,
      batchDelayMs: 50,
      onExport: (result) => exports.push(result),
    });
    cleanup.push(() => tracing.shutdown());

    const viaSdk = await runScript(sdkTickTracerFactory(tracer), tracer);
    await provider.forceFlush();
    const viaWorker = await runScript(tracing.factory, tracer);
    await tracing.forceFlush();

    expect(viaWorker.ticks.map((t) => t.outcome)).toEqual(["ok", "ok", "ok", "error", "error"]);
    expect(viaSdk.ticks.map((t) => t.outcome)).toEqual(viaWorker.ticks.map((t) => t.outcome));
    await eventually(() => workerSide.receiver.spans.length >= sdkSide.receiver.spans.length, "worker spans");
    expect(sdkSide.receiver.spans.length).toBeGreaterThanOrEqual(5 + 4 * 6);
    expect(exports.length).toBeGreaterThan(0);
    expect(exports.every((e) => e.ok)).toBe(true);
    expect(
      workerSide.receiver.requests.every((r) => r.contentType === sdkSide.receiver.requests[0]!.contentType),
    ).toBe(true);

    const sdkRows = normalize(sdkSide.receiver);
    const workerRows = normalize(workerSide.receiver);
    expect(workerRows).toEqual(sdkRows);
    // The resource and the trace ids the tick loop reported.
    expect(workerSide.receiver.spans[0]!.resource).toEqual(sdkSide.receiver.spans[0]!.resource);
    expect(workerSide.receiver.spans[0]!.resource).toMatchObject(RESOURCE);
    const workerTraceIds = new Set(workerSide.receiver.spans.map((s) => s.item.traceId));
    expect(viaWorker.ticks.every((t) => workerTraceIds.has(t.traceId))).toBe(true);
    // What the rows contain, so the comparison cannot pass on two empty or one-sided traces.
    const names = workerRows.map((r) => r.name);
    for (const name of ["tick", "market_data", "decide", "risk_check", "place_order", "ack"])
      expect(names).toContain(name);
    expect(workerRows.filter((r) => r.parent === null).map((r) => r.attributes["tick.outcome"])).toEqual([
      "ok",
      "ok",
      "ok",
      "error",
      "error",
    ]);
    const failed = workerRows.find((r) => r.name === "place_order" && r.status.code === 2)!;
    expect(failed.status.message).toContain("venue said no");
    expect(failed.exception).toEqual({
      "exception.type": "Error",
      "exception.message": "venue said no",
      "exception.stacktrace": "Error: venue said no\n    at the test (tick-tracing.test.ts:1:1)",
    });
    expect(
      workerRows.find((r) => r.name === "risk_check" && r.attributes["risk.rejected"])?.attributes,
    ).toEqual({
      symbol: "BTC/USDT",
      "risk.rejected": "position_limit",
    });
    expect(
      workerRows.find((r) => r.name === "place_order" && r.attributes["order.id"])?.attributes,
    ).toMatchObject({
      side: "buy",
      "exchange.name": "simex",
    });
    expect(workerRows.every((r) => r.sameTrace && r.parent !== "(missing)")).toBe(true);
  });
});

describe("worker tick tracing: context for instrumented children", () => {
  it("an SDK span started in the tick's context (an HTTP client span) joins the tick's trace under its root", async () => {
    const { receiver: r, url } = await receiver();
    const manager = new AsyncLocalStorageContextManager().enable();
    context.setGlobalContextManager(manager);
    cleanup.push(() => {
      context.disable();
      manager.disable();
      return Promise.resolve();
    });
    const inMemory = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(1) }),
      spanProcessors: [new SimpleSpanProcessor(inMemory)],
    });
    const tracer = provider.getTracer("http");
    const tracing = createWorkerTickTracing({
      ...workerOptions(url, tracer),
      protocol: "http/json",
    });
    cleanup.push(() => tracing.shutdown());
    const { ticks, venue } = await runScript(tracing.factory, tracer);
    await tracing.forceFlush();
    await eventually(() => r.spans.some((s) => s.item.name === "tick"), "tick spans");
    const roots = new Map(
      r.spans.filter((s) => !s.item.parentSpanId).map((s) => [s.item.traceId, s.item.spanId]),
    );
    // Every placement ran with the tick's root as the active (sampled) span.
    expect(venue.seenParents.length).toBeGreaterThan(0);
    for (const parent of venue.seenParents) {
      expect(parent.sampled).toBe(true);
      expect(roots.get(parent.traceId)).toBe(parent.spanId);
    }
    expect(ticks.every((t) => roots.has(t.traceId))).toBe(true);
  });

  it("a ratio of 0 traces nothing, and placements run under an unsampled context of the tick's trace id", async () => {
    const { receiver: r, url } = await receiver();
    const manager = new AsyncLocalStorageContextManager().enable();
    context.setGlobalContextManager(manager);
    cleanup.push(() => {
      context.disable();
      manager.disable();
      return Promise.resolve();
    });
    const tracer = new BasicTracerProvider().getTracer("x");
    const tracing = createWorkerTickTracing({
      ...workerOptions(url, tracer),
      protocol: "http/json",
      samplingRatio: 0,
    });
    cleanup.push(() => tracing.shutdown());
    const { ticks, venue } = await runScript(tracing.factory, tracer);
    await tracing.forceFlush();
    expect(r.spans).toEqual([]);
    expect(venue.seenParents.length).toBeGreaterThan(0);
    expect(venue.seenParents.every((p) => !p.sampled)).toBe(true);
    // Placements in ticks 1, 2 and 5 (tick 3's are rejected by risk, tick 4's strategy panics).
    const placedIn = new Set(venue.seenParents.map((p) => p.traceId));
    expect(placedIn.size).toBe(3);
    expect([...placedIn].every((id) => ticks.some((t) => t.traceId === id))).toBe(true);
    expect(tracing.droppedTicks()).toBe(0);
  });
});

describe("worker tick tracing: back-pressure", () => {
  it("a full ring drops ticks from tracing and counts them; ticks are never delayed; tracing resumes when the worker catches up", async () => {
    const { receiver: r, url } = await receiver();
    const tracer = new BasicTracerProvider().getTracer("x");
    const tracing: WorkerTickTracing = createWorkerTickTracing({
      ...workerOptions(url, tracer),
      protocol: "http/json",
      // Room for two records of the largest size (14 spans, as the script's first ticks have;
      // a record claims that much room to open)...
      sizing: { bytes: 2048, maxSpans: 14, stringBytes: 64 },
      // ...and the worker reads the ring rarely, so the five ticks in a row overflow it.
      pollMs: 1_000,
    });
    cleanup.push(() => tracing.shutdown());
    const { ticks } = await runScript(tracing.factory, tracer);
    expect(ticks).toHaveLength(5);
    const dropped = tracing.droppedTicks();
    expect(dropped).toBe(3);
    await tracing.forceFlush();
    await eventually(
      () => r.spans.filter((s) => s.item.name === "tick").length === 5 - dropped,
      "the traced ticks",
    );
    // the ticks that found room: the first ones
    const traced = new Set(r.spans.map((s) => s.item.traceId));
    expect(ticks.map((t) => traced.has(t.traceId))).toEqual(ticks.map((_, i) => i < 5 - dropped));
  });
});

describe("worker tick tracing: export retries", () => {
  const start = (url: string, exports: { ok: boolean; error?: string }[]) => {
    const tracer = new BasicTracerProvider().getTracer("x");
    const tracing = createWorkerTickTracing({
      ...workerOptions(url, tracer),
      protocol: "http/protobuf",
      maxAttempts: 3,
      retryBackoff: { initialDelayMs: 20, maxDelayMs: 50 },
      onExport: (result) => exports.push(result),
    });
    cleanup.push(() => tracing.shutdown());
    return { tracer, tracing };
  };

  it("an export the collector refuses with 503 is retried with backoff and arrives when it recovers; nothing is dropped", async () => {
    const { receiver: r, url } = await receiver();
    r.failNext = 2;
    const exports: { ok: boolean; error?: string }[] = [];
    const { tracer, tracing } = start(url, exports);
    const { ticks } = await runScript(tracing.factory, tracer);
    await tracing.forceFlush();
    expect(r.requests.length).toBeGreaterThanOrEqual(3);
    expect(r.failNext).toBe(0);
    expect(r.spans.filter((s) => s.item.name === "tick")).toHaveLength(5);
    const traced = new Set(r.spans.map((s) => s.item.traceId));
    expect(ticks.every((t) => traced.has(t.traceId))).toBe(true);
    expect(tracing.droppedSpans()).toBe(0);
    expect(exports.length).toBeGreaterThan(0);
    expect(exports.every((e) => e.ok)).toBe(true);
    expect((await tracing.stats())?.retries).toBe(2);
  });

  it("a refusal that is not retryable (400) drops the request's spans at once and counts them", async () => {
    const { receiver: r, url } = await receiver();
    r.failNext = 1;
    r.failStatus = 400;
    const exports: { ok: boolean; error?: string }[] = [];
    const { tracer, tracing } = start(url, exports);
    await runScript(tracing.factory, tracer);
    await tracing.forceFlush();
    const stats = await tracing.stats();
    expect(stats?.retries).toBe(0);
    expect(exports[0]).toEqual({ ok: false, error: "the collector answered HTTP 400" });
    expect(tracing.droppedSpans()).toBeGreaterThan(0);
    // Every span read was either exported or dropped and counted, none twice.
    expect(stats!.spansExported + tracing.droppedSpans()).toBe(stats!.spansRead);
    expect(r.spans).toHaveLength(stats!.spansExported);
  });

  it("a collector that cannot be reached is tried maxAttempts times, then the spans are dropped and counted", async () => {
    const { receiver: r, url } = await receiver();
    await r.stop();
    const exports: { ok: boolean; error?: string }[] = [];
    const { tracer, tracing } = start(url, exports);
    await runScript(tracing.factory, tracer);
    await tracing.forceFlush();
    const stats = await tracing.stats();
    expect(stats?.spansExported).toBe(0);
    expect(tracing.droppedSpans()).toBe(stats!.spansRead);
    expect(stats!.requests).toBe(3 * exports.length);
    expect(exports.every((e) => !e.ok && e.error?.includes("(after 3 attempts)"))).toBe(true);
  });
});

describe("worker tick tracing: the ring's records", () => {
  it("records of every size wrap around the ring many times and arrive whole: each tick's spans and strings", async () => {
    const { receiver: r, url } = await receiver();
    const tracing = createWorkerTickTracing({
      ...workerOptions(url, new BasicTracerProvider().getTracer("x")),
      protocol: "http/protobuf",
      batchDelayMs: 10,
      // 8 KiB: a tick here takes 0.1-0.9 KiB, so the 400 ticks go round it about 40 times
      sizing: { bytes: 8192, maxSpans: 8, stringBytes: 512 },
      pollMs: 1,
    });
    cleanup.push(() => tracing.shutdown());
    const tracer = tracing.factory({ clock: createManualClock() });
    const root = tracer.kind("tick", { "strategy.id": "s" }, "tick.outcome");
    const stage = tracer.kind("stage", { symbol: "BTC/USDT" }, "order.id");
    const stamps = new Float64Array([1, 2]);
    const written = new Map<string, string[]>();
    for (let i = 0; i < 400; i++) {
      tracer.startTick(1_000 + i, root);
      const ids: string[] = [];
      for (let k = 0; k < i % 8; k++) {
        const id = `order-${i}-${k}-${"x".repeat((i * 7 + k * 13) % 40)}`;
        tracer.span(stage, stamps, 0, 1, id);
        ids.push(id);
      }
      if (tracer.sampled) written.set(tracer.traceId, ids);
      tracer.endTick(1_001 + i, i % 3 === 0 ? "ok" : "skipped");
      // every 5 ticks (at most 4.5 KiB) the worker catches up, so every tick finds room
      if (i % 5 === 4) await tracing.forceFlush();
    }
    expect(written.size).toBe(400);
    expect(tracing.droppedTicks()).toBe(0);
    await tracing.forceFlush();
    await eventually(
      () => r.spans.filter((s) => s.item.name === "tick").length === written.size,
      "every traced tick",
    );
    const received = new Map<string, string[]>();
    for (const { item } of r.spans) {
      if (item.name !== "stage") continue;
      const list = received.get(item.traceId) ?? [];
      list.push(String(attributes(item.attributes)["order.id"]));
      received.set(item.traceId, list);
    }
    for (const [traceId, ids] of written) expect(received.get(traceId) ?? [], traceId).toEqual(ids);
    expect(tracing.droppedSpans()).toBe(0);
  });
});

describe("worker tick tracing: publication", () => {
  it("a finished tick reaches the collector with no flush and no further tick (ticks are published in steps)", async () => {
    const { receiver: r, url } = await receiver();
    const tracing = createWorkerTickTracing({
      ...workerOptions(url, new BasicTracerProvider().getTracer("x")),
      protocol: "http/protobuf",
    });
    cleanup.push(() => tracing.shutdown());
    const tracer = tracing.factory({ clock: createManualClock() });
    const root = tracer.kind("tick", { "strategy.id": "s" }, "tick.outcome");
    for (let i = 0; i < 3; i++) {
      tracer.startTick(1_000 + i, root);
      tracer.endTick(1_000.5 + i, "ok");
    }
    await eventually(() => r.spans.filter((s) => s.item.name === "tick").length === 3, "three ticks");
  });
});

describe("worker tick tracing: sampling", () => {
  it("keeps exactly the ticks the SDK's TraceIdRatioBased sampler keeps for the same trace ids", () => {
    const sizing = { bytes: 2048, maxSpans: 4, stringBytes: 64 };
    const ring = new TickRing(sizing);
    const channel = new MessageChannel();
    channel.port1.unref();
    cleanup.push(() => {
      channel.port1.close();
      return Promise.resolve();
    });
    const tracer = new RingTickTracer({
      ring,
      interns: new InternTable((message) => channel.port1.postMessage(message)),
      clock: createManualClock(),
      samplingRatio: 0.3,
    });
    const sdk = new TraceIdRatioBasedSampler(0.3);
    const root = tracer.kind("tick", { "strategy.id": "s" }, "tick.outcome");
    let kept = 0;
    for (let i = 0; i < 5_000; i++) {
      tracer.startTick(i, root);
      const traceId = tracer.traceId;
      expect(traceId).toMatch(/^[0-9a-f]{32}$/);
      const decision = sdk.shouldSample(ROOT_CONTEXT, traceId).decision;
      expect(tracer.sampled, traceId).toBe(decision === SamplingDecision.RECORD_AND_SAMPLED);
      const span = trace.getSpanContext(tracer.context)!;
      expect(span.traceId).toBe(traceId);
      expect(span.spanId).toMatch(/^(?!0{16})[0-9a-f]{16}$/);
      expect(span.traceFlags).toBe(tracer.sampled ? 1 : 0);
      if (tracer.sampled) kept++;
      tracer.endTick(i + 1, "ok");
      tracer.publish();
      // Frees the record, as the worker would.
      Atomics.store(ring.control, CONTROL_TAIL, Atomics.load(ring.control, CONTROL_HEAD));
    }
    expect(kept).toBeGreaterThan(1_200);
    expect(kept).toBeLessThan(1_800);
  });
});
