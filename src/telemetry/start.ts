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
import { createExchangeAlerts } from "./ccxt/alerts.js";
import { CcxtInstrumentation } from "./ccxt/instrumentation.js";
import { ExchangeRecorder } from "./ccxt/recorder.js";
import { createTradingMetrics } from "./metrics.js";
import { createMetricsHandler } from "./prometheus-text.js";
import { startRuntimeMetrics } from "./runtime-metrics.js";
import type { Runtime } from "./runtime.js";
import { settleWithin, startTelemetrySdk, type TelemetrySdk } from "./sdk.js";

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
    const alerts = createExchangeAlerts({ config, logger, health, metrics });
    const recorder = new ExchangeRecorder({
      metrics,
      health,
      events: alerts.events,
      wsSilenceMs: config.telemetry.ccxt.ws_silence_ms,
      onFirstExchange: () => alerts.start(),
    });
    recorder.start();
    ccxt.attach(recorder);
    // Registered first, so it runs last: alerts raised while the bot stops are still delivered.
    hooks.push(async () => {
      ccxt.attach(undefined);
      await recorder.shutdown();
      await alerts.shutdown();
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
