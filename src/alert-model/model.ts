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

const MS_PER_DAY = 86_400_000;
let cachedMs = Number.NaN;
let cachedIso = "";
let cachedSecondMs = Number.NaN;
let cachedSecondPrefix = "";
let cachedDayMs = Number.NaN;
let cachedDayPrefix = "";

/**
 * `new Date(ms).toISOString()`, several times cheaper: `raise()` stamps every alert on the
 * caller's thread, and `toISOString` alone costs about as much as the rest of the call. The text
 * up to the second is kept (bursts share it), the date part is formatted once per UTC day and the
 * time of day by arithmetic.
 */
export function isoTimestamp(epochMs: number): string {
  const ms = Math.trunc(epochMs); // as Date does
  if (ms === cachedMs) return cachedIso;
  const millis = ((ms % 1000) + 1000) % 1000;
  const secondMs = ms - millis;
  if (secondMs !== cachedSecondMs) {
    cachedSecondPrefix = secondPrefix(secondMs);
    cachedSecondMs = secondMs;
  }
  cachedMs = ms;
  cachedIso = `${cachedSecondPrefix}${millis < 10 ? "00" : millis < 100 ? "0" : ""}${millis}Z`;
  return cachedIso;
}

/** `2026-11-23T11:10:53.` for a whole second. */
function secondPrefix(secondMs: number): string {
  const dayMs = Math.floor(secondMs / MS_PER_DAY) * MS_PER_DAY;
  if (dayMs !== cachedDayMs) {
    const iso = new Date(dayMs).toISOString();
    cachedDayPrefix = iso.slice(0, iso.indexOf("T") + 1);
    cachedDayMs = dayMs;
  }
  let rest = (secondMs - dayMs) / 1000;
  const seconds = rest % 60;
  rest = (rest - seconds) / 60;
  const minutes = rest % 60;
  const hours = (rest - minutes) / 60;
  return `${cachedDayPrefix}${pad2(hours)}:${pad2(minutes)}:${pad2(seconds)}.`;
}

function pad2(value: number): string {
  return value < 10 ? `0${value}` : `${value}`;
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
