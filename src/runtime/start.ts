import type { AlertChannel } from "../alert-model/types.js";
import type { Config } from "../config/schema.js";
import { describeError, TicktraceError } from "../errors.js";
import { HealthRegistry } from "../health/registry.js";
import {
  createHealthApp,
  createMetricsApp,
  startHttpServer,
  type ListeningServer,
} from "../health/server.js";
import { createLazyLogger, loggerModule } from "../logging/lazy-logger.js";
import type { Logger } from "../logging/logger.js";
import { createRuntimeParts, type PartsModules } from "./parts.js";
import { startKnownSeriesAtZero } from "../telemetry/known-series.js";
import { CcxtInstrumentation } from "../telemetry/ccxt/instrumentation.js";
import { ExchangeRecorder } from "../telemetry/ccxt/recorder.js";
import { createTradingMetrics, type TradingMetrics } from "../telemetry/metrics.js";
import { createMetricsHandler } from "../telemetry/prometheus-text.js";
import { startRuntimeMetrics } from "../telemetry/runtime-metrics.js";
import { setTickTracing, type Runtime } from "./runtime.js";
import { settleWithin, startTelemetrySdk, type TelemetrySdk } from "../telemetry/sdk.js";
import type { WorkerTickTracing } from "../telemetry/tick-trace/worker-exporter.js";

/** Where the preload leaves its runtime; a `Symbol.for` key so two copies of the package agree. */
const RUNTIME_KEY = Symbol.for("ticktrace.runtime");

type GlobalWithRuntime = typeof globalThis & { [RUNTIME_KEY]?: Runtime };

/** @internal The running runtime, or undefined (the demo asks before starting its own). */
export function currentRuntime(): Runtime | undefined {
  return (globalThis as GlobalWithRuntime)[RUNTIME_KEY];
}

/**
 * The runtime of this process: the one the preload (`node --require ticktrace/tracing bot.js`)
 * started, or the one {@link startRuntime} started.
 *
 * ```js
 * const tt = require("ticktrace").getRuntime();
 * tt.events.circuitBreakerTripped({ breaker: "daily_loss", reason: "loss limit", dailyPnl: -1600, limit: 1500 });
 * ```
 *
 * Throws a `TicktraceError` (`INVALID_STATE`) when no runtime is running.
 */
export function getRuntime(): Runtime {
  const runtime = currentRuntime();
  if (!runtime) {
    throw new TicktraceError(
      "INVALID_STATE",
      "getRuntime: no ticktrace runtime is running; start the process with `node --require ticktrace/tracing your-bot.js` (or `--import`), or call `await startRuntime(config)` first",
    );
  }
  return runtime;
}

/** Options of {@link startRuntime}. */
export interface StartRuntimeOptions {
  /** Use this logger instead of one built from `config.logging`. */
  logger?: Logger;
  /**
   * Make the runtime what {@link getRuntime} returns until it shuts down. Default true; a second
   * runtime in the same process needs `false`.
   */
  registerGlobal?: boolean;
  /** Alert channels of your own, added to the ones `config.alerts` enables. */
  channels?: readonly AlertChannel[];
}

/** What the preload and the tests pass besides the public options. */
export interface InternalRuntimeOptions extends StartRuntimeOptions {
  /** An SDK the caller already started (the preload starts it before anything loads winston). */
  sdk?: TelemetrySdk;
  /** Modules for the lazily loaded parts (tests running the sources pass them). */
  modules?: PartsModules;
}

/**
 * Starts everything the preload starts and waits until the health server listens: the
 * OpenTelemetry SDK (unless `telemetry.enabled` is false), the logger, the health registry and
 * server with `/health`, `/health/live`, `/health/ready` and `/metrics`, the catalogue
 * instruments, the event hub and, as they are first used, alerts, monitoring, decisions and the
 * bot. A test (or a process started without the preload) calls this itself:
 *
 * ```ts
 * const tt = await startRuntime(parseConfig({ health: { port: 0 } }));
 * ```
 *
 * Rejects with a `TicktraceError` (`IO`) when the health port cannot be bound; telemetry is
 * shut down again in that case, and with `INVALID_STATE` when a runtime is already registered.
 */
export async function startRuntime(config: Config, options: StartRuntimeOptions = {}): Promise<Runtime> {
  return startRuntimeWith(config, options);
}

