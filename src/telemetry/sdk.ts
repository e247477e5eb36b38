import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import {
  context,
  diag,
  DiagConsoleLogger,
  metrics,
  propagation,
  trace,
  type Meter,
  type TextMapPropagator,
  type Tracer,
} from "@opentelemetry/api";
import { logs } from "@opentelemetry/api-logs";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  CompositePropagator,
  diagLogLevelFromString,
  ExportResultCode,
  getNumberFromEnv,
  getStringFromEnv,
  getStringListFromEnv,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} from "@opentelemetry/core";
import type * as LogsJson from "@opentelemetry/exporter-logs-otlp-http";
import type * as LogsProto from "@opentelemetry/exporter-logs-otlp-proto";
import type * as MetricsJson from "@opentelemetry/exporter-metrics-otlp-http";
import type * as MetricsProto from "@opentelemetry/exporter-metrics-otlp-proto";
import type * as Prometheus from "@opentelemetry/exporter-prometheus";
import type { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import type * as TracesJson from "@opentelemetry/exporter-trace-otlp-http";
import type * as TracesProto from "@opentelemetry/exporter-trace-otlp-proto";
import { registerInstrumentations, type Instrumentation } from "@opentelemetry/instrumentation";
import {
  defaultResource,
  detectResources,
  envDetector,
  resourceFromAttributes,
  type Resource,
} from "@opentelemetry/resources";
import { BatchLogRecordProcessor, LoggerProvider, type ReadableLogRecord } from "@opentelemetry/sdk-logs";
import {
  MeterProvider,
  PeriodicExportingMetricReader,
  type IMetricReader,
  type MetricProducer,
  type ViewOptions,
} from "@opentelemetry/sdk-metrics";
import {
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type ReadableSpan,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from "@opentelemetry/semantic-conventions";
import type { Config } from "../config/schema.js";
import { CCXT_INSTRUMENTATION_NAME, CCXT_INSTRUMENTATION_VERSION } from "./ccxt/instrumentation.js";
import { whenAllRefuse } from "./collector-probe.js";
import { createExportMonitor, type ExportMonitor } from "./export-monitor.js";
import { HistogramExport } from "./histogram-export.js";
import { loadInstrumentations, type DeferredInstrumentations } from "./instrumentations.js";
import { createLazyExporter } from "./lazy-exporter.js";
import { METER_NAME } from "./metrics.js";
import type { TickTracerFactory } from "./tick-trace/tick-tracer.js";
import { createWorkerTickTracing, type WorkerTickTracing } from "./tick-trace/worker-exporter.js";

/** Resource attribute keys we set that are still "incubating" in the semantic conventions. */
export const ATTR_SERVICE_INSTANCE_ID = "service.instance.id";
export const ATTR_DEPLOYMENT_ENVIRONMENT_NAME = "deployment.environment.name";

/** Most spans / log records held while the collector is slow or down; more are dropped, never buffered without bound. */
export const MAX_EXPORT_QUEUE = 2048;

/**
 * How often the Prometheus reader is collected when OTLP metric push runs beside it, whether or
 * not `/metrics` is scraped. See {@link drainReaderPeriodically}.
 */
export const PROMETHEUS_DRAIN_INTERVAL_MS = 15_000;

/**
 * Collects `reader` every `intervalMs` and discards the result; returns the function that stops it.
 * With two readers, the metrics SDK (sdk-metrics 2.x, `TemporalMetricProcessor`) keeps every
 * collection's accumulations for each other reader until that reader collects, so a Prometheus
 * endpoint nobody scrapes grew the heap by one set of accumulations per instrument per OTLP push,
 * without bound (open-telemetry/opentelemetry-js#4115, #6444). The Prometheus reader is
 * cumulative: collecting it folds what was kept into its own running totals, so a later scrape
 * reads the same values. A failed collection (reader not yet bound, or shut down) is ignored:
 * this background loop never throws.
 */
export function drainReaderPeriodically(
  reader: { collect(): Promise<unknown> },
  intervalMs: number,
): () => void {
  const timer = setInterval(() => {
    try {
      reader.collect().catch(() => undefined);
    } catch {
      // a reader that throws synchronously is left as it is; the next tick tries again
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** What {@link startTelemetrySdk} started: the instruments' sources and the pieces `/metrics` and shutdown need. */
export interface TelemetrySdk {
  readonly meter: Meter;
  readonly tracer: Tracer;
  readonly resource: Resource;
  /** The pull reader behind `/metrics`; undefined when metrics are off. */
  readonly prometheus: PrometheusExporter | undefined;
  readonly exportMonitor: ExportMonitor;
  /**
   * Tick spans for the tick loop (`telemetry.tick_tracing`): the worker tick tracer's factory, or
   * undefined for SDK spans from {@link tracer} (also when traces are off).
   */
  readonly tickTracing: TickTracerFactory | undefined;
  /** The worker tick tracer itself (its drop counters), when `tick_tracing` is `worker`. */
  readonly workerTickTracing: WorkerTickTracing | undefined;
  /**
   * Where the catalogue's histograms are aggregated (pass it to `createTradingMetrics`): every
   * metric reader collects them through a producer of its own. Undefined when metrics are off.
   */
  readonly histograms: HistogramExport | undefined;
  /** Instrumentation names that were loaded, the one-line warnings for those that were not, and the instances. */
  readonly instrumentations: { loaded: string[]; warnings: string[]; instances: readonly Instrumentation[] };
  /**
   * Flushes and stops every provider (waiting at most `timeoutMs`), then unpatches the
   * instrumentations and releases the OpenTelemetry globals. Idempotent; never rejects.
   */
  shutdown(timeoutMs?: number): Promise<void>;
}

/**
 * The version for `service.version` when the config sets none: the application's (`npm start`
 * sets `npm_package_version`; else `./package.json`), else ticktrace's own.
 */
export function applicationVersion(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  if (env.npm_package_version) return env.npm_package_version;
  for (const dir of [cwd, join(__dirname, "..", "..")]) {
    try {
      const version = (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version?: unknown })
        .version;
      if (typeof version === "string" && version !== "") return version;
    } catch {
      // No readable package.json here: try the next place.
    }
  }
  return "0.0.0";
}

/**
 * The resource every signal carries: service name, version, instance id and environment from
 * the config, then `OTEL_RESOURCE_ATTRIBUTES` / `OTEL_SERVICE_NAME` merged over them (the
 * environment wins, as everywhere else).
 */
export function buildResource(config: Config, env: NodeJS.ProcessEnv = process.env): Resource {
  const ours = resourceFromAttributes({
    [ATTR_SERVICE_NAME]: config.service.name,
    [ATTR_SERVICE_VERSION]: config.service.version ?? applicationVersion(env),
    [ATTR_SERVICE_INSTANCE_ID]: config.service.instance_id ?? `${hostname()}-${process.pid}`,
    [ATTR_DEPLOYMENT_ENVIRONMENT_NAME]: config.service.environment,
    "host.name": hostname(),
    "process.pid": process.pid,
    "process.runtime.name": "nodejs",
    "process.runtime.version": process.versions.node,
  });
  const fromEnv = env === process.env ? detectResources({ detectors: [envDetector] }) : resourceFromEnv(env);
  return defaultResource().merge(ours).merge(fromEnv);
}

/** `OTEL_RESOURCE_ATTRIBUTES` parsed from a given environment (the detector only reads `process.env`). */
function resourceFromEnv(env: NodeJS.ProcessEnv): Resource {
  const attributes: Record<string, string> = {};
  for (const pair of (env.OTEL_RESOURCE_ATTRIBUTES ?? "").split(",")) {
    const at = pair.indexOf("=");
    if (at <= 0) continue;
    attributes[decodeURIComponent(pair.slice(0, at).trim())] = decodeURIComponent(pair.slice(at + 1).trim());
  }
  if (env.OTEL_SERVICE_NAME) attributes[ATTR_SERVICE_NAME] = env.OTEL_SERVICE_NAME;
  return resourceFromAttributes(attributes);
}

/**
 * Views: every instrument gets the cardinality cap, so a runaway label folds into one
 * `otel.metric.overflow` series instead of exhausting memory. Histogram buckets come from the
 * catalogue's advice, which a wildcard view keeps.
 */
export function metricViews(config: Config): ViewOptions[] {
  return [{ instrumentName: "*", aggregationCardinalityLimit: config.telemetry.cardinality_limit }];
}

type OtlpProtocol = Config["telemetry"]["otlp"]["protocol"];
interface OtlpExporterOptions {
  url: string;
  headers: Record<string, string>;
  timeoutMillis: number;
}

/*
 * The OTLP/HTTP exporter of each signal for each `telemetry.otlp.protocol`. Each is required only
 * when its signal is on and only for the configured protocol: together the six packages and
 * their transformers are a large share of the preload's start-up, and a process uses at most
 * three. Traces and logs create theirs on the first export (createLazyExporter); the metric push
 * reader asks its exporter for the aggregation temporality up front, so it gets its own at once.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
function createTraceExporter(protocol: OtlpProtocol, options: OtlpExporterOptions) {
  return protocol === "http/json"
    ? new (require("@opentelemetry/exporter-trace-otlp-http") as typeof TracesJson).OTLPTraceExporter(options)
    : new (require("@opentelemetry/exporter-trace-otlp-proto") as typeof TracesProto).OTLPTraceExporter(
        options,
      );
}

function createLogExporter(protocol: OtlpProtocol, options: OtlpExporterOptions) {
  return protocol === "http/json"
    ? new (require("@opentelemetry/exporter-logs-otlp-http") as typeof LogsJson).OTLPLogExporter(options)
    : new (require("@opentelemetry/exporter-logs-otlp-proto") as typeof LogsProto).OTLPLogExporter(options);
}

function createMetricExporter(protocol: OtlpProtocol, options: OtlpExporterOptions) {
  return protocol === "http/json"
    ? new (require("@opentelemetry/exporter-metrics-otlp-http") as typeof MetricsJson).OTLPMetricExporter(
        options,
      )
    : new (require("@opentelemetry/exporter-metrics-otlp-proto") as typeof MetricsProto).OTLPMetricExporter(
        options,
      );
}

function createPrometheusReader(producer: MetricProducer): PrometheusExporter {
  // The pull reader only; `/metrics` is served by the health server (see prometheus-text.ts).
  return new (require("@opentelemetry/exporter-prometheus") as typeof Prometheus).PrometheusExporter({
    preventServerStart: true,
    metricProducers: [producer],
  });
}
/* eslint-enable @typescript-eslint/no-require-imports */

function otlpUrl(config: Config, path: string): string {
  return `${config.telemetry.otlp.endpoint.replace(/\/+$/, "")}/v1/${path}`;
}

/**
 * Assembles and starts OpenTelemetry from the config: resource, allow-listed instrumentations,
 * OTLP traces (ParentBased(TraceIdRatio) sampler) and logs with bounded queues, the Prometheus
 * pull reader and optional OTLP metric push, the AsyncLocalStorage context manager and the W3C
 * propagators. The providers are put together here rather than by `@opentelemetry/sdk-node`,
 * which loads every exporter and propagator it could configure (gRPC, Zipkin, B3, Jaeger and
 * its configuration-file support) and so added most of the preload's start-up time. Registers
 * the OpenTelemetry globals; call once per process. With `telemetry.enabled: false` nothing is started and the
 * meter and tracer are the API's no-ops.
 */
export function startTelemetrySdk(config: Config): TelemetrySdk {
  const telemetry = config.telemetry;
  const exportMonitor = createExportMonitor({ endpoint: telemetry.otlp.endpoint });
  const resource = buildResource(config);
  if (!telemetry.enabled) {
    return {
      meter: metrics.getMeter(METER_NAME),
      tracer: trace.getTracer(METER_NAME),
      resource,
      prometheus: undefined,
      exportMonitor,
      tickTracing: undefined,
      workerTickTracing: undefined,
      histograms: undefined,
      instrumentations: { loaded: [], warnings: [], instances: [] },
      shutdown: () => Promise.resolve(),
    };
  }
  const protocol = telemetry.otlp.protocol;
  const exporterOptions = (signal: "traces" | "logs" | "metrics"): OtlpExporterOptions => ({
    url: otlpUrl(config, signal),
    headers: { ...telemetry.otlp.headers },
    timeoutMillis: telemetry.otlp.timeout_ms,
  });
  const batchOptions = (delayMs: number) => ({
    maxQueueSize: MAX_EXPORT_QUEUE,
    scheduledDelayMillis: delayMs,
    exportTimeoutMillis: telemetry.otlp.timeout_ms,
  });
  setDiagLoggerFromEnv();

  // Instrumentations patch on construction, before anything they instrument is loaded; those
  // for express, winston and pg are created on their module's first require (armed below).
  const { instrumentations, loaded, warnings, deferred } = loadInstrumentations(config);

  /** The OTLP endpoints something is pushed to; probed at shutdown. */
  const pushUrls: string[] = [];
  const spanProcessors: SpanProcessor[] = [];
  if (telemetry.traces.enabled) {
    pushUrls.push(otlpUrl(config, "traces"));
    const exporter = exportMonitor.wrapSpanExporter(
      createLazyExporter<ReadableSpan[]>(() => createTraceExporter(protocol, exporterOptions("traces")), {
        endpoint: otlpUrl(config, "traces"),
      }),
    );
    spanProcessors.push(new BatchSpanProcessor(exporter, batchOptions(telemetry.traces.batch_delay_ms)));
  }
  const metricReaders: IMetricReader[] = [];
  // The catalogue's histograms are aggregated by ticktrace, not by the SDK's instruments (see
  // histogram-export.ts); each reader collects them through a producer of its own.
  const histograms = new HistogramExport(METER_NAME);
  let prometheus: PrometheusExporter | undefined;
  if (telemetry.metrics_enabled) {
    const producer = histograms.producer();
    prometheus = createPrometheusReader(producer);
    producer.bind(prometheus);
    metricReaders.push(prometheus);
  }
  if (telemetry.metrics_push.enabled) {
    pushUrls.push(otlpUrl(config, "metrics"));
    const exporter = createMetricExporter(protocol, exporterOptions("metrics"));
    const producer = histograms.producer();
    const reader = new PeriodicExportingMetricReader({
      exporter: exportMonitor.wrapMetricExporter(exporter),
      exportIntervalMillis: telemetry.metrics_push.interval_ms,
      exportTimeoutMillis: Math.min(telemetry.otlp.timeout_ms, telemetry.metrics_push.interval_ms),
      metricProducers: [producer],
    });
    producer.bind(reader);
    metricReaders.push(reader);
  }

  // The context manager and propagators are registered even without traces: incoming trace
  // context and baggage still flow through to outgoing requests and log records.
  const contextManager = new AsyncLocalStorageContextManager();
  contextManager.enable();
  context.setGlobalContextManager(contextManager);
  const propagator = propagatorFromEnv();
  if (propagator) propagation.setGlobalPropagator(propagator);

  // A provider is registered only for a signal that exports somewhere; the others stay the API's no-ops.
  let tracerProvider: NodeTracerProvider | undefined;
  if (spanProcessors.length > 0) {
    tracerProvider = new NodeTracerProvider({
      resource,
      sampler: new ParentBasedSampler({
        root: new TraceIdRatioBasedSampler(telemetry.traces.sampling_ratio),
      }),
      spanProcessors,
    });
    trace.setGlobalTracerProvider(tracerProvider);
  }
  let meterProvider: MeterProvider | undefined;
  if (metricReaders.length > 0) {
    meterProvider = new MeterProvider({ resource, readers: metricReaders, views: metricViews(config) });
    metrics.setGlobalMeterProvider(meterProvider);
  }
  const stopDrain =
    prometheus && metricReaders.length > 1
      ? drainReaderPeriodically(prometheus, PROMETHEUS_DRAIN_INTERVAL_MS)
      : () => undefined;
  let loggerProvider: LoggerProvider | undefined;
  if (telemetry.logs.enabled) {
    pushUrls.push(otlpUrl(config, "logs"));
    const exporter = exportMonitor.wrapLogExporter(
      createLazyExporter<ReadableLogRecord[]>(() => createLogExporter(protocol, exporterOptions("logs")), {
        endpoint: otlpUrl(config, "logs"),
      }),
    );
    loggerProvider = new LoggerProvider({
      resource,
      logRecordLimits: logRecordLimitsFromEnv(),
      processors: [new BatchLogRecordProcessor({ exporter, ...batchOptions(telemetry.logs.batch_delay_ms) })],
    });
    logs.setGlobalLoggerProvider(loggerProvider);
  }
  // After the globals: an instrumentation takes its meter when given a provider, and the metrics
  // API has no proxy that would pick up a provider registered later.
  registerInstrumentations({
    instrumentations,
    tracerProvider: trace.getTracerProvider(),
    meterProvider: metrics.getMeterProvider(),
    loggerProvider: logs.getLoggerProvider(),
  });
  deferred.arm();

  // Tick spans off the trading thread: the worker sends them to the same endpoint, with the same
  // resource, scope and sampler as the SDK would (nothing starts until the tick loop or the
  // first ccxt call asks).
  const workerTickTracing =
    tracerProvider && telemetry.tick_tracing === "worker"
      ? createWorkerTickTracing({
          url: otlpUrl(config, "traces"),
          protocol,
          headers: { ...telemetry.otlp.headers },
          timeoutMs: telemetry.otlp.timeout_ms,
          batchDelayMs: telemetry.traces.batch_delay_ms,
          samplingRatio: telemetry.traces.sampling_ratio,
          resource: resource.attributes,
          scopeName: METER_NAME,
          onExport: ({ ok, error }) =>
            exportMonitor.record(
              "traces",
              ok
                ? { code: ExportResultCode.SUCCESS }
                : { code: ExportResultCode.FAILED, error: new Error(error) },
            ),
          fallbackTracer: trace.getTracer(METER_NAME),
          // The ccxt instrumentation's call spans go to the same worker (OTLP/protobuf only).
          calls: { scopeName: CCXT_INSTRUMENTATION_NAME, scopeVersion: CCXT_INSTRUMENTATION_VERSION },
        })
      : undefined;

  const providers = [tracerProvider, meterProvider, loggerProvider, workerTickTracing].filter(
    (provider) => provider !== undefined,
  );
  let stopped: Promise<void> | undefined;
  return {
    meter: metrics.getMeter(METER_NAME),
    tracer: trace.getTracer(METER_NAME),
    resource,
    prometheus,
    exportMonitor,
    tickTracing: workerTickTracing?.factory,
    workerTickTracing,
    histograms: metricReaders.length > 0 ? histograms : undefined,
    instrumentations: {
      loaded,
      warnings,
      // With the deferred ones created so far (their modules were required).
      get instances() {
        return [...instrumentations, ...deferred.created];
      },
    },
    shutdown(timeoutMs = telemetry.shutdown_timeout_ms) {
      stopDrain();
      // Each provider flushes what it holds, all at once, within the one budget. The budget is
      // for a collector that is slow; one that refuses connections gets nothing from waiting
      // (the exporters would retry with back-off until it ran out), so a refusal ends the wait.
      const flush = Promise.all(providers.map((provider) => provider.shutdown()));
      stopped ??= settleWithin(Promise.race([flush, whenAllRefuse(pushUrls)]), timeoutMs).then(() =>
        releaseGlobals(instrumentations, deferred),
      );
      return stopped;
    },
  };
}

/** `OTEL_LOG_LEVEL` turns on the SDK's own diagnostics on the console, as the Node SDK did. */
function setDiagLoggerFromEnv(): void {
  const level = getStringFromEnv("OTEL_LOG_LEVEL");
  if (level === undefined) return;
  // An unknown level leaves the API's default (INFO), as before.
  const logLevel = diagLogLevelFromString(level);
  diag.setLogger(new DiagConsoleLogger(), logLevel === undefined ? {} : { logLevel });
}

/**
 * The propagator named by `OTEL_PROPAGATORS` (`tracecontext`, `baggage`, `none`); by default W3C
 * trace context and baggage. `b3` and `jaeger` are not bundled: naming them logs a diagnostic
 * and they are skipped. Undefined means register none.
 */
function propagatorFromEnv(): TextMapPropagator | undefined {
  const factories: Record<string, () => TextMapPropagator> = {
    tracecontext: () => new W3CTraceContextPropagator(),
    baggage: () => new W3CBaggagePropagator(),
  };
  const names = [...new Set(getStringListFromEnv("OTEL_PROPAGATORS") ?? ["tracecontext", "baggage"])];
  if (names.includes("none")) return undefined;
  const propagators: TextMapPropagator[] = [];
  for (const name of names) {
    const factory = factories[name];
    if (factory) propagators.push(factory());
    else diag.warn(`Propagator "${name}" requested through environment variable is unavailable.`);
  }
  if (propagators.length <= 1) return propagators[0];
  return new CompositePropagator({ propagators });
}

/** `OTEL_LOGRECORD_ATTRIBUTE_*` (else `OTEL_ATTRIBUTE_*`) limits; span limits the tracer provider reads itself. */
function logRecordLimitsFromEnv(): { attributeCountLimit?: number; attributeValueLengthLimit?: number } {
  const nonNegative = (name: string) => {
    const value = getNumberFromEnv(name);
    return value !== undefined && value >= 0 ? value : undefined;
  };
  const limits: { attributeCountLimit?: number; attributeValueLengthLimit?: number } = {};
  const count =
    nonNegative("OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT") ?? nonNegative("OTEL_ATTRIBUTE_COUNT_LIMIT");
  const length =
    nonNegative("OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT") ??
    nonNegative("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT");
  if (count !== undefined) limits.attributeCountLimit = count;
  if (length !== undefined) limits.attributeValueLengthLimit = length;
  return limits;
}

/** Resolves when `work` settles or after `ms`, whichever is first; never rejects. */
export function settleWithin(work: Promise<unknown>, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    timer.unref();
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    work.then(done, done);
  });
}

/** Unpatches instrumentations and frees the API globals, so a later runtime in the same process can register its own. */
function releaseGlobals(
  instrumentations: readonly Instrumentation[],
  deferred: DeferredInstrumentations,
): void {
  for (const instrumentation of instrumentations) instrumentation.disable();
  deferred.disarm();
  trace.disable();
  metrics.disable();
  logs.disable();
  propagation.disable();
  context.disable();
}
