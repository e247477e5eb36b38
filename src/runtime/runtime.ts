import type { Meter, Tracer } from "@opentelemetry/api";
import type { Config } from "../config/schema.js";
import type { DecisionRecorder } from "../decisions/recorder.js";
import type { HealthRegistry } from "../health/registry.js";
import type { Logger } from "../logging/logger.js";
import type { TradingEventHub } from "./event-hub.js";
import type { RuntimeAlerts, RuntimeBot, RuntimeMonitoring } from "./parts.js";
import type { TradingMetrics } from "../telemetry/metrics.js";
import type { TickTracerFactory } from "../telemetry/tick-trace/tick-tracer.js";

/**
 * Everything a ticktrace process has, wired from `config.yaml`: telemetry, the logger, health,
 * the trading event hub and the alert module behind it, monitoring, the decision recorder and the
 * Telegram bot. The preload (`--require ticktrace/tracing`) starts it; a bot reads it with
 * `getRuntime()`; a test without the preload calls `startRuntime(config)`.
 *
 * ```js
 * const tt = require("ticktrace").getRuntime();
 * tt.events.circuitBreakerTripped({ breaker: "daily_loss", reason: "loss limit", dailyPnl: -1600, limit: 1500 });
 * ```
 */
export interface Runtime {
  readonly config: Config;
  readonly logger: Logger;
  /** The component registry behind `/health`; report your own components here. */
  readonly health: HealthRegistry;
  readonly meter: Meter;
  readonly tracer: Tracer;
  /** The catalogue instruments (`ticktrace_*` on `/metrics`). */
  readonly metrics: TradingMetrics;
  /**
   * The trading event hub. Emit an event (`events.fill({...})`, `events.circuitBreakerTripped({...})`)
   * and the alert rules turn it into alerts on the configured channels. Payloads are checked; a bad
   * one is logged and repaired, never thrown back.
   */
  readonly events: TradingEventHub;
  /** The alert module (`alerts.*`): raise your own alerts, add your own channel. */
  readonly alerts: RuntimeAlerts;
  /** The monitoring service (`monitoring.*`), started on first access; undefined when `monitoring.enabled` is false. */
  readonly monitoring: RuntimeMonitoring | undefined;
  /**
   * The decision recorder (`decisions.*`), created on first access; undefined when
   * `decisions.enabled` is false. Throws a `ConfigError` naming `decisions.store` when the store's
   * optional package (better-sqlite3 or pg) is not installed.
   */
  readonly decisions: DecisionRecorder | undefined;
  /** The Telegram command bot (`bot.*`). */
  readonly bot: RuntimeBot;
  /**
   * Resolves once the health (and metrics) server listens; rejects with a `TicktraceError`
   * (`IO`) when the port cannot be bound. `startRuntime` awaits it; after the preload, await it
   * before reading {@link Runtime.healthUrl} when `health.port` is 0.
   */
  readonly ready: Promise<void>;
  /** Base URL of the health server, e.g. `http://127.0.0.1:8080`; the real port once {@link Runtime.ready} resolved. */
  readonly healthUrl: string;
  /**
   * Registers work to run at shutdown, e.g. stopping your strategy. Hooks run last registered
   * first, before the bot, the recorder, monitoring and alerts stop and telemetry is flushed.
   */
  onShutdown(fn: () => Promise<void> | void): void;
  /** Idempotent: runs shutdown hooks, stops the parts, closes servers, flushes telemetry; bounded by `telemetry.shutdown_timeout_ms`. */
  shutdown(): Promise<void>;
}

/**
 * Each runtime's tick tracer (`telemetry.tick_tracing`): kept off the public {@link Runtime}
 * because only ticktrace's own tick loop uses it (`createTrader` reads it from here).
 */
const tickTracers = new WeakMap<Runtime, TickTracerFactory>();

/** @internal Records the tick tracer `runtime` was built with (the runtime's start-up calls it). */
export function setTickTracing(runtime: Runtime, factory: TickTracerFactory | undefined): void {
  if (factory) tickTracers.set(runtime, factory);
}

/**
 * @internal Where `runtime`'s tick spans go: a worker thread's tick tracer with
 * `telemetry.tick_tracing: worker`; undefined means SDK spans from `runtime.tracer`.
 */
export function tickTracingOf(runtime: Runtime): TickTracerFactory | undefined {
  return tickTracers.get(runtime);
}
