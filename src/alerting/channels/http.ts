import { describeError, redact, TicktraceError } from "../../errors.js";

/** An HTTP answer, read in full. */
export interface HttpAnswer {
  status: number;
  headers: Headers;
  body: string;
}

/** Who is being called, for error messages (`Telegram sendMessage`) and what to redact from them. */
export interface HttpTarget {
  what: string;
  secrets: readonly string[];
}

/**
 * POSTs JSON with Node's fetch. Resolves with any HTTP answer; rejects with `TIMEOUT` when the
 * signal aborts and `UNREACHABLE` when no answer came. Messages never contain the URL's secrets.
 */
export async function postJson(
  url: string,
  body: unknown,
  signal: AbortSignal,
  target: HttpTarget,
): Promise<HttpAnswer> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal,
    });
    return { status: response.status, headers: response.headers, body: await response.text() };
  } catch (error) {
    if (signal.aborted) throw new TicktraceError("TIMEOUT", `${target.what} was aborted (timeout)`);
    throw new TicktraceError(
      "UNREACHABLE",
      redact(
        `${target.what} could not reach the server: ${describeError(error)}${causeText(error)}`,
        target.secrets,
      ),
      { cause: error },
    );
  }
}

function causeText(error: unknown): string {
  const cause = (error as { cause?: unknown }).cause;
  return cause === undefined ? "" : ` (${describeError(cause)})`;
}

/** The error for a non-2xx answer: `RATE_LIMITED` for 429, `REJECTED` with the status otherwise. */
export function answerError(
  answer: HttpAnswer,
  target: HttpTarget,
  description: string,
  retryAfterSeconds?: number,
): TicktraceError {
  const text = redact(
    `${target.what} failed (${answer.status}: ${description.slice(0, 300)})`,
    target.secrets,
  );
  if (answer.status === 429) {
    return new TicktraceError("RATE_LIMITED", text, {
      status: 429,
      ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
    });
  }
  return new TicktraceError("REJECTED", text, { status: answer.status });
}
