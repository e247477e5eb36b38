/**
 * The ccxt call spans both ways, into two real OTLP receivers on 127.0.0.1: the SDK path (the
 * instrumentation's tracer, the real OTLP/protobuf exporter) and the ring path (each call's tree
 * written into the tick-trace worker's call ring when the call ends, encoded and sent by the
 * exporter thread). The same script of real ccxt calls against the fake Binance runs each way;
 * the spans must be the same: names, kinds, parents, attributes, status, scope and resource.
 */
import { context, ROOT_CONTEXT, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  SamplingDecision,
  TraceIdRatioBasedSampler,
} from "@opentelemetry/sdk-trace-base";
import { createRequire } from "node:module";
import { MessageChannel } from "node:worker_threads";
import { createManualClock } from "../../src/clock.js";
import { RingSpanWriter, type RingSpanIds } from "../../src/telemetry/tick-trace/ring-span-writer.js";
import { InternTable } from "../../src/telemetry/tick-trace/ring-tick-tracer.js";
import { TickRing } from "../../src/telemetry/tick-trace/ring.js";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CCXT_INSTRUMENTATION_NAME,
  CCXT_INSTRUMENTATION_VERSION,
  CcxtInstrumentation,
} from "../../src/telemetry/ccxt/instrumentation.js";
import { ExchangeRecorder } from "../../src/telemetry/ccxt/recorder.js";
import { createTradingMetrics } from "../../src/telemetry/metrics.js";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import {
  createWorkerTickTracing,
  type WorkerTickTracing,
} from "../../src/telemetry/tick-trace/worker-exporter.js";
import { attributes, eventually, OtlpReceiver } from "../telemetry/otlp-receiver.js";
import { FakeBinance } from "./fake-binance.js";
import { ROOT, type CcxtExchange, type CcxtModule } from "./helpers.js";

const UNSAMPLED_TRACE = "1".repeat(32);
const RESOURCE = { "service.name": "ccxt-span-paths", "service.version": "1.0.0" };

/** Values that differ from run to run (signed timestamps, waits) as their shape. */
function stable(key: string, value: string | number | boolean): string | number | boolean {
  if (key === "url.full") return String(value).replace(/timestamp=\d+/, "timestamp=T");
  if (key === "exchange.ratelimit.wait_ms") return typeof value;
  return value;
}

/**
 * The received spans as comparable rows, ids replaced by the parent's name (`parents` may hold
 * spans from the other receiver: the bot's own SDK span a ccxt call ran under).
 */
