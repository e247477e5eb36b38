import { redact, TicktraceError } from "../errors.js";
import { parseRetryAfter } from "../retry/retry-after.js";
import { redactUrl } from "../telemetry/redact-url.js";

/**
 * ticktrace's own outgoing HTTP calls (alert channels, the health check, the reference exchange
 * client, the Telegram bot's transport), on Node's global `fetch` (undici). One place for the
 * timeout, the JSON body and answer, and the error a failed call becomes: an {@link HttpError}
 * whose message names the operation, the target (secrets redacted) and the fix, with the status
 * and `Retry-After` exposed for the caller's retry logic. Retrying itself stays with the callers
 * (the alert outbox, the exchange client's rate limiter), which know what may be repeated.
 *
 * Being plain `fetch`, every call is an HTTP client span under the preload (the undici
 * instrumentation), parented on the active context, with `traceparent` injected.
 */

/** One call. */
export interface HttpRequest {
  /** What the call is, for messages: `Telegram sendMessage`, `simex place_order`. */
  operation: string;
  url: string;
  /** Default `POST` when {@link HttpRequest.json} is given, else `GET`. */
  method?: string;
  /** Appended to the URL's query (`undefined` values are left out). */
  query?: Readonly<Record<string, string | number | boolean | undefined>>;
  headers?: Readonly<Record<string, string>>;
  /** Sent JSON-encoded with `content-type: application/json`. */
  json?: unknown;
  /** Aborts the call (body included) after this long: a `TIMEOUT` naming the wait. */
  timeoutMs?: number;
  /** The caller's own abort (a per-attempt timeout or a shutdown). */
  signal?: AbortSignal;
  /** Values that never appear in a message (a token, a webhook path); bot tokens, Slack webhooks and signed query values are redacted anyway. */
  secrets?: readonly string[];
  /** What to do when the target cannot be reached or does not answer (default: check the URL and that the server is up). */
  fix?: string;
  /** Clock for `Retry-After` dates (default `Date.now`). */
  now?: () => number;
}

/** An HTTP answer, body read in full. */
export interface HttpAnswer {
  status: number;
  /** 2xx. */
  ok: boolean;
  headers: Headers;
  body: string;
  /** The `Retry-After` header in seconds (delay or date), when present and readable. */
  retryAfterSeconds: number | undefined;
}

/** Options for {@link HttpError}, beyond {@link TicktraceError}'s. */
export interface HttpErrorOptions {
  cause?: unknown;
  status?: number;
  retryAfterSeconds?: number;
  /** The answer's body, already redacted and clipped. */
  body?: string;
}

/**
 * A failed call: `UNREACHABLE` (no answer), `TIMEOUT` (no answer in time or aborted),
 * `REJECTED` (an answer that is not a success, or not the JSON asked for) or `RATE_LIMITED`
 * (429, with `retryAfterSeconds` when the server said).
 */
export class HttpError extends TicktraceError {
  override readonly name: string = "HttpError";
  /** The operation, as the request named it. */
  readonly operation: string;
  /** `METHOD url`, secrets redacted. */
  readonly target: string;
  /** The answer's body, redacted and clipped, when there was one. */
  readonly body: string | undefined;

  constructor(
    code: TicktraceError["code"],
    message: string,
    request: { operation: string; target: string },
    options: HttpErrorOptions = {},
  ) {
    super(code, message, {
      ...(options.cause !== undefined ? { cause: options.cause } : {}),
      ...(options.status !== undefined ? { status: options.status } : {}),
      ...(options.retryAfterSeconds !== undefined ? { retryAfterSeconds: options.retryAfterSeconds } : {}),
    });
    this.operation = request.operation;
    this.target = request.target;
    this.body = options.body;
  }
}

const DEFAULT_FIX = "check the URL and that the server is up";
/** Bodies in messages are clipped: an HTML error page is no log line. */
const MAX_DETAIL_CHARS = 300;

/** The URL with the query appended. */
export function requestUrl(request: Pick<HttpRequest, "url" | "query">): string {
  const query = request.query;
  if (!query) return request.url;
  let text = "";
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined) continue;
    text += `${text === "" ? "" : "&"}${encodeURIComponent(name)}=${encodeURIComponent(String(value))}`;
  }
  if (text === "") return request.url;
  return `${request.url}${request.url.includes("?") ? "&" : "?"}${text}`;
}

/** `METHOD url` with bot tokens, webhook paths, signed query values and `secrets` redacted. */
export function describeTarget(method: string, url: string, secrets: readonly string[] = []): string {
  return `${method} ${redactUrl(redact(url, secrets))}`;
}

/**
 * Sends one request and reads the whole answer. Resolves with any HTTP answer (the caller
 * decides what a 404 means, or uses {@link rejection}); rejects with an {@link HttpError}:
 * `TIMEOUT` when `timeoutMs` passed or `signal` aborted, `UNREACHABLE` when no answer came.
 */
