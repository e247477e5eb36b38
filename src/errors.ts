/**
 * The one error type of ticktrace. Every failure that crosses a module boundary is a
 * {@link TicktraceError} with a `code` from a fixed set, so callers branch on the code and
 * operators read a message that names the operation, the target and the fix.
 *
 * "Rejected" (the remote answered no) is kept apart from "unreachable" (no answer at all):
 * the first is usually final, the second is worth retrying.
 */
export type ErrorCode =
  | "CONFIG_INVALID"
  | "REJECTED"
  | "UNREACHABLE"
  | "TIMEOUT"
  | "RATE_LIMITED"
  | "NOT_FOUND"
  | "INVALID_STATE"
  | "INVALID_ARGUMENT"
  | "IO";

/** Options for {@link TicktraceError}. */
export interface TicktraceErrorOptions {
  cause?: unknown;
  /** Seconds the remote asked us to wait before trying again (HTTP 429 `retry-after`). */
  retryAfterSeconds?: number;
  /** HTTP status or remote error code, when the remote answered. */
  status?: number;
}

export class TicktraceError extends Error {
  override readonly name: string = "TicktraceError";
  readonly code: ErrorCode;
  readonly retryAfterSeconds: number | undefined;
  readonly status: number | undefined;

  constructor(code: ErrorCode, message: string, options: TicktraceErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.status = options.status;
  }

  /** Whether trying the same operation again later may succeed. */
  get retryable(): boolean {
    return (
      this.code === "UNREACHABLE" ||
      this.code === "TIMEOUT" ||
      this.code === "RATE_LIMITED" ||
      (this.code === "REJECTED" && this.status !== undefined && this.status >= 500)
    );
  }
}

/** Turns anything thrown into a message fit for a log line (never a stack for known errors). */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/**
 * Removes secrets from a text before it is logged or shown: Telegram bot tokens in URLs,
 * Slack webhook paths, and any value passed in `secrets`.
 */
export function redact(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = text
    .replace(/\/bot\d+:[A-Za-z0-9_-]+/g, "/bot<redacted>")
    .replace(/hooks\.slack\.com\/services\/[A-Za-z0-9/_-]+/g, "hooks.slack.com/services/<redacted>");
  for (const secret of secrets) {
    if (secret && secret.length >= 4) out = out.split(secret).join("<redacted>");
  }
  return out;
}