function rows(receiver: OtlpReceiver, parents: OtlpReceiver) {
  const spans = receiver.spans.map((r) => ({ span: r.item, scope: r.scope }));
  const all = [...spans.map((s) => s.span), ...parents.spans.map((r) => r.item)];
  const byId = new Map(all.map((s) => [s.spanId, s]));
  const out = spans
    .filter(({ scope }) => scope?.name === CCXT_INSTRUMENTATION_NAME)
    .map(({ span: s, scope }) => {
      const parent = s.parentSpanId ? byId.get(s.parentSpanId) : undefined;
      const attrs = Object.fromEntries(
        Object.entries(attributes(s.attributes))
          .map(([k, v]) => [k, stable(k, v)] as const)
          .sort(([a], [b]) => a.localeCompare(b)),
      );
      return {
        name: s.name,
        kind: s.kind,
        parent: s.parentSpanId ? (parent?.name ?? "(missing)") : null,
        sameTrace: parent === undefined || parent.traceId === s.traceId,
        ordered: BigInt(s.startTimeUnixNano) <= BigInt(s.endTimeUnixNano),
        attributes: attrs,
        status: {
          code: s.status?.code ?? 0,
          message: s.status?.message === "" ? undefined : s.status?.message,
        },
        events: s.events?.length ?? 0,
        scope: `${scope?.name ?? ""}@${scope?.version ?? ""}`,
      };
    });
  return out.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

describe("ccxt call spans: the exporter worker's ring path and the SDK path send the same spans", () => {
  let fake: FakeBinance;
  let sdkSide: OtlpReceiver;
  let ringSide: OtlpReceiver;
  let provider: BasicTracerProvider;
  let tracing: WorkerTickTracing;
  let instrumentation: CcxtInstrumentation;
  let meterProvider: MeterProvider;
  let recorder: ExchangeRecorder;
  let ccxt: CcxtModule;

  beforeAll(async () => {
    const contextManager = new AsyncLocalStorageContextManager();
    contextManager.enable();
    context.setGlobalContextManager(contextManager);
    fake = new FakeBinance();
    await fake.start();
    sdkSide = new OtlpReceiver();
    ringSide = new OtlpReceiver();
    const sdkUrl = await sdkSide.start();
    const ringUrl = await ringSide.start();
    provider = new BasicTracerProvider({
      resource: resourceFromAttributes(RESOURCE),
      sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(1) }),
      spanProcessors: [
        new BatchSpanProcessor(new OTLPTraceExporter({ url: `${sdkUrl}/v1/traces` }), {
          scheduledDelayMillis: 50,
        }),
      ],
    });
    trace.setGlobalTracerProvider(provider);
    tracing = createWorkerTickTracing({
      url: `${ringUrl}/v1/traces`,
      protocol: "http/protobuf",
      timeoutMs: 5_000,
      batchDelayMs: 50,
      samplingRatio: 1,
      resource: RESOURCE,
      scopeName: "ticktrace",
      fallbackTracer: provider.getTracer("ticktrace"),
      calls: { scopeName: CCXT_INSTRUMENTATION_NAME, scopeVersion: CCXT_INSTRUMENTATION_VERSION },
    });
    meterProvider = new MeterProvider({ readers: [] });
    recorder = new ExchangeRecorder({ metrics: createTradingMetrics(meterProvider.getMeter("span-paths")) });
    instrumentation = new CcxtInstrumentation();
    instrumentation.setTracerProvider(provider);
    instrumentation.attach(recorder);
    ccxt = createRequire(join(ROOT, "package.json"))("ccxt") as CcxtModule;
  });

  afterAll(async () => {
    instrumentation.disable();
    await tracing.shutdown();
    await provider.shutdown();
    await meterProvider.shutdown();
    await sdkSide.stop();
    await ringSide.stop();
    await fake.stop();
    trace.disable();
    context.disable();
  });

  /** The same calls each way: successes, nested, concurrent, retried, failed, signed, under a parent span. */
  async function script(): Promise<void> {
    const ex = new ccxt.binance(fake.exchangeOptions()) as CcxtExchange & {
      fetchTicker(symbol: string): Promise<{ last: number }>;
    };
    // The first call loads the markets inside it: a nested call with concurrent attempts.
    await ex.fetchOrderBook("BTC/USDT");
    await ex.fetchTicker("BTC/USDT");
    await Promise.all([ex.fetchTicker("BTC/USDT"), ex.fetchOrderBook("BTC/USDT")]);
    await ex.fetchBalance();
    await ex.createOrder("BTC/USDT", "limit", "buy", 0.001, 39000);
    fake.next("/api/v3/ticker/24hr", { kind: "status", status: 429, retryAfter: "7" });
    await expect(ex.fetchTicker("BTC/USDT")).rejects.toMatchObject({ name: "DDoSProtection" });
    ex.options.maxRetriesOnFailure = 1;
    fake.next("/api/v3/ticker/24hr", { kind: "status", status: 503, body: "Service Unavailable" });
    await ex.fetchTicker("BTC/USDT");
    ex.options.maxRetriesOnFailure = 0;
    fake.rejectOrders = true;
    await expect(ex.createOrder("BTC/USDT", "limit", "buy", 0.001, 39000)).rejects.toMatchObject({
      name: "InvalidOrder",
    });
    fake.rejectOrders = false;
    await expect(ex.fetchTicker("NOPE/USDT")).rejects.toMatchObject({ name: "BadSymbol" });
    // Under the bot's own span: the call is its child, in its trace.
    const tracer = provider.getTracer("bot");
    await tracer.startActiveSpan("bot step", async (span) => {
      await ex.fetchTicker("BTC/USDT");
      span.end();
    });
    // Under an unsampled parent: no spans on either path.
    const unsampled = trace.setSpan(
      ROOT_CONTEXT,
      trace.wrapSpanContext({ traceId: UNSAMPLED_TRACE, spanId: "2".repeat(16), traceFlags: 0 }),
    );
    await context.with(unsampled, () => ex.fetchTicker("BTC/USDT"));
    // A call that fails while one of its attempts is still out: that attempt ends after the call.
    fake.next("/sapi/v1/margin/allPairs", { kind: "delay", ms: 150 });
    fake.next("/sapi/v1/margin/isolated/allPairs", {
      kind: "status",
      status: 400,
      body: { code: -1121, msg: "Invalid symbol." },
    });
    const fresh = new ccxt.binance(fake.exchangeOptions());
    await expect(fresh.loadMarkets()).rejects.toThrow();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await fresh.close();
    await ex.close();
  }

  it("names, kinds, parents, attributes, status, scope and resource are the same", async () => {
    // The SDK path: no span sink.
    instrumentation.attachSpanSink(undefined);
    await context.with(ROOT_CONTEXT, script);
    await provider.forceFlush();
    const sdkCount = sdkSide.spans.filter((s) => s.scope?.name === CCXT_INSTRUMENTATION_NAME).length;
    // The ring path: the worker's call ring.
    instrumentation.attachSpanSink(() => tracing.spanWriter());
    await context.with(ROOT_CONTEXT, script);
    await provider.forceFlush();
    await tracing.forceFlush();
    await eventually(() => ringSide.spans.length >= sdkCount, "the ring path's spans");

    const viaSdk = rows(sdkSide, sdkSide);
    const viaRing = rows(ringSide, sdkSide);
    expect(viaRing).toEqual(viaSdk);
    // What the rows hold, so the comparison cannot pass on two empty or one-sided sets.
    expect(viaSdk.length).toBeGreaterThanOrEqual(20);
    const names = new Set(viaRing.map((r) => r.name));
    for (const name of ["binance fetchTicker", "binance loadMarkets", "binance createOrder", "GET", "POST"])
      expect(names).toContain(name);
    expect(viaRing.every((r) => r.kind === 3 && r.sameTrace && r.ordered && r.parent !== "(missing)")).toBe(
      true,
    );
    expect(viaRing.find((r) => r.parent === "bot step")?.name).toBe("binance fetchTicker");
    const retried = viaRing.find((r) => r.attributes["exchange.http.attempts"] === 2)!;
    expect(retried.name).toBe("binance fetchTicker");
    expect(
      viaRing.find((r) => r.attributes["http.request.resend_count"] === 1)?.attributes[
        "http.response.status_code"
      ],
    ).toBe(200);
    expect(
      viaRing.find((r) => r.attributes["error.type"] === "DDoSProtection" && r.name === "GET"),
    ).toMatchObject({
      parent: "binance fetchTicker",
      status: { code: 2, message: "DDoSProtection" },
      attributes: { "http.response.status_code": 429, "server.address": "127.0.0.1" },
    });
    expect(viaRing.find((r) => r.name === "binance fetchBalance")?.attributes).toEqual({
      "exchange.name": "binance",
      "exchange.operation": "fetchBalance",
      "exchange.ratelimit.wait_ms": "number",
    });
    const signed = viaRing.find((r) => String(r.attributes["url.full"]).includes("/api/v3/account"))!;
    expect(signed.attributes["url.full"]).toMatch(/signature=REDACTED$/);
    // the attempt that ended after its call
    expect(
      viaRing.find((r) => String(r.attributes["url.full"]).includes("/sapi/v1/margin/allPairs"))?.parent,
    ).toBe("binance fetchMarkets");
    for (const side of [sdkSide, ringSide])
      expect(side.spans.filter((s) => s.item.traceId === UNSAMPLED_TRACE)).toEqual([]);
    expect(ringSide.spans[0]!.resource).toEqual(sdkSide.spans[0]!.resource);
    expect(viaRing[0]!.scope).toBe(`${CCXT_INSTRUMENTATION_NAME}@${CCXT_INSTRUMENTATION_VERSION}`);
  });

  it("once the worker has stopped there is no writer, and calls get SDK spans with the same tree", async () => {
    instrumentation.attachSpanSink(() => tracing.spanWriter());
    expect(tracing.spanWriter()).toBeDefined();
    await tracing.shutdown();
    expect(tracing.spanWriter()).toBeUndefined();
    const before = sdkSide.spans.length;
    const ex = new ccxt.binance(fake.exchangeOptions());
    await ex.loadMarkets();
    sdkSide.spans.splice(0, sdkSide.spans.length);
    await context.with(ROOT_CONTEXT, () => ex.fetchTicker("BTC/USDT"));
    await provider.forceFlush();
    await ex.close();
    expect(before).toBeGreaterThan(0);
    const call = sdkSide.spans.find((s) => s.item.name === "binance fetchTicker")!.item;
    const attempts = sdkSide.spans.filter((s) => s.item.parentSpanId === call.spanId);
    expect(attempts.map((s) => s.item.name)).toEqual(["GET"]);
    expect(attributes(attempts[0]!.item.attributes)["http.response.status_code"]).toBe(200);
  });
});

