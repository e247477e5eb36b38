import type { Tracer } from "@opentelemetry/api";
import type { Clock } from "../clock.js";
import type { Config } from "../config/schema.js";
import type { HealthRegistry } from "../health/registry.js";
import type { Logger } from "../logging/logger.js";
import type { TradingMetrics } from "../telemetry/metrics.js";
import { createDecisionRecorder, type DecisionRecorder } from "./recorder.js";
import { createPostgresDecisionStore } from "./stores/postgres.js";
import { createSqliteDecisionStore } from "./stores/sqlite.js";
import type { DecisionStore } from "./types.js";

/** The store `decisions.store` names. Opening is lazy: nothing connects until the first write. */
export function createDecisionStoreFromConfig(
  config: Config["decisions"],
  options: { logger?: Logger } = {},
): DecisionStore {
  if (config.store === "postgres") {
    return createPostgresDecisionStore({
      url: config.postgres_url,
      onIdleError: (error) =>
        options.logger?.warn("decision store connection lost", {
          component: "decisions",
          error: error.message,
        }),
    });
  }
  return createSqliteDecisionStore({ path: config.sqlite_path });
}

export interface DecisionRecorderDeps {
  tracer?: Tracer;
  metrics?: TradingMetrics;
  logger?: Logger;
  health?: HealthRegistry;
  clock?: Clock;
}

/**
 * The recorder as `config.yaml` describes it (`decisions.*`), started; undefined when
 * `decisions.enabled` is false. Register `recorder.shutdown` with the runtime's `onShutdown`.
 */
export function createDecisionRecorderFromConfig(
  config: Config["decisions"],
  deps: DecisionRecorderDeps = {},
): DecisionRecorder | undefined {
  if (!config.enabled) return undefined;
  const recorder = createDecisionRecorder({
    ...deps,
    store: createDecisionStoreFromConfig(config, deps.logger ? { logger: deps.logger } : {}),
    maxToolResultChars: config.max_tool_result_chars,
    retentionDays: config.retention_days,
    flushIntervalMs: config.flush_interval_ms,
    maxBufferedEvents: config.max_buffered_events,
  });
  recorder.start();
  return recorder;
}
