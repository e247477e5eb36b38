import {
  context,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from "@opentelemetry/api";
import { redactUrl, redactUrlsInText } from "../redact-url.js";
import type { ExchangeRecorder, WsClientLike } from "./recorder.js";
import { errorType } from "./recorder.js";

/**
 * The state of each unified call and of each HTTP attempt made outside one, by its span. The
 * patches find the call they run in from the active span, so entering a call costs one context
 * (the span's) rather than a context per value. Spans are objects even when tracing is off (the
 * API's non-recording spans), so this holds without a tracer provider too.
 */
const callOfSpan = new WeakMap<Span, CallState>();
const attemptOfSpan = new WeakMap<Span, AttemptState>();

function activeCall(ctx: Context = context.active()): CallState | undefined {
  const span = trace.getSpan(ctx);
  return span === undefined ? undefined : callOfSpan.get(span);
}

/**
 * Whether the active context is inside a ccxt unified call or a ccxt HTTP attempt. Every
 * request ccxt sends inside a unified call is one of its attempts, which has its own span (with
 * a redacted URL): the http and undici instrumentations skip requests made there, so each
 * attempt has exactly one span instead of two. An attempt inside a call enters no context of
 * its own (a context per attempt cost a microsecond or two of every call); one ccxt sends
 * outside any call (an implicit API method such as `publicGetTicker24hr`) does.
 */
export function insideCcxtAttempt(): boolean {
  const span = trace.getSpan(context.active());
  return span !== undefined && (callOfSpan.has(span) || attemptOfSpan.has(span));
}

/** What the patches need: a tracer, and the recorder once the runtime attached one. */
export interface PatchTarget {
  readonly tracer: Tracer;
  readonly recorder: ExchangeRecorder | undefined;
}

type AnyFunction = (this: ExchangeInstance, ...args: unknown[]) => unknown;

interface ExchangeInstance {
  id?: unknown;
  has?: Record<string, unknown>;
  [key: string]: unknown;
}

interface CallState {
  readonly exchange: string;
  readonly operation: string;
  waitedSeconds: number;
  attempts: number;
  /** Method and path of the first attempt; a later attempt to the same one is a resend (ccxt's retry). */
  firstRequest: string | undefined;
  /** Sends per method and path, once a call has sent more than one request. */
  sends: Map<string, number> | undefined;
  /** The call's attempts awaiting their response, oldest first (ccxt may send several at once). */
  inFlight: AttemptState[];
}

/** The resend count of an attempt to `request` within `call` (0 for the first send). */
function resendCount(call: CallState, request: string): number {
  if (call.firstRequest === undefined) {
    call.firstRequest = request;
    return 0;
  }
  call.sends ??= new Map([[call.firstRequest, 1]]);
  const sends = (call.sends.get(request) ?? 0) + 1;
  call.sends.set(request, sends);
  return sends - 1;
}

interface AttemptState {
  /** The URL as ccxt's `fetch` got it, to tell concurrent attempts of one call apart. */
  readonly url: string;
  status: number | undefined;
  retryAfter: unknown;
}

/** The in-flight attempt of `call` that `handleRestResponse(response, url)` answers. */
function attemptFor(call: CallState, url: unknown): AttemptState | undefined {
  const inFlight = call.inFlight;
  if (inFlight.length === 1) return inFlight[0];
  // several at once (binance's loadMarkets fetches spot and futures markets together)
  for (const attempt of inFlight) if (attempt.url === url && attempt.status === undefined) return attempt;
  return inFlight.find((attempt) => attempt.status === undefined);
}

const ORIGINAL = Symbol.for("ticktrace.ccxt.original");
const PATCHED_CLASS = Symbol.for("ticktrace.ccxt.patchedClass");
const WS_STATE = Symbol.for("ticktrace.ccxt.wsState");

/** Errors already counted by an HTTP attempt, so the unified call does not count them again. */
const counted = new WeakSet<object>();

/** Base-class methods that are not unified API calls, whatever `has` says. */
const NOT_UNIFIED = new Set(["fetch", "fetch2", "request", "sign", "throttle", "loadMarketsHelper"]);

function exchangeId(exchange: ExchangeInstance): string {
  return typeof exchange.id === "string" ? exchange.id : "unknown";
}

function nowSeconds(): number {
  return performance.now() / 1000;
}

function isPromise(value: unknown): value is Promise<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}

