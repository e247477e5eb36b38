import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { expect } from "vitest";
import { context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import { InMemoryMetricReader, type MetricPoint } from "../../src/testing/metrics.js";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from "@opentelemetry/sdk-trace-base";
import { CcxtInstrumentation } from "../../src/telemetry/ccxt/instrumentation.js";
import { ExchangeRecorder } from "../../src/telemetry/ccxt/recorder.js";
import { createTradingMetrics, type TradingMetrics } from "../../src/telemetry/metrics.js";
import { HealthRegistry } from "../../src/health/registry.js";

export const ROOT = join(__dirname, "..", "..");

/** One metric point as the tests read it (the public test double's type). */
export type Point = MetricPoint;

export interface Harness {
  metrics: TradingMetrics;
  points(name: string): Promise<Point[]>;
  spans(): ReadableSpan[];
  resetSpans(): void;
  events: [string, Record<string, unknown>][];
  health: HealthRegistry;
  recorder: ExchangeRecorder;
  instrumentation: CcxtInstrumentation;
  /** ccxt, required after the instrumentation is enabled (as under the preload). */
  ccxt: CcxtModule;
  stop(): Promise<void>;
}

/** The part of ccxt's module the tests use. */
export interface CcxtModule {
  binance: new (options: Record<string, unknown>) => CcxtExchange;
  pro: { binance: new (options: Record<string, unknown>) => CcxtExchange };
  version: string;
  RequestTimeout: new (...args: never[]) => Error;
}

/** The ccxt exchange methods the tests call. */
export interface CcxtExchange {
  fetchTicker(symbol: string): Promise<{ last: number }>;
  fetchOrderBook(symbol: string): Promise<{ bids: number[][] }>;
  fetchBalance(): Promise<Record<string, { free: number }>>;
  createOrder(
    symbol: string,
    type: string,
    side: string,
    amount: number,
    price?: number,
  ): Promise<{ id: string }>;
  watchTicker(symbol: string): Promise<{ last: number; timestamp: number }>;
  loadMarkets(): Promise<unknown>;
  loadHttpProxyAgent(): Promise<unknown>;
  close(): Promise<unknown>;
  options: Record<string, unknown>;
}

/**
 * The ccxt instrumentation with an in-memory span exporter and metric reader created here, and
 * the real ccxt package (`moduleName` lets a test load a second version installed under an alias).
 */
export function createHarness(options: { wsSilenceMs?: number; moduleName?: string } = {}): Harness {
  const contextManager = new AsyncLocalStorageContextManager();
  contextManager.enable();
  context.setGlobalContextManager(contextManager);
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  trace.setGlobalTracerProvider(tracerProvider);
  const reader = new InMemoryMetricReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const metrics = createTradingMetrics(meterProvider.getMeter("ccxt-test"));
  const events: [string, Record<string, unknown>][] = [];
  const health = new HealthRegistry();
  const recorder = new ExchangeRecorder({
    metrics,
    health,
    events: {
      emit: (event: string, payload: Record<string, unknown>) => events.push([event, payload]),
    },
    wsSilenceMs: options.wsSilenceMs ?? 400,
  });
  recorder.start();
  const instrumentation = new CcxtInstrumentation();
  instrumentation.setTracerProvider(tracerProvider);
  instrumentation.attach(recorder);
  const require = createRequire(join(ROOT, "package.json"));
  const moduleName = options.moduleName ?? "ccxt";
  const ccxt = require(moduleName) as CcxtModule;
  if (moduleName !== "ccxt") {
    // An alias is not named `ccxt`, so the require hook does not see it: apply the
    // instrumentation's own module patch, with the version check the hook would make.
    const definition = instrumentation.getModuleDefinitions()[0]!;
    const version = (
      JSON.parse(readFileSync(join(ROOT, "node_modules", moduleName, "package.json"), "utf8")) as {
        version: string;
      }
    ).version;
    const [major = 0, minor = 0] = version.split(".").map(Number);
    // the supported range is ">=4.4.0 <5"
    expect(definition.supportedVersions).toEqual([">=4.4.0 <5"]);
    expect(major === 4 && minor >= 4, `ccxt ${version} in ${definition.supportedVersions.join(" ")}`).toBe(
      true,
    );
    definition.patch?.(ccxt, version);
  }
  return {
    metrics,
    events,
    health,
    recorder,
    instrumentation,
    ccxt,
    spans: () => exporter.getFinishedSpans(),
    resetSpans: () => exporter.reset(),
    points: (name) => reader.points(name),
    async stop() {
      await recorder.shutdown();
      instrumentation.disable();
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
      trace.disable();
      context.disable();
    },
  };
}

/** The value of the point whose attributes include `match`, or 0. */
export function valueOf(points: Point[], match: Record<string, unknown>): number {
  const point = points.find((p) => Object.entries(match).every(([k, v]) => p.attributes[k] === v));
  return point?.value ?? 0;
}
