/**
 * Seconds to wait from an HTTP `Retry-After` value: delay-seconds or an HTTP date (RFC 9110
 * section 10.2.3). Undefined when absent or unreadable; never negative.
 */
export function parseRetryAfter(value: unknown, nowMs: number = Date.now()): number | undefined {
  const text = typeof value === "string" ? value.trim() : typeof value === "number" ? String(value) : "";
  if (text === "") return undefined;
  const seconds = Number(text);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - nowMs) / 1000);
}
