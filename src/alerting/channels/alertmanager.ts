import { TicktraceError } from "../../errors.js";
import type { GrafanaLinkOptions } from "../../format/trace-link.js";
import { alertmanagerAlert } from "../format.js";
import type { Alert, AlertChannel, AlertLevel } from "../../alert-model/types.js";
import { httpRequest, rejection, type HttpRequest } from "../../http/client.js";

export interface AlertmanagerChannelOptions {
  /**
   * `alerts.alertmanager.url`: the base URL (`http://localhost:9093`), or the base URLs of every
   * instance of an Alertmanager cluster.
   */
  url: string | readonly string[];
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
 *
 * With several URLs (an Alertmanager cluster) every alert goes to all of them at once, as
 * Prometheus does: the cluster's gossip makes one notification of it. A send succeeds when at
 * least one instance accepted it (the others learn it from their peers); it fails, and is
 * retried from the outbox, only when none did.
 */
export function createAlertmanagerChannel(options: AlertmanagerChannelOptions): AlertChannel {
  const bases = typeof options.url === "string" ? [options.url] : [...options.url];
  if (bases.length === 0) {
    throw new TicktraceError(
      "CONFIG_INVALID",
      "alerts.alertmanager.url: expected an Alertmanager base URL or a non-empty list of them",
    );
  }
  const targets = bases.map((base) => `${base.replace(/\/+$/, "")}/api/v2/alerts`);
  return {
    name: "alertmanager",
    kind: "state",
    minLevel: options.minLevel ?? "WARNING",
    timeoutMs: options.timeoutMs ?? 5000,
    resendIntervalMs: options.resendIntervalMs ?? 60_000,
    async send(alert: Alert, signal: AbortSignal): Promise<void> {
      const body = [alertmanagerAlert(alert, options.serviceName, options.grafana)];
      const results = await Promise.allSettled(
        targets.map(async (url) => {
          const request: HttpRequest = {
            operation: "Alertmanager POST /api/v2/alerts",
            url,
            json: body,
            signal,
            fix: "check alerts.alertmanager.url and that Alertmanager is up",
          };
          const answer = await httpRequest(request);
          if (answer.ok) return;
          throw rejection(answer, request);
        }),
      );
      if (results.some((r) => r.status === "fulfilled")) return;
      const errors = results.map((r) => (r as PromiseRejectedResult).reason as TicktraceError);
      const [first] = errors;
      if (errors.length === 1 && first) throw first;
      // Retried when any instance may answer later (timeout, unreachable, 5xx), as one of them would.
      const lead = errors.find((e) => e instanceof TicktraceError && e.retryable) ?? first;
      throw new TicktraceError(
        lead instanceof TicktraceError ? lead.code : "UNREACHABLE",
        `every Alertmanager failed: ${errors.map((e) => e.message).join("; ")}`,
        { cause: lead, ...(lead?.status !== undefined ? { status: lead.status } : {}) },
      );
    },
  };
}
