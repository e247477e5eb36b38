import { TicktraceError } from "../errors.js";

/** Durations on the command line: `90s`, `15m`, `2h`, `7d`, or plain milliseconds. */
export function parseDuration(text: string, option: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m)
    throw new TicktraceError(
      "INVALID_ARGUMENT",
      `${option}: expected a duration like 30s, 15m, 2h or 7d, got "${text}"`,
    );
  const value = Number(m[1]);
  const unit = m[2] ?? "ms";
  const factors = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  // The pattern above only lets these units through.
  const factor = factors[unit as keyof typeof factors];
  return value * factor;
}

/**
 * `--since`: a duration back from now (`1h`) or an ISO-8601 time (`2026-01-10T12:00:00Z`,
 * `2026-01-10`). Returns epoch ms.
 */
export function parseSince(text: string, nowMs: number): number {
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const ms = Date.parse(text);
    if (Number.isNaN(ms))
      throw new TicktraceError("INVALID_ARGUMENT", `--since: "${text}" is not a valid ISO-8601 time`);
    return ms;
  }
  return nowMs - parseDuration(text, "--since");
}

/** A positive integer option. */
export function parsePositiveInt(text: string, option: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0)
    throw new TicktraceError("INVALID_ARGUMENT", `${option}: expected a positive integer, got "${text}"`);
  return value;
}