/** {@link startRuntime} with the internal options. */
export async function startRuntimeWith(
  config: Config,
  options: InternalRuntimeOptions = {},
): Promise<Runtime> {
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
export function createRuntime(config: Config, options: InternalRuntimeOptions = {}): Runtime {
  const registerGlobal = options.registerGlobal ?? true;
  if (registerGlobal && currentRuntime()) {
    throw new TicktraceError(
      "INVALID_STATE",
      "startRuntime: a ticktrace runtime is already running in this process (the preload starts one); use getRuntime(), or pass registerGlobal: false for a second one",
    );
  }
  const sdk = options.sdk ?? startTelemetrySdk(config);
  // Built on first use: winston loads after the bot's first line, once something logs.
  const logger =
    options.logger ??
    createLazyLogger(() =>
      loggerModule().createLogger({
        level: config.logging.level,
        format: config.logging.format,
        service: config.service.name,
        otel: config.telemetry.enabled && config.telemetry.logs.enabled,
      }),
    );
  const log = logger.child({ component: "telemetry" });
  for (const warning of sdk.instrumentations.warnings) log.warn(warning);

  const health = new HealthRegistry();
  const metrics = createTradingMetrics(sdk.meter, {
    cardinalityLimit: config.telemetry.cardinality_limit,
    ...(sdk.histograms ? { histograms: sdk.histograms } : {}),
  });
  if (config.telemetry.enabled) {
    const pushed = [
      config.telemetry.traces.enabled && "traces",
      config.telemetry.metrics_push.enabled && "metrics",
      config.telemetry.logs.enabled && "logs",
    ].filter((signal) => signal !== false);
    startKnownSeriesAtZero(metrics, { signals: pushed });
    sdk.exportMonitor.attach({ health, logger, failures: metrics.telemetryExportFailures });
  }
  const stopDropCount = sdk.workerTickTracing
    ? countTickTraceDrops(sdk.workerTickTracing, metrics.tickTraceDropped)
    : () => undefined;

  // Our serializer instead of the exporter's handler: it caches each series' rendered labels.
  const metricsHandler = sdk.prometheus && createMetricsHandler(sdk.prometheus);
  const metricsPort = config.telemetry.metrics_port;
  const separateMetricsPort = metricsPort !== undefined && metricsPort !== config.health.port;
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
    servers.push(startHttpServer(createMetricsApp(metricsHandler), config.health.host, metricsPort));
  }
  const parts = createRuntimeParts({
    config,
    logger,
    health,
    metrics,
    tracer: sdk.tracer,
    ...(options.channels ? { channels: options.channels } : {}),
    ...(options.modules ? { modules: options.modules } : {}),
  });
  // Once the servers listen, never on the start-up path: the alert module (outbox lock, what a
  // previous run left pending) and the bot. A held outbox lock rejects `ready`.
  const ready = Promise.all(servers.map((server) => server.ready)).then(() => {
    log.info("ticktrace runtime started", {
      health_url: healthServer.url,
      telemetry: config.telemetry.enabled ? sdk.exportMonitor.endpoint : "disabled",
      instrumentations: sdk.instrumentations.loaded.join(","),
    });
    parts.start();
  });
  // Observed by whoever awaits `ready`; this keeps an unobserved rejection from crashing the process.
  ready.catch(() => undefined);

  const hooks: (() => Promise<void> | void)[] = [];

  if (config.telemetry.enabled && config.telemetry.runtime_metrics.enabled) {
    const runtimeMetrics = startRuntimeMetrics({
      meter: sdk.meter,
      eventLoopResolutionMs: config.telemetry.runtime_metrics.event_loop_resolution_ms,
    });
    hooks.push(() => runtimeMetrics.shutdown());
  }

  // ccxt: exchange metrics, `/health` (exchange.<id>) and alerts, from config alone.
  const ccxt = sdk.instrumentations.instances.find(
    (instrumentation): instrumentation is CcxtInstrumentation =>
      instrumentation instanceof CcxtInstrumentation,
  );
  if (ccxt) {
    // The recorder emits into the runtime's event hub, so ccxt disconnects and rate-limit hits
    // reach the alert hooks and channels that config.yaml sets up, with no code in the bot.
    const recorder = new ExchangeRecorder({
      metrics,
      health,
      events: parts.events,
      wsSilenceMs: config.telemetry.ccxt.ws_silence_ms,
    });
    recorder.start();
    ccxt.attach(recorder);
    // Call spans off the main thread, through the tick-trace exporter worker, when it runs
    // (`tick_tracing: worker` and OTLP/protobuf); else the instrumentation's SDK spans.
    const workerTracing = sdk.workerTickTracing;
    if (workerTracing) ccxt.attachSpanSink(() => workerTracing.spanWriter());
    hooks.push(async () => {
      ccxt.attach(undefined);
      ccxt.attachSpanSink(undefined);
      await recorder.shutdown();
    });
  }

  let stopping: Promise<void> | undefined;
  const timeoutMs = config.telemetry.shutdown_timeout_ms;

  const runtime: Runtime = {
    config,
    logger,
    health,
    meter: sdk.meter,
    tracer: sdk.tracer,
    metrics,
    events: parts.events,
    alerts: parts.alerts,
    get monitoring() {
      return parts.monitoring;
    },
    get decisions() {
      return parts.decisions;
    },
    bot: parts.bot,
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
          // After the application's hooks (its strategy stopped), so its last alerts and decisions go out.
          await parts.shutdown();
        };
        // A hook that hangs must not stop the flush: hooks get the budget first, telemetry what is left.
        await settleWithin(runHooks(), timeoutMs);
        await Promise.all(servers.map((server) => server.shutdown()));
        stopDropCount();
        await sdk.shutdown(Math.max(0, deadline - Date.now()));
      })().finally(() => {
        const global = globalThis as GlobalWithRuntime;
        if (global[RUNTIME_KEY] === runtime) Reflect.deleteProperty(global, RUNTIME_KEY);
      });
      return stopping;
    },
  };
  setTickTracing(runtime, sdk.tickTracing);
  if (registerGlobal) (globalThis as GlobalWithRuntime)[RUNTIME_KEY] = runtime;
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
