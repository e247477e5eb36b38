import {
  context,
  createContextKey,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from "@opentelemetry/api";
import { redactUrl } from "../redact-url.js";
import type { ExchangeRecorder, WsClientLike } from "./recorder.js";
import { errorType } from "./recorder.js";

/**
 * Context key set while ccxt sends one HTTP attempt. The http and undici instrumentations skip
 * requests made under it, so each attempt has exactly one span (ours, with the exchange's
 * attributes and a redacted URL) instead of two. `createContextKey` uses `Symbol.for`, so two
 * copies of ticktrace agree.
 */
export const CCXT_ATTEMPT_KEY = createContextKey("ticktrace.ccxt.attempt");
const CALL_KEY = createContextKey("ticktrace.ccxt.call");
const REQUEST_KEY = createContextKey("ticktrace.ccxt.request");

/** Whether the active context is inside a ccxt HTTP attempt (see {@link CCXT_ATTEMPT_KEY}). */
export function insideCcxtAttempt(): boolean {
  return context.active().getValue(CCXT_ATTEMPT_KEY) !== undefined;
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
}

interface RequestState {
  sends: number;
}

interface AttemptState {
  status: number | undefined;
  retryAfter: unknown;
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

function endWithError(span: Span, error: unknown): void {
  const type = errorType(error);
  span.setAttribute("error.type", type);
  span.setStatus({ code: SpanStatusCode.ERROR, message: type });
  span.end();
}

/**
 * One unified method (`createOrder`, `fetchTicker`, ...): a client span around the call, and
 * the `trading_exchange_request_duration_seconds` observation for calls the bot made itself
 * (calls ccxt makes inside them, such as `loadMarkets` inside the first `fetchTicker`, get
 * child spans only).
 */
function unifiedWrapper(target: PatchTarget, operation: string) {
  return (original: AnyFunction): AnyFunction =>
    function (this: ExchangeInstance, ...args: unknown[]): unknown {
      const parent = context.active();
      const outer = parent.getValue(CALL_KEY) as CallState | undefined;
      const exchange = exchangeId(this);
      const state: CallState = { exchange, operation, waitedSeconds: 0, attempts: 0 };
      const attributes: Attributes = { "exchange.name": exchange, "exchange.operation": operation };
      const symbol = symbolOf(args);
      if (symbol !== undefined) attributes["exchange.symbol"] = symbol;
      const span = target.tracer.startSpan(
        `${exchange} ${operation}`,
        { kind: SpanKind.CLIENT, attributes },
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
        if (state.attempts > 0) span.setAttribute("exchange.http.attempts", state.attempts);
        if (error === undefined) span.end();
        else endWithError(span, error);
      };
      let result: unknown;
      try {
        result = context.with(trace.setSpan(parent, span).setValue(CALL_KEY, state), original, this, ...args);
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
        originals.set(descriptor.value as AnyFunction, (proto as Record<string, AnyFunction>)[name]!);
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

function serverOf(url: string): { address?: string; port?: number; scheme?: string } {
  try {
    const parsed = new URL(url);
    const scheme = parsed.protocol.replace(":", "");
    const port = parsed.port === "" ? (scheme === "https" ? 443 : 80) : Number(parsed.port);
    return { address: parsed.hostname, port, scheme };
  } catch {
    return {};
  }
}

/** The class names and method names each patched prototype method had, for unpatching. */
const BASE_METHODS = [
  "afterConstruct",
  "throttle",
  "fetch",
  "fetch2",
  "handleRestResponse",
  "client",
] as const;

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
        const call = context.active().getValue(CALL_KEY) as CallState | undefined;
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
        const call = parent.getValue(CALL_KEY) as CallState | undefined;
        if (call) call.attempts++;
        const exchange = exchangeId(this);
        const operation = call?.operation ?? "request";
        const httpMethod = typeof method === "string" ? method.toUpperCase() : "GET";
        const urlText = typeof url === "string" ? url : "";
        const server = serverOf(urlText);
        const attributes: Attributes = {
          "http.request.method": httpMethod,
          "url.full": redactUrl(urlText),
          "exchange.name": exchange,
          "exchange.operation": operation,
        };
        if (server.address !== undefined) attributes["server.address"] = server.address;
        if (server.port !== undefined) attributes["server.port"] = server.port;
        if (server.scheme !== undefined) attributes["url.scheme"] = server.scheme;
        const request = parent.getValue(REQUEST_KEY) as RequestState | undefined;
        if (request && ++request.sends > 1) attributes["http.request.resend_count"] = request.sends - 1;
        const span = target.tracer.startSpan(httpMethod, { kind: SpanKind.CLIENT, attributes }, parent);
        const attempt: AttemptState = { status: undefined, retryAfter: undefined };
        const ctx: Context = trace.setSpan(parent, span).setValue(CCXT_ATTEMPT_KEY, attempt);
        const start = nowSeconds();
        const finish = (error: unknown) => {
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
          else endWithError(span, error);
        };
        let result: unknown;
        try {
          result = context.with(ctx, original, this, ...args);
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
      },
  );

  // fetch2 is one logical request: its retries (maxRetriesOnFailure) are resends of it.
  wrap(
    base,
    "fetch2",
    (original) =>
      function (this: ExchangeInstance, ...args: unknown[]) {
        const state: RequestState = { sends: 0 };
        return context.with(context.active().setValue(REQUEST_KEY, state), original, this, ...args);
      },
  );

  wrap(
    base,
    "handleRestResponse",
    (original) =>
      function (this: ExchangeInstance, ...args: unknown[]) {
        const attempt = context.active().getValue(CCXT_ATTEMPT_KEY) as AttemptState | undefined;
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
