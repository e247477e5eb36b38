/**
 * Message formatting for the channels: pure functions from an alert to what a remote API takes.
 * No I/O here, so every format is tested by comparing text.
 */
import { alertnameFor } from "../alert-model/rules.js";
import type { Alert, AlertEvent, AlertLevel, DeliveryContext } from "../alert-model/types.js";
import { escapeHtml } from "../format/telegram-html.js";
import { traceLink, type GrafanaLinkOptions } from "../format/trace-link.js";

const LEVEL_EMOJI: Record<AlertLevel, string> = { INFO: "ℹ️", WARNING: "⚠️", ERROR: "🔴", CRITICAL: "🚨" };

function eventOf(alert: Alert, context: DeliveryContext | undefined): AlertEvent {
  return context?.event ?? (alert.status === "resolved" ? "resolved" : "firing");
}

/** Text of a field value. */
function valueText(value: string | number | boolean): string {
  return typeof value === "number" && !Number.isInteger(value)
    ? String(Math.round(value * 1e6) / 1e6)
    : String(value);
}

/** The headline of an alert for any channel: `CRITICAL Circuit breaker tripped` and friends. */
export function headline(alert: Alert, event: AlertEvent): string {
  switch (event) {
    case "resolved":
      return `RESOLVED ${alert.title}`;
    case "escalated":
      return `${alert.level} (escalated) ${alert.title}`;
    case "repeat":
      return `${alert.level} (still firing) ${alert.title}`;
    case "acknowledged":
      return `ACKNOWLEDGED ${alert.title}`;
    case "summary":
      return alert.title;
    default:
      return `${alert.level} ${alert.title}`;
  }
}

/**
 * One Telegram message in HTML parse mode, as blocks that are each well-formed on their own
 * (so the text can be split between blocks).
 */
export function telegramBlocks(
  alert: Alert,
  context: DeliveryContext | undefined,
  grafana?: GrafanaLinkOptions,
): string[] {
  const event = eventOf(alert, context);
  const emoji = event === "resolved" ? "✅" : event === "summary" ? "🌩" : LEVEL_EMOJI[alert.level];
  const blocks: string[] = [`${emoji} <b>${escapeHtml(headline(alert, event))}</b>`];
  if (alert.message !== "") blocks.push(escapeHtml(alert.message));
  const fields = { ...alert.labels, ...alert.fields };
  const entries = Object.entries(fields);
  if (entries.length > 0) {
    blocks.push(
      entries.map(([key, value]) => `<b>${escapeHtml(key)}</b>: ${escapeHtml(valueText(value))}`).join("\n"),
    );
  }
  const meta = [`rule <code>${escapeHtml(alert.rule)}</code>`, `id <code>${escapeHtml(alert.id)}</code>`];
  if (event === "resolved" && alert.resolvedAt) meta.push(`resolved ${escapeHtml(alert.resolvedAt)}`);
  else meta.push(`since ${escapeHtml(alert.timestamp)}`);
  blocks.push(meta.join(" · "));
  const link = traceLink(grafana, alert.traceId);
  if (link) blocks.push(`<a href="${escapeHtml(link)}">Open trace in Grafana</a>`);
  return blocks;
}

/** Slack cuts a message's and an attachment's `text` beyond this many characters. */
export const SLACK_MAX_TEXT_CHARS = 40_000;

/**
 * `text` within `max` characters: cut (never inside a surrogate pair) with a note saying how long
 * it was, so a reader knows it was cut by us rather than by Slack without a word.
 */
function clipText(text: string, max: number): string {
  if (text.length <= max) return text;
  const note = `… (${text.length} characters, cut)`;
  let end = max - note.length;
  const before = text.charCodeAt(end - 1);
  if (before >= 0xd800 && before <= 0xdbff) end -= 1;
  return text.slice(0, end) + note;
}

const SLACK_COLOURS: Record<AlertLevel, string> = {
  INFO: "#439FE0",
  WARNING: "#DAA038",
  ERROR: "#D00000",
  CRITICAL: "#7B0000",
};

/** Colour of a Slack attachment: by level, green when resolved. */
export function slackColour(alert: Alert, event: AlertEvent): string {
  return event === "resolved" ? "#2EB886" : SLACK_COLOURS[alert.level];
}

/** The incoming-webhook payload for one alert (legacy attachments: colour bar, title, fields). */
export function slackPayload(
  alert: Alert,
  context: DeliveryContext | undefined,
  options: { channel?: string; grafana?: GrafanaLinkOptions } = {},
): Record<string, unknown> {
  const event = eventOf(alert, context);
  const title = headline(alert, event);
  const fields = Object.entries({ ...alert.labels, ...alert.fields }).map(([key, value]) => ({
    title: key,
    value: valueText(value),
    short: true,
  }));
  const link = traceLink(options.grafana, alert.traceId);
  return {
    ...(options.channel ? { channel: options.channel } : {}),
    text: clipText(
      `[${event === "resolved" ? "RESOLVED" : alert.level}] ${alert.title}`,
      SLACK_MAX_TEXT_CHARS,
    ),
    attachments: [
      {
        color: slackColour(alert, event),
        title,
        ...(link ? { title_link: link } : {}),
        text: clipText(alert.message, SLACK_MAX_TEXT_CHARS),
        fields,
        footer: `ticktrace · ${alert.rule} · id ${alert.id}${alert.traceId ? ` · trace ${alert.traceId}` : ""}`,
        ts: Math.floor(Date.parse(alert.timestamp) / 1000),
      },
    ],
  };
}

/** A Prometheus label name: `[a-zA-Z_][a-zA-Z0-9_]*`. */
function labelName(key: string): string {
  const cleaned = key.replace(/[^a-zA-Z0-9_]/g, "_");
  return /^[a-zA-Z_]/.test(cleaned) ? cleaned : `_${cleaned}`;
}

/** One alert in Alertmanager's `POST /api/v2/alerts` body (`postableAlert`). */
export interface PostableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt?: string;
  generatorURL?: string;
}

/**
 * The Alertmanager form of an alert: labels {alertname, severity, service, ...identifying labels},
 * annotations {summary, description, trace_id}; `endsAt` once resolved.
 */
export function alertmanagerAlert(
  alert: Alert,
  serviceName: string,
  grafana?: GrafanaLinkOptions,
): PostableAlert {
  const labels: Record<string, string> = {};
  for (const [key, value] of Object.entries(alert.labels)) labels[labelName(key)] = value;
  Object.assign(labels, {
    alertname: alertnameFor(alert.rule),
    severity: alert.level.toLowerCase(),
    service: serviceName,
  });
  const annotations: Record<string, string> = {
    summary: alert.title,
    description: alert.message,
    alert_id: alert.id,
  };
  if (alert.traceId) annotations.trace_id = alert.traceId;
  const link = traceLink(grafana, alert.traceId);
  return {
    labels,
    annotations,
    startsAt: alert.timestamp,
    ...(alert.status === "resolved" && alert.resolvedAt ? { endsAt: alert.resolvedAt } : {}),
    ...(link ? { generatorURL: link } : {}),
  };
}
