import { TicktraceError } from "../../errors.js";
import type { GrafanaLinkOptions } from "../../format/trace-link.js";
import { slackPayload } from "../format.js";
import type { Alert, AlertChannel, AlertLevel, DeliveryContext } from "../../alert-model/types.js";
import { httpRequest, rejection, type HttpRequest } from "../../http/client.js";

export interface SlackChannelOptions {
  /** `alerts.slack.webhook_url` (incoming webhook); a secret, never logged. */
  webhookUrl: string;
  /** `alerts.slack.channel`: overrides the webhook's channel when set (legacy webhooks only). */
  channel?: string;
  /** `alerts.slack.min_level` (default WARNING). */
  minLevel?: AlertLevel;
  /** `alerts.slack.timeout_ms` (default 5000). */
  timeoutMs?: number;
  grafana?: GrafanaLinkOptions;
  /** Clock for `Retry-After` dates (default `Date.now`). */
  now?: () => number;
}

/**
 * Slack: an incoming-webhook POST with one attachment coloured by level (green when resolved),
 * the title (linked to the trace in Grafana when configured), the message and the fields. A 429
 * answer's `Retry-After` header is honoured by the manager.
 */
export function createSlackChannel(options: SlackChannelOptions): AlertChannel {
  if (!/^https?:\/\//.test(options.webhookUrl)) {
    throw new TicktraceError(
      "CONFIG_INVALID",
      "alerts.slack.webhook_url must be an http(s) incoming-webhook URL",
    );
  }
  // The path is the webhook's secret; the host stays in messages so an operator sees where it went.
  const secrets = [options.webhookUrl, new URL(options.webhookUrl).pathname];
  const now = options.now ?? Date.now;
  return {
    name: "slack",
    kind: "page",
    minLevel: options.minLevel ?? "WARNING",
    timeoutMs: options.timeoutMs ?? 5000,
    secrets,
    async send(alert: Alert, signal: AbortSignal, context?: DeliveryContext): Promise<void> {
      const payload = slackPayload(alert, context, {
        ...(options.channel ? { channel: options.channel } : {}),
        ...(options.grafana ? { grafana: options.grafana } : {}),
      });
      const request: HttpRequest = {
        operation: "Slack webhook",
        url: options.webhookUrl,
        json: payload,
        signal,
        secrets: secrets.slice(1),
        fix: "check alerts.slack.webhook_url and the network",
        now,
      };
      const answer = await httpRequest(request);
      if (answer.ok) return;
      throw rejection(answer, request);
    },
  };
}