/**
 * Runs `run` and calls `finish` once with how it ended (its error, or undefined), whether it
 * throws, returns a value or returns a promise; the result or error passes through unchanged.
 */
function callThenFinish(run: () => unknown, finish: (error: unknown) => void): unknown {
  let result: unknown;
  try {
    result = run();
  } catch (error) {
    finish(error);
    throw error;
  }
  if (!isPromise(result)) {
    finish(undefined);
    return result;
  }
  return result.then(
    (value) => {
      finish(undefined);
      return value;
    },
    (error: unknown) => {
      finish(error);
      throw error;
    },
  );
}

function wrap(target: object, name: string, make: (original: AnyFunction) => AnyFunction): void {
  const original = (target as Record<string, unknown>)[name];
  if (typeof original !== "function" || (original as { [ORIGINAL]?: unknown })[ORIGINAL]) return;
  const wrapped = make(original as AnyFunction);
  Object.defineProperty(wrapped, ORIGINAL, { value: original });
  Object.defineProperty(wrapped, "name", { value: name });
  Object.defineProperty(target, name, {
    value: wrapped,
    writable: true,
    configurable: true,
    enumerable: false,
  });
}

function unwrap(target: object, name: string): void {
  const current = (target as Record<string, unknown>)[name] as { [ORIGINAL]?: unknown } | undefined;
  const original = current?.[ORIGINAL];
  if (typeof original === "function" && Object.prototype.hasOwnProperty.call(target, name)) {
    Object.defineProperty(target, name, { value: original, writable: true, configurable: true });
  }
}

/** The symbol argument of a unified call, when its first argument looks like one (`BTC/USDT`). */
function symbolOf(args: unknown[]): string | undefined {
  const first = args[0];
  return typeof first === "string" && first.includes("/") && first.length <= 64 ? first : undefined;
}

/**
 * ccxt puts the request URL into some of its errors' messages (`RequestTimeout`, `NetworkError`:
 * "binance GET https://...?timestamp=...&signature=... request timed out"), so a bot that logs
 * `error.message` would log the signature. The error the bot receives keeps its class, name and
 * every other property; only the signed query values in its message and stack are redacted.
 */
function redactErrorText(error: unknown): void {
  if (!(error instanceof Error)) return;
  const message = redactUrlsInText(error.message);
  if (message === error.message) return;
  error.message = message;
  if (typeof error.stack === "string") error.stack = redactUrlsInText(error.stack);
}

function endWithError(span: Span, error: unknown): void {
  const type = errorType(error);
  span.setAttribute("error.type", type);
  span.setStatus({ code: SpanStatusCode.ERROR, message: type });
  span.end();
}

/** Most exchange and symbol pairs whose span attributes one unified method keeps built. */
const MAX_CACHED_ATTRIBUTES = 1024;

/**
 * One unified method (`createOrder`, `fetchTicker`, ...): a client span around the call, and
 * the `trading_exchange_request_duration_seconds` observation for calls the bot made itself
 * (calls ccxt makes inside them, such as `loadMarkets` inside the first `fetchTicker`, get
 * child spans only).
 */
