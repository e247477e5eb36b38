import type { Config } from "../config/schema.js";
import { describeError } from "../errors.js";
import { HealthRegistry } from "../health/registry.js";
import {
  createHealthApp,
  createMetricsApp,
  startHttpServer,
  type ListeningServer,
} from "../health/server.js";
import { createLogger, type Logger } from "../logging/logger.js";
import { createTradingMetrics, type TradingMetrics } from "./metrics.js";
import { createMetricsHandler } from "./prometheus-text.js";
import type { Runtime } from "./runtime.js";
import { settleWithin, startTelemetrySdk, type TelemetrySdk } from "./sdk.js";
import type { WorkerTickTracing } from "./tick-trace/worker-exporter.js";

/** Where the preload leaves its runtime; a `Symbol.for` key so two copies of the package agree. */
const RUNTIME_KEY = Symbol.for("ticktrace.runtime");

type GlobalWithRuntime = typeof globalThis & { [RUNTIME_KEY]?: Runtime };

/** The runtime the preload (`--require ticktrace/tracing`) started, if any. */
export function getRuntime(): Runtime | undefined {
  return (globalThis as GlobalWithRuntime)[RUNTIME_KEY];
}

export interface StartRuntimeOptions {
  /** Use this logger instead of one built from `config.logging`. */
  logger?: Logger;
  /** Make the runtime what {@link getRuntime} returns (the preload does). Default false. */
  registerGlobal?: boolean;
  /** An SDK the caller already started (the preload starts it before anything loads winston). */
  sdk?: TelemetrySdk;
}

/**
 * Starts everything the preload starts and waits until the health server listens: the
 * OpenTelemetry SDK (unless `telemetry.enabled` is false), the logger, the health registry and
 * server with `/health`, `/health/live`, `/health/ready` and `/metrics`, and the catalogue
 * instruments. A process started without the preload calls this itself:
 *
 * ```ts
 * const runtime = getRuntime() ?? (await startRuntime(loadConfig().config));
 * ```
 *
 * Rejects with a `TicktraceError` (`IO`) when the health port cannot be bound; telemetry is
 * shut down again in that case.
 */
export async function startRuntime(config: Config, options: StartRuntimeOptions = {}): Promise<Runtime> {
  const runtime = createRuntime(config, options);
  try {
    await runtime.ready;
  } catch (error) {
    await runtime.shutdown();
    throw error;
  }
  return runtime;
}

/**
 * Synchronous half of {@link startRuntime}: everything is created and registered before it
 * returns, and the servers bind in the background (`runtime.ready`). The preload uses it
 * because `--require` cannot wait.
 */
export function createRuntime(config: Config, options: StartRuntimeOptions = {}): Runtime {
  const sdk = options.sdk ?? startTelemetrySdk(config);
  const logger =
    options.logger ??
    createLogger({
      level: config.logging.level,
      format: config.logging.format,
      service: config.service.name,
      otel: config.telemetry.enabled && config.telemetry.logs.enabled,
    });
  const log = logger.child({ component: "telemetry" });
  for (const warning of sdk.instrumentations.warnings) log.warn(warning);

  const health = new HealthRegistry();
  const metrics = createTradingMetrics(sdk.meter, { cardinalityLimit: config.telemetry.cardinality_limit });
  if (config.telemetry.enabled) {
    sdk.exportMonitor.attach({ health, logger, failures: metrics.telemetryExportFailures });
  }
  const stopDropCount = sdk.workerTickTracing
    ? countTickTraceDrops(sdk.workerTickTracing, metrics.tickTraceDropped)
    : () => undefined;

  // Our serializer instead of the exporter's handler: it caches each series' rendered labels.
  const metricsHandler = sdk.prometheus && createMetricsHandler(sdk.prometheus);
  const separateMetricsPort =
    config.telemetry.metrics_port !== undefined && config.telemetry.metrics_port !== config.health.port;
  const servers: ListeningServer[] = [];
  const healthServer = startHttpServer(
    createHealthApp({
      registry: health,
      ...(metricsHandler && !separateMetricsPort ? { metrics: metricsHandler } : {}),
      metricsUnavailable: !metricsHandler
        ? "metrics are disabled (telemetry.enabled / telemetry.metrics_enabled)"
        : `metrics are served on port ${String(config.telemetry.metrics_port)}`,
    }),
    config.health.host,
    config.health.port,
  );
  servers.push(healthServer);
  if (metricsHandler && separateMetricsPort) {
    servers.push(
      startHttpServer(createMetricsApp(metricsHandler), config.health.host, config.telemetry.metrics_port!),
    );
  }
  const ready = Promise.all(servers.map((server) => server.ready)).then(() => {
    log.info("ticktrace runtime started", {
      health_url: healthServer.url,
      telemetry: config.telemetry.enabled ? sdk.exportMonitor.endpoint : "disabled",
      instrumentations: sdk.instrumentations.loaded.join(","),
    });
  });
  // Observed by whoever awaits `ready`; this keeps an unobserved rejection from crashing the process.
  ready.catch(() => undefined);

  const hooks: (() => Promise<void> | void)[] = [];
  let stopping: Promise<void> | undefined;
  const timeoutMs = config.telemetry.shutdown_timeout_ms;

  const runtime: Runtime = {
    config,
    logger,
    health,
    meter: sdk.meter,
    tracer: sdk.tracer,
    tickTracing: sdk.tickTracing,
    metrics,
    ready,
    get healthUrl() {
      return healthServer.url;
    },
    onShutdown(fn) {
      hooks.push(fn);
    },
    shutdown() {
      stopping ??= (async () => {
        const deadline = Date.now() + timeoutMs;
        const runHooks = async () => {
          for (const hook of hooks.reverse()) {
            try {
              await hook();
            } catch (error) {
              log.error(`shutdown hook failed: ${describeError(error)}`);
            }
          }
        };
        // A hook that hangs must not stop the flush: hooks get the budget first, telemetry what is left.
        await settleWithin(runHooks(), timeoutMs);
        await Promise.all(servers.map((server) => server.shutdown()));
        stopDropCount();
        await sdk.shutdown(Math.max(0, deadline - Date.now()));
      })().finally(() => {
        const global = globalThis as GlobalWithRuntime;
        if (global[RUNTIME_KEY] === runtime) delete global[RUNTIME_KEY];
      });
      return stopping;
    },
  };
  if (options.registerGlobal) (globalThis as GlobalWithRuntime)[RUNTIME_KEY] = runtime;
  return runtime;
}

/** How often the worker tick tracer's drop counters are copied into the metric. */
const DROP_COUNT_INTERVAL_MS = 1_000;

/**
 * Copies the ring's drop counters (shared memory, written with Atomics) into
 * `ticktrace_tick_trace_dropped_total` once a second, off the tick path; returns the stop function.
 */
function countTickTraceDrops(
  tracing: WorkerTickTracing,
  counter: TradingMetrics["tickTraceDropped"],
): () => void {
  const seen = { tick: 0, span: 0 };
  const copy = () => {
    const ticks = tracing.droppedTicks();
    const spans = tracing.droppedSpans();
    if (ticks > seen.tick) counter.add(ticks - seen.tick, { item: "tick" });
    if (spans > seen.span) counter.add(spans - seen.span, { item: "span" });
    seen.tick = ticks;
    seen.span = spans;
  };
  const timer = setInterval(copy, DROP_COUNT_INTERVAL_MS);
  timer.unref();
  return () => {
    clearInterval(timer);
    copy();
  };
}