export async function httpRequest(request: HttpRequest): Promise<HttpAnswer> {
  const method = request.method ?? (request.json === undefined ? "GET" : "POST");
  const url = requestUrl(request);
  const timeout = request.timeoutMs === undefined ? undefined : AbortSignal.timeout(request.timeoutMs);
  const signal =
    timeout && request.signal ? AbortSignal.any([timeout, request.signal]) : (timeout ?? request.signal);
  const headers: Record<string, string> =
    request.json === undefined
      ? { ...request.headers }
      : { "content-type": "application/json", ...request.headers };
  try {
    const response = await fetch(url, {
      method,
      headers,
      ...(request.json === undefined ? {} : { body: JSON.stringify(request.json) }),
      ...(signal ? { signal } : {}),
    });
    const body = await response.text();
    const retryAfter = response.headers.get("retry-after");
    return {
      status: response.status,
      ok: response.status >= 200 && response.status < 300,
      headers: response.headers,
      body,
      retryAfterSeconds:
        retryAfter === null ? undefined : parseRetryAfter(retryAfter, (request.now ?? Date.now)()),
    };
  } catch (error) {
    throw transportError(request, method, url, error, timeout);
  }
}

function transportError(
  request: HttpRequest,
  method: string,
  url: string,
  error: unknown,
  timeout: AbortSignal | undefined,
): HttpError {
  const secrets = request.secrets ?? [];
  const target = describeTarget(method, url, secrets);
  const fix = request.fix ?? DEFAULT_FIX;
  const where = { operation: request.operation, target };
  if (timeout?.aborted) {
    return new HttpError(
      "TIMEOUT",
      `${request.operation}: no answer from ${target} within ${String(request.timeoutMs)} ms; ${fix}`,
      where,
      { cause: error },
    );
  }
  if (request.signal?.aborted) {
    const reason: unknown = request.signal.reason;
    const why = reason instanceof Error && reason.name === "TimeoutError" ? "timeout" : "cancelled";
    return new HttpError(
      "TIMEOUT",
      `${request.operation} was aborted (${why}) before ${target} answered; ${fix}`,
      where,
      { cause: error },
    );
  }
  return new HttpError(
    "UNREACHABLE",
    redact(`${request.operation} could not reach ${target}: ${networkReason(error)}; ${fix}`, secrets),
    where,
    { cause: error },
  );
}

/** `ECONNREFUSED`, `ENOTFOUND`, ... when the socket said, else the innermost message. */
function networkReason(error: unknown): string {
  let current: unknown = error;
  let reason = "unknown network error";
  for (let depth = 0; depth < 4 && current !== undefined && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && code !== "") return code;
    if (current instanceof Error) reason = current.message;
    else if (typeof current === "string") reason = current;
    current = (current as { cause?: unknown }).cause;
  }
  return reason;
}

/** What to do about a refusal, by status, when the caller has nothing better. */
function rejectionFix(status: number, retryAfterSeconds: number | undefined): string {
  if (status === 429) {
    return retryAfterSeconds === undefined
      ? "slow down and retry later"
      : `retry after ${String(retryAfterSeconds)} s`;
  }
  if (status === 401 || status === 403) return "check the credentials (token, key, webhook)";
  if (status === 404) return "check the URL";
  if (status >= 500) return "the server failed; retry later";
  return "check the request";
}

/**
 * The error for an answer that is not a success: `RATE_LIMITED` for 429 (with the
 * `Retry-After`, or `retryAfterSeconds` when the caller read it from the body), `REJECTED`
 * with the status otherwise. `detail` is what the remote said (default: the body), clipped.
 */
export function rejection(
  answer: HttpAnswer,
  request: HttpRequest,
  detail?: string,
  retryAfterSeconds: number | undefined = answer.retryAfterSeconds,
): HttpError {
  const method = request.method ?? (request.json === undefined ? "GET" : "POST");
  const secrets = request.secrets ?? [];
  const target = describeTarget(method, requestUrl(request), secrets);
  const said = redact((detail ?? answer.body).trim().slice(0, MAX_DETAIL_CHARS), secrets);
  const body = redact(answer.body.slice(0, MAX_DETAIL_CHARS), secrets);
  const message = `${request.operation} failed (${String(answer.status)}${said === "" ? "" : `: ${said}`}) at ${target}; ${rejectionFix(answer.status, retryAfterSeconds)}`;
  const where = { operation: request.operation, target };
  return new HttpError(answer.status === 429 ? "RATE_LIMITED" : "REJECTED", message, where, {
    status: answer.status,
    body,
    ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
  });
}

/**
 * The answer's body as JSON; a body that is not JSON (a proxy's HTML error page, a wrong URL)
 * is a `REJECTED` {@link HttpError} naming the target.
 */
