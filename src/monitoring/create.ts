import type { Alerter } from "../alert-model/types.js";
import type { Clock } from "../clock.js";
import type { Config } from "../config/schema.js";
import type { HealthRegistry } from "../health/registry.js";
import type { Logger } from "../logging/logger.js";
import type { TradingMetrics } from "../telemetry/metrics.js";
import { AckWatcher } from "./alert-log.js";
import { MonitoringService, type SnapshotSource } from "./service.js";

export interface MonitoringDeps {
  /** The process's alert manager. */
  alerter: Alerter;
  logger?: Logger;
  metrics?: Pick<TradingMetrics, "monitoringEvaluations" | "monitoringEvaluationDuration">;
  health?: HealthRegistry;
  clock?: Clock;
}

/** The monitoring side of a process, started. */
export interface Monitoring {
  readonly service: MonitoringService;
  /** Applies `ticktrace monitor ack` records to the alerter; undefined when the JSONL log is off. */
  readonly acks: AckWatcher | undefined;
  /** Hand this to the engine's after-tick hook (a bound function). Constant cost, never throws. */
  readonly recordTick: (snapshot: SnapshotSource) => void;
  /** Idempotent. */
  shutdown(): Promise<void>;
}

/**
 * Creates and starts monitoring from the config (`monitoring.*`, `alerts.jsonl.dir`), or returns
 * undefined when `monitoring.enabled` is false:
 *
 * ```ts
 * const monitoring = startMonitoring(config, { alerter: alerting.manager, logger, metrics, health });
 * engine.onTick((snapshot) => monitoring?.recordTick(snapshot));
 * ```
 */
export function startMonitoring(config: Config, deps: MonitoringDeps): Monitoring | undefined {
  if (!config.monitoring.enabled) return undefined;
  const jsonlDir = config.alerts.jsonl.enabled ? config.alerts.jsonl.dir : undefined;
  const service = new MonitoringService({
    alerter: deps.alerter,
    config: config.monitoring,
    ...(deps.logger ? { logger: deps.logger } : {}),
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
    ...(deps.health ? { health: deps.health } : {}),
    ...(deps.clock ? { clock: deps.clock } : {}),
  });
  const acks =
    jsonlDir === undefined
      ? undefined
      : new AckWatcher({
          dir: jsonlDir,
          alerter: deps.alerter,
          intervalMs: config.monitoring.ack_poll_interval_ms,
          ...(deps.logger ? { logger: deps.logger } : {}),
          ...(deps.clock ? { clock: deps.clock } : {}),
        });
  service.start();
  acks?.start();
  let stopping: Promise<void> | undefined;
  return {
    service,
    acks,
    recordTick: (snapshot) => service.recordTick(snapshot),
    shutdown: () =>
      (stopping ??= (async () => {
        await acks?.shutdown();
        await service.shutdown();
      })()),
  };
}
