import type { GrafanaLinkOptions } from "../../format/trace-link.js";
import { alertmanagerAlert } from "../format.js";
import type { Alert, AlertChannel, AlertLevel } from "../../alert-model/types.js";
import { answerError, postJson, type HttpTarget } from "./http.js";

export interface AlertmanagerChannelOptions {
  /** `alerts.alertmanager.url`, the base URL (`http://localhost:9093`). */
  url: string;
  /** `service.name`, sent as the `service` label. */
  serviceName: string;
  /** `alerts.alertmanager.min_level` (default WARNING). */
  minLevel?: AlertLevel;
  /** `alerts.alertmanager.resend_interval_ms` (default 60 000). */
  resendIntervalMs?: number;
  /** `alerts.alertmanager.timeout_ms` (default 5000). */
  timeoutMs?: number;
  grafana?: GrafanaLinkOptions;
}

/**
 * Prometheus Alertmanager: `POST <url>/api/v2/alerts` with labels {alertname, severity, service,
 * identifying labels} and annotations {summary, description, trace_id, alert_id}. A state
 * channel: firing alerts are re-sent every `resendIntervalMs` (Alertmanager expires an alert not
 * refreshed within its `resolve_timeout`), and a resolve sends `endsAt`. Several instances of a
 * bot send the same labels, so Alertmanager deduplicates, groups, silences and routes them.
 */
export function createAlertmanagerChannel(options: AlertmanagerChannelOptions): AlertChannel {
  const url = `${options.url.replace(/\/+$/, "")}/api/v2/alerts`;
  const target: HttpTarget = { what: "Alertmanager POST /api/v2/alerts", secrets: [] };
  return {
    name: "alertmanager",
    kind: "state",
    minLevel: options.minLevel ?? "WARNING",
    timeoutMs: options.timeoutMs ?? 5000,
    resendIntervalMs: options.resendIntervalMs ?? 60_000,
    async send(alert: Alert, signal: AbortSignal): Promise<void> {
      const answer = await postJson(
        url,
        [alertmanagerAlert(alert, options.serviceName, options.grafana)],
        signal,
        target,
      );
      if (answer.status >= 200 && answer.status < 300) return;
      throw answerError(answer, target, answer.body);
    },
  };
}