function unifiedWrapper(target: PatchTarget, operation: string) {
  // The span name and attributes of each exchange (and symbol) are built once: the SDK copies
  // attributes into the span, so one object serves every call.
  const names = new Map<string, string>();
  const attributesOf = new Map<string, Map<string | undefined, Attributes>>();
  const spanAttributes = (exchange: string, symbol: string | undefined): Attributes => {
    let bySymbol = attributesOf.get(exchange);
    if (bySymbol === undefined) {
      bySymbol = new Map();
      attributesOf.set(exchange, bySymbol);
    }
    let attributes = bySymbol.get(symbol);
    if (attributes === undefined) {
      attributes =
        symbol === undefined
          ? { "exchange.name": exchange, "exchange.operation": operation }
          : { "exchange.name": exchange, "exchange.operation": operation, "exchange.symbol": symbol };
      if (bySymbol.size < MAX_CACHED_ATTRIBUTES) bySymbol.set(symbol, attributes);
    }
    return attributes;
  };
  return (original: AnyFunction): AnyFunction =>
    function (this: ExchangeInstance, ...args: unknown[]): unknown {
      // ccxt calls loadMarkets at the top of nearly every unified method; once the markets are
      // loaded it returns them at once, and a span for that would double the spans of every call.
      if (
        operation === "loadMarkets" &&
        args[0] !== true &&
        this.markets !== undefined &&
        this.markets !== null
      )
        return original.apply(this, args);
      const parent = context.active();
      const outer = activeCall(parent);
      const exchange = exchangeId(this);
      const state: CallState = {
        exchange,
        operation,
        waitedSeconds: 0,
        attempts: 0,
        firstRequest: undefined,
        sends: undefined,
        inFlight: [],
      };
      let name = names.get(exchange);
      if (name === undefined) {
        name = `${exchange} ${operation}`;
        names.set(exchange, name);
      }
      const span = target.tracer.startSpan(
        name,
        { kind: SpanKind.CLIENT, attributes: spanAttributes(exchange, symbolOf(args)) },
        parent,
      );
      const start = nowSeconds();
      const finish = (error: unknown) => {
        const recorder = target.recorder;
        if (recorder) {
          if (outer === undefined) recorder.call(exchange, operation, nowSeconds() - start, error);
          if (error !== undefined && (typeof error !== "object" || error === null || !counted.has(error))) {
            recorder.callError(exchange, operation, error);
            if (typeof error === "object" && error !== null) counted.add(error);
          }
        }
        if (state.waitedSeconds > 0)
          span.setAttribute("exchange.ratelimit.wait_ms", state.waitedSeconds * 1000);
        if (state.attempts > 1) span.setAttribute("exchange.http.attempts", state.attempts);
        if (error === undefined) span.end();
        else {
          redactErrorText(error);
          endWithError(span, error);
        }
      };
      callOfSpan.set(span, state);
      return callThenFinish(() => context.with(trace.setSpan(parent, span), original, this, ...args), finish);
    };
}

/** Wraps the unified methods each class in an exchange's prototype chain defines itself, once per class. */
function instrumentClassChain(target: PatchTarget, instance: ExchangeInstance): void {
  const has = instance.has ?? {};
  const originals = new Map<AnyFunction, AnyFunction>();
  let proto: object | null = Object.getPrototypeOf(instance) as object | null;
  while (proto && proto !== Object.prototype) {
    if (!Object.prototype.hasOwnProperty.call(proto, PATCHED_CLASS)) {
      Object.defineProperty(proto, PATCHED_CLASS, { value: true });
      for (const name of Object.getOwnPropertyNames(proto)) {
        if (NOT_UNIFIED.has(name) || !(name in has || name === "loadMarkets")) continue;
        // websocket methods resolve once per message: their telemetry is per message and connection, not per call
        if (name.startsWith("watch") || name.startsWith("unWatch")) continue;
        const descriptor = Object.getOwnPropertyDescriptor(proto, name);
        if (!descriptor || typeof descriptor.value !== "function") continue;
        wrap(proto, name, unifiedWrapper(target, name));
        const installed = (proto as Record<string, AnyFunction | undefined>)[name];
        if (installed) originals.set(descriptor.value as AnyFunction, installed);
      }
      // ccxt's snake_case aliases (`fetch_ticker = fetchTicker`) share the camelCase function.
      for (const name of Object.getOwnPropertyNames(proto)) {
        const descriptor = Object.getOwnPropertyDescriptor(proto, name);
        const wrapped =
          descriptor && typeof descriptor.value === "function"
            ? originals.get(descriptor.value as AnyFunction)
            : undefined;
        if (wrapped && name.includes("_")) {
          Object.defineProperty(proto, name, {
            value: wrapped,
            writable: true,
            configurable: true,
            enumerable: false,
          });
        }
      }
    }
    // on up to ccxt's own base (the exported `Exchange` extends an internal `BaseExchange`)
    proto = Object.getPrototypeOf(proto) as object | null;
  }
}

