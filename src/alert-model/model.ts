import { randomBytes } from "node:crypto";
import { ALERT_LEVELS, levelRank, type Alert, type AlertLevel } from "./types.js";

/**
 * The identity of a condition: the rule and its identifying labels, sorted, e.g.
 * `exchange_disconnected{exchange=sim}`. Raising twice with the same fingerprint refreshes one
 * alert instead of making a second.
 */
export function fingerprintOf(rule: string, labels: Readonly<Record<string, string>> | undefined): string {
  if (labels === undefined) return rule;
  const keys = Object.keys(labels);
  if (keys.length === 0) return rule;
  if (keys.length > 1) keys.sort();
  let out = `${rule}{`;
  let separator = "";
  for (const key of keys) {
    out += `${separator}${key}=${String(labels[key])}`;
    separator = ",";
  }
  return `${out}}`;
}

/**
 * Makes short ids that are unique across restarts: a random prefix per process and a counter,
 * `3f9a2c-1b`. Short enough to type after `/ack` and to fit Telegram's 64-byte callback data.
 */
export function createIdSource(): () => string {
  const head = `${randomBytes(3).toString("hex")}-`;
  let seq = 0;
  return () => head + (++seq).toString(36);
}

/** The higher of two levels. */
export function maxLevel(a: AlertLevel, b: AlertLevel): AlertLevel {
  return levelRank(a) >= levelRank(b) ? a : b;
}

/** Whether `level` reaches `min` (`min_level` filters). */
export function atLeast(level: AlertLevel, min: AlertLevel): boolean {
  return levelRank(level) >= levelRank(min);
}

/** Parses a level name case-insensitively; undefined for anything else. */
export function parseLevel(text: string): AlertLevel | undefined {
  const upper = text.toUpperCase();
  return (ALERT_LEVELS as readonly string[]).includes(upper) ? (upper as AlertLevel) : undefined;
}

/** Whether a value read from disk looks like an {@link Alert} (enough to deliver it). */
export function isAlertLike(value: unknown): value is Alert {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.id === "string" &&
    typeof v.fingerprint === "string" &&
    typeof v.rule === "string" &&
    typeof v.level === "string" &&
    (ALERT_LEVELS as readonly string[]).includes(v.level) &&
    typeof v.title === "string" &&
    typeof v.message === "string" &&
    typeof v.timestamp === "string"
  );
}
