import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { context, metrics, propagation, trace, type Meter, type Tracer } from "@opentelemetry/api";
import { logs } from "@opentelemetry/api-logs";
import { OTLPLogExporter as OTLPJsonLogExporter } from "@opentelemetry/exporter-logs-otlp-http";
import { OTLPLogExporter as OTLPProtoLogExporter } from "@opentelemetry/exporter-logs-otlp-proto";
import { OTLPMetricExporter as OTLPJsonMetricExporter } from "@opentelemetry/exporter-metrics-otlp-http";
import { OTLPMetricExporter as OTLPProtoMetricExporter } from "@opentelemetry/exporter-metrics-otlp-proto";
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { OTLPTraceExporter as OTLPJsonTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as OTLPProtoTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import type { Instrumentation } from "@opentelemetry/instrumentation";
import {
  defaultResource,
  detectResources,
  envDetector,
  resourceFromAttributes,
  type Resource,
} from "@opentelemetry/resources";
import { BatchLogRecordProcessor, type LogRecordProcessor } from "@opentelemetry/sdk-logs";
import {
  PeriodicExportingMetricReader,
  type IMetricReader,
  type ViewOptions,
} from "@opentelemetry/sdk-metrics";
import { NodeSDK } from "@opentelemetry/sdk-node";
import {
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from "@opentelemetry/semantic-conventions";
import type { Config } from "../config/schema.js";
import { createExportMonitor, type ExportMonitor } from "./export-monitor.js";
import { loadInstrumentations } from "./instrumentations.js";
import { METER_NAME } from "./metrics.js";

/** Resource attribute keys we set that are still "incubating" in the semantic conventions. */
export const ATTR_SERVICE_INSTANCE_ID = "service.instance.id";
export const ATTR_DEPLOYMENT_ENVIRONMENT_NAME = "deployment.environment.name";

/** Most spans / log records held while the collector is slow or down; more are dropped, never buffered without bound. */
export const MAX_EXPORT_QUEUE = 2048;

/** What {@link startTelemetrySdk} started: the instruments' sources and the pieces `/metrics` and shutdown need. */
export interface TelemetrySdk {
  readonly meter: Meter;
  readonly tracer: Tracer;
  readonly resource: Resource;
  /** The pull reader behind `/metrics`; undefined when metrics are off. */
  readonly prometheus: PrometheusExporter | undefined;
  readonly exportMonitor: ExportMonitor;
  /** Instrumentation names that were loaded, and the one-line warnings for those that were not. */
  readonly instrumentations: { loaded: string[]; warnings: string[] };
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

/** The OTLP/HTTP exporters for each `telemetry.otlp.protocol`. */
const OTLP_EXPORTERS = {
  "http/json": { traces: OTLPJsonTraceExporter, logs: OTLPJsonLogExporter, metrics: OTLPJsonMetricExporter },
  "http/protobuf": {
    traces: OTLPProtoTraceExporter,
    logs: OTLPProtoLogExporter,
    metrics: OTLPProtoMetricExporter,
  },
} as const;

function otlpUrl(config: Config, path: string): string {
  return `${config.telemetry.otlp.endpoint.replace(/\/+$/, "")}/v1/${path}`;
}

/**
 * Assembles and starts the OpenTelemetry Node SDK from the config: resource, allow-listed
 * instrumentations, OTLP traces (ParentBased(TraceIdRatio) sampler) and logs with bounded
 * queues, the Prometheus pull reader and optional OTLP metric push. Registers the OpenTelemetry
 * globals; call once per process. With `telemetry.enabled: false` nothing is started and the
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
      instrumentations: { loaded: [], warnings: [] },
      shutdown: () => Promise.resolve(),
    };
  }
  const otlp = OTLP_EXPORTERS[telemetry.otlp.protocol];
  const exporterOptions = (signal: "traces" | "logs" | "metrics") => ({
    url: otlpUrl(config, signal),
    headers: { ...telemetry.otlp.headers },
    timeoutMillis: telemetry.otlp.timeout_ms,
  });
  const batchOptions = (delayMs: number) => ({
    maxQueueSize: MAX_EXPORT_QUEUE,
    scheduledDelayMillis: delayMs,
    exportTimeoutMillis: telemetry.otlp.timeout_ms,
  });

  const spanProcessors: SpanProcessor[] = [];
  if (telemetry.traces.enabled) {
    const exporter = exportMonitor.wrapSpanExporter(new otlp.traces(exporterOptions("traces")));
    spanProcessors.push(new BatchSpanProcessor(exporter, batchOptions(telemetry.traces.batch_delay_ms)));
  }
  const logRecordProcessors: LogRecordProcessor[] = [];
  if (telemetry.logs.enabled) {
    const exporter = exportMonitor.wrapLogExporter(new otlp.logs(exporterOptions("logs")));
    logRecordProcessors.push(
      new BatchLogRecordProcessor({ exporter, ...batchOptions(telemetry.logs.batch_delay_ms) }),
    );
  }

  const metricReaders: IMetricReader[] = [];
  let prometheus: PrometheusExporter | undefined;
  if (telemetry.metrics_enabled) {
    prometheus = new PrometheusExporter({ preventServerStart: true });
    metricReaders.push(prometheus);
  }
  if (telemetry.metrics_push.enabled) {
    metricReaders.push(
      new PeriodicExportingMetricReader({
        exporter: exportMonitor.wrapMetricExporter(new otlp.metrics(exporterOptions("metrics"))),
        exportIntervalMillis: telemetry.metrics_push.interval_ms,
        exportTimeoutMillis: Math.min(telemetry.otlp.timeout_ms, telemetry.metrics_push.interval_ms),
      }),
    );
  }

  const { instrumentations, loaded, warnings } = loadInstrumentations(config);
  const sdk = new NodeSDK({
    resource,
    autoDetectResources: false,
    instrumentations,
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(telemetry.traces.sampling_ratio) }),
    spanProcessors,
    logRecordProcessors,
    metricReaders,
    views: metricViews(config),
  });
  sdk.start();

  let stopped: Promise<void> | undefined;
  return {
    meter: metrics.getMeter(METER_NAME),
    tracer: trace.getTracer(METER_NAME),
    resource,
    prometheus,
    exportMonitor,
    instrumentations: { loaded, warnings },
    shutdown(timeoutMs = telemetry.shutdown_timeout_ms) {
      stopped ??= settleWithin(sdk.shutdown(), timeoutMs).then(() => releaseGlobals(instrumentations));
      return stopped;
    },
  };
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
function releaseGlobals(instrumentations: readonly Instrumentation[]): void {
  for (const instrumentation of instrumentations) instrumentation.disable();
  trace.disable();
  metrics.disable();
  logs.disable();
  propagation.disable();
  context.disable();
}