describe("ccxt call spans: the fallback", () => {
  it("with http/json the worker takes no call spans (no writer): the SDK path", async () => {
    const options = {
      url: undefined,
      timeoutMs: 1_000,
      batchDelayMs: 50,
      samplingRatio: 1,
      resource: RESOURCE,
      scopeName: "ticktrace",
      fallbackTracer: trace.getTracer("ticktrace"),
    };
    const json = createWorkerTickTracing({
      ...options,
      protocol: "http/json",
      calls: { scopeName: CCXT_INSTRUMENTATION_NAME, scopeVersion: CCXT_INSTRUMENTATION_VERSION },
    });
    expect(json.spanWriter()).toBeUndefined();
    await json.shutdown();
    const protobufWithoutCalls = createWorkerTickTracing({ ...options, protocol: "http/protobuf" });
    expect(protobufWithoutCalls.spanWriter()).toBeUndefined();
    await protobufWithoutCalls.shutdown();
  });
});

describe("ccxt call spans: sampling on the ring path", () => {
  it("a root call is kept exactly when the SDK's TraceIdRatioBased sampler keeps its trace id; a child follows its parent", () => {
    const channel = new MessageChannel();
    channel.port1.unref();
    const writer = new RingSpanWriter({
      ring: new TickRing({ bytes: 1024, maxSpans: 2, stringBytes: 64 }),
      interns: new InternTable((message) => channel.port1.postMessage(message)),
      clock: createManualClock(),
      samplingRatio: 0.3,
    });
    const sdk = new TraceIdRatioBasedSampler(0.3);
    const ids = (): RingSpanIds => ({
      sampled: false,
      traceId: "",
      spanId: "",
      t0: 0,
      t1: 0,
      t2: 0,
      t3: 0,
      s0: 0,
      s1: 0,
      hasParent: false,
      p0: 0,
      p1: 0,
    });
    let kept = 0;
    for (let i = 0; i < 5_000; i++) {
      const root = ids();
      writer.assign(root, undefined);
      expect(root.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(root.spanId).toMatch(/^(?!0{16})[0-9a-f]{16}$/);
      const decision = sdk.shouldSample(ROOT_CONTEXT, root.traceId).decision;
      expect(root.sampled, root.traceId).toBe(decision === SamplingDecision.RECORD_AND_SAMPLED);
      if (root.sampled) kept++;
      // a child of an SDK span context: the parent's trace, its flag, its id as the parent's words
      const child = ids();
      const parent = { traceId: root.traceId, spanId: root.spanId, traceFlags: root.sampled ? 1 : 0 };
      writer.assign(child, parent);
      expect(child.traceId).toBe(root.traceId);
      expect(child.sampled).toBe(root.sampled);
      expect(child.spanId).not.toBe(root.spanId);
      if (child.sampled)
        expect([child.t0, child.t1, child.t2, child.t3, child.p0, child.p1]).toEqual([
          root.t0,
          root.t1,
          root.t2,
          root.t3,
          root.s0,
          root.s1,
        ]);
    }
    channel.port1.close();
    expect(kept).toBeGreaterThan(1_200);
    expect(kept).toBeLessThan(1_800);
  });
});
