/**
 * The alert model shared by the alert manager, its channels, the monitoring rules, the CLI and
 * the Telegram bot.
 */

export const ALERT_LEVELS = ["INFO", "WARNING", "ERROR", "CRITICAL"] as const;
export type AlertLevel = (typeof ALERT_LEVELS)[number];

/** Numeric rank of a level, for `min_level` comparisons. */
export function levelRank(level: AlertLevel): number {
  return ALERT_LEVELS.indexOf(level);
}

export type AlertStatus = "firing" | "resolved";

export type AlertFieldValue = string | number | boolean;

/** One alert occurrence as it is stored, delivered and shown. */
export interface Alert {
  /** Unique id of this occurrence; what `/ack <id>` and `ticktrace monitor ack <id>` take. */
  readonly id: string;
  /** Identity of the condition: the rule plus its identifying labels. Dedup and resolve key on it. */
  readonly fingerprint: string;
  /** The rule that raised it, snake_case: `circuit_breaker_tripped`. Also the Alertmanager `alertname`. */
  readonly rule: string;
  readonly level: AlertLevel;
  readonly title: string;
  readonly message: string;
  /** ISO-8601 time the condition started firing. */
  readonly timestamp: string;
  /** Identifying labels (`exchange`, `symbol`, `strategy`): part of the fingerprint. */
  readonly labels: Readonly<Record<string, string>>;
  /** Context shown with the alert, not part of its identity. */
  readonly fields: Readonly<Record<string, AlertFieldValue>>;
  /** Trace id of the tick that caused it, when there is one. */
  readonly traceId?: string;
  readonly status: AlertStatus;
  readonly acknowledged: boolean;
  /** ISO-8601 time the condition cleared, for resolved alerts. */
  readonly resolvedAt?: string;
  /** Set on summaries that stand for several collapsed alerts. */
  readonly collapsedCount?: number;
  /** Who acknowledged it (`telegram:@alice`, `cli`), when acknowledged. */
  readonly acknowledgedBy?: string;
  /** ISO-8601 time of the acknowledgement. */
  readonly acknowledgedAt?: string;
  /**
   * The run (one process of the bot) that raised it: `AlertManager.runId`. An alert restored from
   * the outbox after a restart keeps its old run id, which is how it is told from the new run's.
   */
  readonly runId?: string;
  /** Why it was resolved, when not by its producer (`not raised again within 300s after a restart`). */
  readonly resolveReason?: string;
}

/** What a caller hands to `raise`. */
export interface RaiseAlertInput {
  rule: string;
  level: AlertLevel;
  title: string;
  message: string;
  labels?: Record<string, string>;
  fields?: Record<string, AlertFieldValue>;
  /** Defaults to the active span's trace id. */
  traceId?: string;
  /**
   * An event rather than a condition (a large fill): delivered once, never kept active, never
   * resolved, not deduplicated. Default false.
   */
  transient?: boolean;
}

/**
 * Why a channel is handed an alert:
 * - `firing`: a new occurrence; `repeat`: still firing after the repeat interval;
 * - `escalated`: the level went up; `acknowledged`: an operator acknowledged it;
 * - `resolved`: the condition cleared; `summary`: several alerts collapsed by storm control;
 * - `resend`: a periodic refresh for state channels (Alertmanager) while firing.
 */
export type AlertEvent =
  | "firing"
  | "repeat"
  | "escalated"
  | "acknowledged"
  | "resolved"
  | "summary"
  | "resend";

/**
 * How a channel takes part in delivery:
 * - `page` (Slack, Telegram, your own): a human is notified. Gets `firing`, `repeat`, `escalated`,
 *   `resolved` (when `sendsResolved`) and `summary`; storm control and repeat suppression apply.
 * - `audit` (log, JSONL): a record of every state change of every alert. Gets `firing`,
 *   `escalated`, `acknowledged` and `resolved` of every alert, storms included; no summaries.
 * - `state` (Alertmanager): mirrors the set of firing alerts. Gets `firing`, `escalated`,
 *   `resolved` and a `resend` every `resendIntervalMs`; no storm control (Alertmanager groups).
 */
export type AlertChannelKind = "page" | "audit" | "state";

/** What a channel learns about one delivery besides the alert. */
export interface DeliveryContext {
  readonly event: AlertEvent;
  /** Unique per notification; stable across retries and restarts. */
  readonly notificationId: string;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** Epoch ms the notification was created (the event time). */
  readonly createdAtMs: number;
  /** For `summary`: the alerts that were collapsed (at most the first 20). */
  readonly collapsed?: readonly Alert[];
}

/**
 * A place alerts go. `send` resolves when the remote accepted the alert and rejects with a
 * `TicktraceError` otherwise (`RATE_LIMITED` with `retryAfterSeconds` when told to wait).
 * The signal aborts the attempt at the manager's per-attempt timeout. Once `send` settles, the
 * same signal may be handed to a later attempt of this channel (the queue reuses it while no
 * listener is left on it), so remove any `abort` listener you added, or pass the signal straight
 * to `fetch`, which makes the queue hand the next attempt a fresh one.
 */
export interface AlertChannel {
  /** Unique among the manager's channels; used in metrics, `/health` and the outbox. */
  readonly name: string;
  readonly minLevel: AlertLevel;
  send(alert: Alert, signal: AbortSignal, context?: DeliveryContext): Promise<void>;
  /** Whether this channel wants resolve notifications (default true). */
  readonly sendsResolved?: boolean;
  /** Default `page`; see {@link AlertChannelKind}. */
  readonly kind?: AlertChannelKind;
  /** Per-attempt timeout; the manager's default when absent. */
  readonly timeoutMs?: number;
  /** `state` channels: re-send every firing alert at this interval. */
  readonly resendIntervalMs?: number;
  /** Secrets the channel holds, so the manager can redact them from errors it logs. */
  readonly secrets?: readonly string[];
  shutdown?(): Promise<void>;
}

/** The part of the alert manager that producers and operators use. */
export interface Alerter {
  /**
   * Raises (or refreshes) an alert. Synchronous and of constant cost: delivery happens in the
   * background. Returns the alert, or undefined when alerts are disabled.
   */
  raise(input: RaiseAlertInput): Alert | undefined;
  /** Clears a firing condition; sends a resolve notification where channels want one. */
  resolve(rule: string, labels?: Record<string, string>): Alert | undefined;
  /** Acknowledges by id: the alert stops repeating. Throws NOT_FOUND for an unknown id. */
  acknowledge(id: string, by?: string): Alert;
  /** Firing alerts, acknowledged ones included, newest first. */
  active(): Alert[];
}
