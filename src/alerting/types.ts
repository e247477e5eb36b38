/**
 * The alert model shared by the alert manager, its channels, the monitoring rules, the CLI and
 * the Telegram bot (seed 001 section 3.1, seed 003's alert schema).
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
}

/**
 * A place alerts go. `send` resolves when the remote accepted the alert and rejects with a
 * `TicktraceError` otherwise (`RATE_LIMITED` with `retryAfterSeconds` when told to wait).
 * The signal aborts the attempt at the manager's per-attempt timeout.
 */
export interface AlertChannel {
  readonly name: string;
  readonly minLevel: AlertLevel;
  send(alert: Alert, signal: AbortSignal): Promise<void>;
  /** Whether this channel wants resolve notifications (default true). */
  readonly sendsResolved?: boolean;
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