function headerValue(headers: unknown, name: string): unknown {
  if (headers === null || typeof headers !== "object") return undefined;
  const get = (headers as { get?: unknown }).get;
  if (typeof get === "function") return (get as (n: string) => unknown).call(headers, name);
  return (headers as Record<string, unknown>)[name];
}

interface Server {
  address?: string;
  port?: number;
}

/** Parsed origins: an exchange talks to a handful, and `new URL` per attempt cost microseconds. */
const servers = new Map<string, Server>();

function serverOf(url: string): Server {
  const scheme = url.indexOf("://");
  const pathStart = scheme === -1 ? -1 : url.indexOf("/", scheme + 3);
  const origin = pathStart === -1 ? url : url.slice(0, pathStart);
  let server = servers.get(origin);
  if (server === undefined) {
    try {
      const parsed = new URL(origin);
      const https = parsed.protocol === "https:" || parsed.protocol === "wss:";
      server = {
        address: parsed.hostname,
        port: parsed.port === "" ? (https ? 443 : 80) : Number(parsed.port),
      };
    } catch {
      server = {};
    }
    if (servers.size < 256) servers.set(origin, server);
  }
  return server;
}

/** The class names and method names each patched prototype method had, for unpatching. */
const BASE_METHODS = ["afterConstruct", "throttle", "fetch", "handleRestResponse", "client"] as const;

/**
 * Patches ccxt's `Exchange` base class: every exchange class inherits these, and the unified
 * methods of each concrete class are wrapped when its first instance is constructed.
 */
export function patchExchange(Exchange: { prototype: object }, target: PatchTarget): void {
  const base = Exchange.prototype;

  wrap(
    base,
    "afterConstruct",
    (original) =>
      function (this: ExchangeInstance, ...args: unknown[]) {
        try {
          instrumentClassChain(target, this);
          target.recorder?.exchangeSeen(exchangeId(this));
        } catch {
          // instrumentation must never break constructing an exchange
        }
        return original.apply(this, args);
      },
  );

  wrap(
    base,
    "throttle",
    (original) =>
      function (this: ExchangeInstance, ...args: unknown[]) {
        const result = original.apply(this, args);
        const recorder = target.recorder;
        if (!isPromise(result)) return result;
        const start = nowSeconds();
        const call = activeCall();
        const exchange = exchangeId(this);
        return result.then((value) => {
          const waited = nowSeconds() - start;
          if (call) call.waitedSeconds += waited;
          recorder?.rateLimitWait(exchange, call?.operation ?? "request", waited);
          return value;
        });
      },
  );

  wrap(
    base,
    "fetch",
    (original) =>
      function (this: ExchangeInstance, ...args: unknown[]) {
        const [url, method] = args as [unknown, unknown];
        const parent = context.active();
        const call = activeCall(parent);
        const exchange = exchangeId(this);
        const operation = call?.operation ?? "request";
        const httpMethod = typeof method === "string" ? method.toUpperCase() : "GET";
        const urlText = typeof url === "string" ? url : "";
        const server = serverOf(urlText);
        // The exchange and operation are on the parent (unified-call) span; an attempt has the HTTP ones.
        const attributes: Attributes = { "http.request.method": httpMethod, "url.full": redactUrl(urlText) };
        if (server.address !== undefined) attributes["server.address"] = server.address;
        if (server.port !== undefined) attributes["server.port"] = server.port;
        if (call) {
          call.attempts++;
          const query = urlText.indexOf("?");
          const resends = resendCount(
            call,
            `${httpMethod} ${query === -1 ? urlText : urlText.slice(0, query)}`,
          );
          if (resends > 0) attributes["http.request.resend_count"] = resends;
        } else {
          attributes["exchange.name"] = exchange;
        }
        const span = target.tracer.startSpan(httpMethod, { kind: SpanKind.CLIENT, attributes }, parent);
        const attempt: AttemptState = { url: urlText, status: undefined, retryAfter: undefined };
        const start = nowSeconds();
        const finish = (error: unknown) => {
          if (call) {
            const at = call.inFlight.indexOf(attempt);
            if (at !== -1) call.inFlight.splice(at, 1);
          }
          if (attempt.status !== undefined) span.setAttribute("http.response.status_code", attempt.status);
          target.recorder?.attempt(
            exchange,
            operation,
            httpMethod,
            nowSeconds() - start,
            attempt.status,
            attempt.retryAfter,
            error,
          );
          if (error !== undefined && typeof error === "object" && error !== null) counted.add(error);
          if (error === undefined) span.end();
          else {
            redactErrorText(error);
            endWithError(span, error);
          }
        };
        if (call) {
          // Inside a unified call the call's context is active already: the attempt is found
          // through the call, and the request needs no context of its own.
          call.inFlight.push(attempt);
          return callThenFinish(() => original.apply(this, args), finish);
        }
        attemptOfSpan.set(span, attempt);
        return callThenFinish(
          () => context.with(trace.setSpan(parent, span), original, this, ...args),
          finish,
        );
      },
  );

  wrap(
    base,
    "handleRestResponse",
    (original) =>
      function (this: ExchangeInstance, ...args: unknown[]) {
        const active = trace.getSpan(context.active());
        const call = active === undefined ? undefined : callOfSpan.get(active);
        const attempt =
          call !== undefined
            ? attemptFor(call, args[1])
            : active === undefined
              ? undefined
              : attemptOfSpan.get(active);
        const response = args[0] as { status?: unknown; statusCode?: unknown; headers?: unknown } | undefined;
        if (attempt && response) {
          const status = response.status ?? response.statusCode;
          if (typeof status === "number") attempt.status = status;
          attempt.retryAfter = headerValue(response.headers, "retry-after");
        }
        return original.apply(this, args);
      },
  );

  wrap(
    base,
    "client",
    (original) =>
      function (this: ExchangeInstance, ...args: unknown[]) {
        const client = original.apply(this, args) as Record<string | symbol, unknown> | undefined;
        const recorder = target.recorder;
        if (client && recorder && client[WS_STATE] === undefined) {
          try {
            instrumentWsClient(recorder, exchangeId(this), client);
          } catch {
            // a client we cannot instrument still works
          }
        }
        return client;
      },
  );
}

