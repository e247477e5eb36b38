import type { Meter, Tracer } from "@opentelemetry/api";
import type { Config } from "../config/schema.js";
import type { HealthRegistry } from "../health/registry.js";
import type { Logger } from "../logging/logger.js";
import type { TradingMetrics } from "./metrics.js";
import type { TickTracerFactory } from "./tick-trace/tick-tracer.js";

/**
 * What the preload (`--require ticktrace/tracing`) starts and hands to the application: the
 * loaded config, the logger, the health registry behind `/health`, and the instruments. An
 * application reads it with `getRuntime()`; a process started without the preload creates one
 * with `startRuntime(config)`.
 */
export interface Runtime {
  readonly config: Config;
  readonly logger: Logger;
  readonly health: HealthRegistry;
  readonly meter: Meter;
  readonly tracer: Tracer;
  /**
   * For a tick loop's `tickTracing` option: tick spans recorded off the trading thread
   * (`telemetry.tick_tracing: worker`); undefined means SDK spans from {@link tracer}.
   */
  readonly tickTracing?: TickTracerFactory | undefined;
  readonly metrics: TradingMetrics;
  /**
   * Resolves once the health (and metrics) server listens; rejects with a `TicktraceError`
   * (`IO`) when the port cannot be bound. `startRuntime` awaits it; after the preload, await it
   * before reading {@link healthUrl} when `health.port` is 0.
   */
  readonly ready: Promise<void>;
  /** Base URL of the health server, e.g. `http://127.0.0.1:8080`; the real port once {@link ready} resolved. */
  readonly healthUrl: string;
  /** Registers work to run at shutdown (before telemetry is flushed), e.g. stopping the strategy. */
  onShutdown(fn: () => Promise<void> | void): void;
  /** Idempotent: runs shutdown hooks, flushes traces, metrics and logs, closes servers; bounded by a timeout. */
  shutdown(): Promise<void>;
}