export function parseJsonAnswer(answer: HttpAnswer, request: HttpRequest): unknown {
  try {
    return JSON.parse(answer.body) as unknown;
  } catch (error) {
    const method = request.method ?? (request.json === undefined ? "GET" : "POST");
    const target = describeTarget(method, requestUrl(request), request.secrets ?? []);
    const start = redact(answer.body.slice(0, 60), request.secrets ?? []);
    throw new HttpError(
      "REJECTED",
      `${request.operation}: ${target} answered ${String(answer.status)} with a body that is not JSON (${JSON.stringify(start)}${answer.body.length > 60 ? "..." : ""}); check that the URL points at the right service`,
      { operation: request.operation, target },
      { status: answer.status, cause: error },
    );
  }
}

/** Options of {@link requestJson}. */
export interface JsonRequest extends HttpRequest {
  /** What the remote said in a refusal's body (default: the body text). */
  describeRefusal?: (answer: HttpAnswer) => string | undefined;
}

/**
 * {@link httpRequest}, then the 2xx answer's JSON (`T` is the caller's claim about it: validate
 * what comes from outside); a non-2xx answer rejects with {@link rejection}.
 */
export async function requestJson<T>(request: JsonRequest): Promise<T> {
  const answer = await httpRequest(request);
  if (!answer.ok) throw rejection(answer, request, request.describeRefusal?.(answer));
  return parseJsonAnswer(answer, request) as T;
}

/** Options of {@link createFetch}. */
export interface FetchOptions {
  /** The operation a URL is, for messages (grammY: `Telegram getMe` from `.../bot<token>/getMe`). */
  operation: (url: string) => string;
  secrets?: readonly string[];
  fix?: string;
  /** Aborts a call (its body included) that has not completed within this long. */
  timeoutMs?: number;
}

/** The part of a `fetch` init a library's transport passes; its signal may be a polyfill. */
export interface FetchInit {
  method?: string;
  headers?: unknown;
  body?: unknown;
  signal?: AbortSignalLike | null;
  [option: string]: unknown;
}

/** An abort signal as polyfills shape it (`abort-controller`, which grammY passes on Node). */
export interface AbortSignalLike {
  readonly aborted: boolean;
  addEventListener(type: "abort", listener: () => void): void;
  removeEventListener(type: "abort", listener: () => void): void;
}

/**
 * A `fetch` for a library that takes one (grammY's `client.fetch`): Node's global fetch, so its
 * calls are traced like ours, with the timeout and the {@link HttpError} of this module (target
 * redacted). A polyfilled abort signal is followed by a native one: undici rejects a polyfill's
 * abort with `undefined` instead of an `AbortError`. The answer is returned unread; the library
 * reads it.
 */
export function createFetch(
  options: FetchOptions,
): (input: string | URL, init?: FetchInit) => Promise<Response> {
  return async (input, init = {}) => {
    const url = typeof input === "string" ? input : input.href;
    const { signal: given, method, headers, body, ...rest } = init;
    const bridged = given ? nativeSignal(given) : undefined;
    const timeout = options.timeoutMs === undefined ? undefined : AbortSignal.timeout(options.timeoutMs);
    const signal =
      timeout && bridged ? AbortSignal.any([timeout, bridged.signal]) : (timeout ?? bridged?.signal);
    const request: HttpRequest = {
      operation: options.operation(url),
      url,
      method: method ?? "GET",
      ...(options.secrets ? { secrets: options.secrets } : {}),
      ...(options.fix !== undefined ? { fix: options.fix } : {}),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      ...(bridged ? { signal: bridged.signal } : {}),
    };
    try {
      // The library's own options (grammY's node-fetch `compress`) are passed on; fetch ignores what it does not know.
      return await fetch(url, {
        ...(rest as RequestInit),
        method: method ?? "GET",
        ...(headers !== undefined ? { headers: headers as NonNullable<RequestInit["headers"]> } : {}),
        ...(body !== undefined ? { body: body as NonNullable<RequestInit["body"]> } : {}),
        // A streamed body (grammY's multipart upload is a Readable) needs half duplex in fetch.
        ...(isStream(body) ? { duplex: "half" } : {}),
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      throw transportError(request, request.method ?? "GET", url, error, timeout);
    }
  };
}

function isStream(body: unknown): boolean {
  return typeof body === "object" && body !== null && Symbol.asyncIterator in body;
}

/** A native signal that aborts when `signal` does. */
function nativeSignal(signal: AbortSignalLike): { signal: AbortSignal } {
  if (signal instanceof AbortSignal) return { signal };
  const controller = new AbortController();
  // Kept until the abort (the answer's body is read after fetch resolved); both die with the call.
  const abort = () => {
    signal.removeEventListener("abort", abort);
    controller.abort(new DOMException("This operation was aborted", "AbortError"));
  };
  if (signal.aborted) abort();
  else signal.addEventListener("abort", abort);
  return { signal: controller.signal };
}
