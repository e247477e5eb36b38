import type { Logger } from "../../logging/logger.js";
import type { Alert, AlertChannel, AlertLevel, DeliveryContext } from "../../alert-model/types.js";

export interface LogChannelOptions {
  logger: Logger;
  /** `alerts.log.min_level` (default INFO). */
  minLevel?: AlertLevel;
}

const LOG_LEVEL: Record<AlertLevel, "info" | "warn" | "error"> = {
  INFO: "info",
  WARNING: "warn",
  ERROR: "error",
  CRITICAL: "error",
};

/**
 * The log channel: always on, the fallback. One structured line per alert event with
 * `component="alert"`, so alerts can be found among the logs, e.g.
 * `{"level":"error","message":"alert firing: Circuit breaker tripped","component":"alert","event":"firing","alert_id":"3f9a2c-1","rule":"circuit_breaker_tripped","severity":"CRITICAL",...}`.
 */
export function createLogChannel(options: LogChannelOptions): AlertChannel {
  const logger = options.logger.child({ component: "alert" });
  return {
    name: "log",
    kind: "audit",
    minLevel: options.minLevel ?? "INFO",
    send(alert: Alert, _signal: AbortSignal, context?: DeliveryContext): Promise<void> {
      const event = context?.event ?? (alert.status === "resolved" ? "resolved" : "firing");
      const level = event === "resolved" || event === "acknowledged" ? "info" : LOG_LEVEL[alert.level];
      logger.log(level, `alert ${event}: ${alert.title}`, {
        component: "alert",
        event,
        alert_id: alert.id,
        rule: alert.rule,
        severity: alert.level,
        status: alert.status,
        fingerprint: alert.fingerprint,
        alert_message: alert.message,
        labels: alert.labels,
        context: alert.fields,
        acknowledged: alert.acknowledged,
        ...(alert.acknowledgedBy ? { acknowledged_by: alert.acknowledgedBy } : {}),
        ...(alert.traceId ? { trace_id: alert.traceId } : {}),
      });
      return Promise.resolve();
    },
  };
}