/** Removes the base-class patches (the instrumentation was disabled). Wrapped subclass methods stay, passing through. */
export function unpatchExchange(Exchange: { prototype: object }): void {
  for (const name of BASE_METHODS) unwrap(Exchange.prototype, name);
}

function instrumentWsClient(
  recorder: ExchangeRecorder,
  exchange: string,
  client: Record<string | symbol, unknown>,
): void {
  const state = recorder.wsClient(exchange, client as unknown as WsClientLike);
  client[WS_STATE] = state;
  const onConnected = client.onConnectedCallback;
  if (typeof onConnected === "function") {
    client.onConnectedCallback = function (this: unknown, ...args: unknown[]) {
      recorder.wsConnected(state);
      return (onConnected as AnyFunction).apply(this as ExchangeInstance, args);
    };
  }
  const closedBy = (error: unknown) =>
    (error as { name?: unknown } | undefined)?.name === "ExchangeClosedByUser";
  const onError = client.onErrorCallback;
  if (typeof onError === "function") {
    client.onErrorCallback = function (this: unknown, ...args: unknown[]) {
      const error = args[1];
      recorder.wsDisconnected(state, `error: ${errorType(error)}`, closedBy(error));
      return (onError as AnyFunction).apply(this as ExchangeInstance, args);
    };
  }
  const onClose = client.onCloseCallback;
  if (typeof onClose === "function") {
    client.onCloseCallback = function (this: unknown, ...args: unknown[]) {
      const event = args[1] as { code?: unknown } | undefined;
      const code = typeof event?.code === "number" ? ` (code ${event.code})` : "";
      recorder.wsDisconnected(state, `closed${code}`, closedBy(client.error));
      return (onClose as AnyFunction).apply(this as ExchangeInstance, args);
    };
  }
  const resolve = client.resolve;
  if (typeof resolve === "function") {
    client.resolve = function (this: unknown, ...args: unknown[]) {
      try {
        recorder.wsMessage(state, args[1], args[0]);
      } catch {
        // telemetry never breaks message delivery
      }
      return (resolve as AnyFunction).apply(this as ExchangeInstance, args);
    };
  }
}
