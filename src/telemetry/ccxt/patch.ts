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
import { isTracingSuppressed } from "@opentelemetry/core";
import { InertSpan } from "../tick-trace/inert-span.js";
import type { StageKind } from "../tick-trace/tick-tracer.js";
import { attributeKey, type RingSpanIds, type RingSpanWriter } from "../tick-trace/ring-span-writer.js";
import { redactUrl, redactUrlsInText } from "../redact-url.js";
import type { CallSeries, ExchangeRecorder, WsClientLike } from "./recorder.js";
import { errorType } from "./recorder.js";

/** The API's key of the active span (`createContextKey` is `Symbol.for` of its description). */
const SPAN_KEY = Symbol.for("OpenTelemetry Context Key SPAN");

/**
 * The SDK path's state of each unified call and of each HTTP attempt made outside one, by its
 * SDK span: the patches find the call they run in from the active span. On the ring path the
 * active span is the {@link Call} itself, so nothing is looked up.
 */
const callOfSpan = new WeakMap<Span, Call>();
const attemptOfSpan = new WeakMap<Span, Attempt>();

function activeCall(ctx: Context = context.active()): Call | undefined {
  if (ctx instanceof Call) return ctx;
  const span = trace.getSpan(ctx);
  if (span === undefined) return undefined;
  return span instanceof Call ? span : callOfSpan.get(span);
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
  const ctx = context.active();
  if (ctx instanceof Call) return true;
  const span = trace.getSpan(ctx);
  return span !== undefined && (span instanceof Call || callOfSpan.has(span) || attemptOfSpan.has(span));
}

/**
 * What the patches need: a tracer, the recorder once the runtime attached one, and the writer
 * of finished call span trees when the exporter worker takes them (else spans go through the
 * tracer: the SDK path).
 */
export interface PatchTarget {
  readonly tracer: Tracer;
  readonly recorder: ExchangeRecorder | undefined;
  readonly spans: RingSpanWriter | undefined;
}

type AnyFunction = (this: ExchangeInstance, ...args: unknown[]) => unknown;

interface ExchangeInstance {
  id?: unknown;
  has?: Record<string, unknown>;
  [key: string]: unknown;
}

/** Attribute keys of the ring path, encoded once. */
const KEY = {
  symbol: attributeKey("exchange.symbol"),
  waitMs: attributeKey("exchange.ratelimit.wait_ms"),
  attempts: attributeKey("exchange.http.attempts"),
  errorType: attributeKey("error.type"),
  status: attributeKey("http.response.status_code"),
  resends: attributeKey("http.request.resend_count"),
};

/**
 * What one unified method knows of one exchange, built on its first call: the span name, the
 * SDK path's attributes per symbol, the ring path's interned kind, the bound metric series.
 */
class Site {
  readonly name: string;
  private readonly attributesOf = new Map<string | undefined, Attributes>();
  private kindWriter: RingSpanWriter | undefined;
  private ringKind: StageKind | undefined;
  private seriesRecorder: ExchangeRecorder | undefined;
  private boundSeries: CallSeries | undefined;

  constructor(
    readonly exchange: string,
    readonly operation: string,
  ) {
    this.name = `${exchange} ${operation}`;
  }

  /** The SDK copies attributes into the span, so one object per symbol serves every call. */
  attributes(symbol: string | undefined): Attributes {
    let attributes = this.attributesOf.get(symbol);
    if (attributes === undefined) {
      attributes =
        symbol === undefined
          ? { "exchange.name": this.exchange, "exchange.operation": this.operation }
          : {
              "exchange.name": this.exchange,
              "exchange.operation": this.operation,
              "exchange.symbol": symbol,
            };
      if (this.attributesOf.size < MAX_CACHED_ATTRIBUTES) this.attributesOf.set(symbol, attributes);
    }
    return attributes;
  }

  kind(writer: RingSpanWriter): StageKind {
    if (this.kindWriter !== writer || this.ringKind === undefined) {
      this.ringKind = writer.kind(this.name, {
        "exchange.name": this.exchange,
        "exchange.operation": this.operation,
      });
      this.kindWriter = writer;
    }
    return this.ringKind;
  }

  series(recorder: ExchangeRecorder): CallSeries {
    if (this.seriesRecorder !== recorder || this.boundSeries === undefined) {
      this.boundSeries = recorder.callSeries(this.exchange, this.operation);
      this.seriesRecorder = recorder;
    }
    return this.boundSeries;
  }
}

/**
 * One unified call: its state, and on the ring path also its span and the context it runs in
 * (one object: the context's only own value is the active span, which is this call; every other
 * value comes from the context the call started in). On the SDK path `sdkSpan` is the span.
 */
class Call extends InertSpan implements Context, RingSpanIds {
  sdkSpan: Span | undefined = undefined;
  writer: RingSpanWriter | undefined = undefined;
  symbol: string | undefined = undefined;
  waitedSeconds = 0;
  attempts = 0;
  /** Method and URL of the first attempt; a later attempt to the same path is a resend (ccxt's retry). */
  firstMethod = "";
  firstUrl: string | undefined = undefined;
  /** Sends per method and path, once a call has sent more than one request. */
  sends: Map<string, number> | undefined = undefined;
  /** The call's attempts awaiting their response, oldest first (ccxt may send several at once). */
  inFlight: Attempt | undefined = undefined;
  moreInFlight: Attempt[] | undefined = undefined;
  /** Ring path: attempts that ended, written with the call. */
  done: Attempt | undefined = undefined;
  moreDone: Attempt[] | undefined = undefined;
  /** Ring path: the call's span tree was written (an attempt that ends later is written alone). */
  written = false;
  // RingSpanIds and SpanContext (ring path)
  sampled = false;
  traceId = "";
  spanId = "";
  traceFlags = 0;
  t0 = 0;
  t1 = 0;
  t2 = 0;
  t3 = 0;
  s0 = 0;
  s1 = 0;
  hasParent = false;
  p0 = 0;
  p1 = 0;

  constructor(
    readonly parent: Context,
    readonly site: Site,
    readonly exchange: string,
    readonly operation: string,
    /** Inside another unified call (ccxt's own `loadMarkets`): a child span, not an observation. */
    readonly nested: boolean,
    readonly startMs: number,
  ) {
    super();
  }

  // Context
  getValue(key: symbol): unknown {
    return key === SPAN_KEY ? (this.sdkSpan ?? this) : this.parent.getValue(key);
  }
  setValue(key: symbol, value: unknown): Context {
    return this.parent.setValue(SPAN_KEY, this.sdkSpan ?? this).setValue(key, value);
  }
  deleteValue(key: symbol): Context {
    return this.parent.setValue(SPAN_KEY, this.sdkSpan ?? this).deleteValue(key);
  }

  // Span (InertSpan), as others see it on the ring path: not recording; the call writes its
  // span tree into the ring when it settles.

  /** The resend count of an attempt (0 for the first send of a method and path). */
  resendCount(method: string, url: string): number {
    if (this.firstUrl === undefined) {
      this.firstUrl = url;
      this.firstMethod = method;
      return 0;
    }
    this.sends ??= new Map([[requestKey(this.firstMethod, this.firstUrl), 1]]);
    const key = requestKey(method, url);
    const sends = (this.sends.get(key) ?? 0) + 1;
    this.sends.set(key, sends);
    return sends - 1;
  }

  addInFlight(attempt: Attempt): void {
    if (this.inFlight === undefined && this.moreInFlight === undefined) this.inFlight = attempt;
    else (this.moreInFlight ??= []).push(attempt);
  }

  removeInFlight(attempt: Attempt): void {
    if (this.inFlight === attempt) {
      this.inFlight = this.moreInFlight?.shift();
      if (this.moreInFlight?.length === 0) this.moreInFlight = undefined;
      return;
    }
    const more = this.moreInFlight;
    if (more === undefined) return;
    const at = more.indexOf(attempt);
    if (at !== -1) more.splice(at, 1);
    if (more.length === 0) this.moreInFlight = undefined;
  }

  /** The in-flight attempt that `handleRestResponse(response, url)` answers. */
  attemptFor(url: unknown): Attempt | undefined {
    const more = this.moreInFlight;
    if (more === undefined) return this.inFlight;
    // several at once (binance's loadMarkets fetches spot and futures markets together)
    const first = this.inFlight;
    if (first !== undefined && first.url === url && first.status === undefined) return first;
    for (const attempt of more) if (attempt.url === url && attempt.status === undefined) return attempt;
    if (first !== undefined && first.status === undefined) return first;
    return more.find((attempt) => attempt.status === undefined);
  }

  addDone(attempt: Attempt): void {
    if (this.done === undefined) this.done = attempt;
    else (this.moreDone ??= []).push(attempt);
  }

  /** The call settled: its metrics, then its span (ended on the SDK path, its tree written on the ring path). */
  finish(target: PatchTarget, error: unknown): void {
    const endMs = performance.now();
    const recorder = target.recorder;
    if (recorder) {
      if (!this.nested) {
        const series = this.site.series(recorder);
        (error === undefined ? series.ok : series.error).record((endMs - this.startMs) / 1000);
      }
      if (error !== undefined && (typeof error !== "object" || error === null || !counted.has(error))) {
        recorder.callError(this.exchange, this.operation, error);
        if (typeof error === "object" && error !== null) counted.add(error);
      }
    }
    if (error !== undefined) redactErrorText(error);
    const span = this.sdkSpan;
    if (span !== undefined) {
      if (this.waitedSeconds > 0) span.setAttribute("exchange.ratelimit.wait_ms", this.waitedSeconds * 1000);
      if (this.attempts > 1) span.setAttribute("exchange.http.attempts", this.attempts);
      if (error === undefined) span.end();
      else endWithError(span, error);
      return;
    }
    this.written = true;
    const writer = this.writer;
    if (writer === undefined || !this.sampled) return;
    const spans = 1 + (this.done === undefined ? 0 : 1) + (this.moreDone?.length ?? 0);
    if (!writer.begin(this, spans, endMs)) return;
    writer.span(this.site.kind(writer), this.startMs, endMs);
    if (this.symbol !== undefined) writer.string(KEY.symbol, this.symbol);
    if (this.waitedSeconds > 0) writer.number(KEY.waitMs, this.waitedSeconds * 1000);
    if (this.attempts > 1) writer.number(KEY.attempts, this.attempts);
    if (error !== undefined) {
      const type = errorType(error);
      writer.string(KEY.errorType, type);
      writer.error(type);
    }
    if (this.done !== undefined) this.done.write(writer);
    if (this.moreDone !== undefined) for (const attempt of this.moreDone) attempt.write(writer);
    writer.commit();
  }
}

/** `GET https://host/path` of a request, without its query (which changes with every signature). */
function requestKey(method: string, url: string): string {
  const query = url.indexOf("?");
  return `${method} ${query === -1 ? url : url.slice(0, query)}`;
}

/** One HTTP attempt (one `fetch` of ccxt's). */
class Attempt {
  status: number | undefined = undefined;
  retryAfter: unknown = undefined;
  resends = 0;
  endMs = 0;
  errorType: string | undefined = undefined;
  /** SDK path: the attempt's span. */
  sdkSpan: Span | undefined = undefined;

  constructor(
    readonly call: Call | undefined,
    readonly exchange: string,
    /** The URL as ccxt's `fetch` got it, to tell concurrent attempts of one call apart. */
    readonly url: string,
    readonly method: string,
    readonly startMs: number,
  ) {}

  finish(target: PatchTarget, error: unknown): void {
    const endMs = performance.now();
    this.endMs = endMs;
    const call = this.call;
    call?.removeInFlight(this);
    target.recorder?.attempt(
      this.exchange,
      call?.operation ?? "request",
      this.method,
      (endMs - this.startMs) / 1000,
      this.status,
      this.retryAfter,
      error,
    );
    if (error !== undefined) {
      if (typeof error === "object" && error !== null) counted.add(error);
      redactErrorText(error);
    }
    const span = this.sdkSpan;
    if (span !== undefined) {
      if (this.status !== undefined) span.setAttribute("http.response.status_code", this.status);
      if (error === undefined) span.end();
      else endWithError(span, error);
      return;
    }
    if (!call?.sampled) return;
    if (error !== undefined) this.errorType = errorType(error);
    if (!call.written) {
      call.addDone(this);
      return;
    }
    // Ended after its call (the call failed while this request was still out): a tree of its own under the call.
    const writer = call.writer;
    if (!writer?.begin(call, 1, endMs, true)) return;
    this.write(writer);
    writer.commit();
  }

  /** Ring path: this attempt as the next span record of the record being written. */
  write(writer: RingSpanWriter): void {
    const server = serverOf(this.url);
    writer.span(server.kind(writer, this.method), this.startMs, this.endMs);
    if (this.status !== undefined) writer.number(KEY.status, this.status);
    if (this.resends > 0) writer.number(KEY.resends, this.resends);
    if (this.errorType !== undefined) writer.string(KEY.errorType, this.errorType);
    // as sent: the worker redacts it (a signed query's split and join off this thread)
    writer.url(this.url);
    if (this.errorType !== undefined) writer.error(this.errorType);
  }
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
 * Waits for a call's promise and finishes the call with how it ended; the result or error
 * passes through unchanged. An async function rather than `.then(onOk, onError)`: no closure
 * per call (the state is the argument). In a warm loop `.then` was about 50 ns cheaper (the
 * promise hook sees the await's extra promise), but in the loopback benchmark, interleaved
 * against it, the async form added 40 us per call (p25-p75 36-52) and `.then` 52 (28-67).
 */
async function settleCall(call: Call, target: PatchTarget, pending: Promise<unknown>): Promise<unknown> {
  let value: unknown;
  try {
    value = await pending;
  } catch (error) {
    call.finish(target, error);
    throw error;
  }
  call.finish(target, undefined);
  return value;
}

/** {@link settleCall} for an HTTP attempt. */
async function settleAttempt(
  attempt: Attempt,
  target: PatchTarget,
  pending: Promise<unknown>,
): Promise<unknown> {
  let value: unknown;
  try {
    value = await pending;
  } catch (error) {
    attempt.finish(target, error);
    throw error;
  }
  attempt.finish(target, undefined);
  return value;
}

/**
 * Calls `original` on `self` inside `context.with`: passing the exchange as `with`'s `thisArg`
 * would bind the method anew on every call (the context manager's `fn.bind(thisArg)`).
 */
function applyOriginal(original: AnyFunction, self: ExchangeInstance, args: unknown[]): unknown {
  return original.apply(self, args);
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

/** Whether this API version finds the span in a {@link Call} used as a context; else the API's own context is used. */
const CALL_CONTEXT_WORKS = (() => {
  const probe = new Call(context.active(), new Site("probe", "probe"), "probe", "probe", false, 0);
  probe.traceId = "0".repeat(31) + "1";
  probe.spanId = "0".repeat(15) + "1";
  return trace.getSpan(probe) === probe && trace.getSpanContext(probe)?.spanId === probe.spanId;
})();

/**
 * One unified method (`createOrder`, `fetchTicker`, ...): a client span around the call, and
 * the `trading_exchange_request_duration_seconds` observation for calls the bot made itself
 * (calls ccxt makes inside them, such as `loadMarkets` inside the first `fetchTicker`, get
 * child spans only). On the ring path the call's ids are chosen at its start (its context
 * carries them) and its span tree is written when it settles; on the SDK path it is an SDK span.
 */
function unifiedWrapper(target: PatchTarget, operation: string) {
  const sites = new Map<string, Site>();
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
      let site = sites.get(exchange);
      if (site === undefined) {
        site = new Site(exchange, operation);
        sites.set(exchange, site);
      }
      const call = new Call(parent, site, exchange, operation, outer !== undefined, performance.now());
      const writer = target.spans;
      let ctx: Context;
      if (writer !== undefined) {
        call.writer = writer;
        call.symbol = symbolOf(args);
        // A Call is the active span only on the ring path (on the SDK path its context holds the SDK span).
        const parentSpan = trace.getSpan(parent);
        if (parentSpan instanceof Call) writer.assign(call, parentSpan, parentSpan);
        else {
          const parentContext = parentSpan?.spanContext();
          writer.assign(
            call,
            parentContext !== undefined && trace.isSpanContextValid(parentContext)
              ? parentContext
              : undefined,
          );
        }
        if (call.sampled && isTracingSuppressed(parent)) call.sampled = false;
        call.traceFlags = call.sampled ? 1 : 0;
        ctx = CALL_CONTEXT_WORKS ? call : trace.setSpan(parent, call);
      } else {
        const span = target.tracer.startSpan(
          site.name,
          { kind: SpanKind.CLIENT, attributes: site.attributes(symbolOf(args)) },
          parent,
        );
        call.sdkSpan = span;
        callOfSpan.set(span, call);
        ctx = CALL_CONTEXT_WORKS ? call : trace.setSpan(parent, span);
      }
      let result: unknown;
      try {
        result = context.with(ctx, applyOriginal, undefined, original, this, args);
      } catch (error) {
        call.finish(target, error);
        throw error;
      }
      if (!isPromise(result)) {
        call.finish(target, undefined);
        return result;
      }
      return settleCall(call, target, result);
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
        // `has` is a plain object: `in` would also find Object.prototype's names, `constructor` among them
        if (
          NOT_UNIFIED.has(name) ||
          !(Object.prototype.hasOwnProperty.call(has, name) || name === "loadMarkets")
        )
          continue;
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

/** One origin an exchange talks to: its address and port, parsed once, and the ring path's attempt kinds. */
class Server {
  private kindWriter: RingSpanWriter | undefined;
  private readonly kinds = new Map<string, StageKind>();

  constructor(
    readonly address: string | undefined,
    readonly port: number | undefined,
  ) {}

  /** The kind of an attempt with `method` here: its name and the attributes fixed per origin and method. */
  kind(writer: RingSpanWriter, method: string): StageKind {
    if (this.kindWriter !== writer) {
      this.kinds.clear();
      this.kindWriter = writer;
    }
    let kind = this.kinds.get(method);
    if (kind === undefined) {
      const attributes: Attributes = { "http.request.method": method };
      if (this.address !== undefined) attributes["server.address"] = this.address;
      if (this.port !== undefined) attributes["server.port"] = this.port;
      kind = writer.kind(method, attributes);
      if (this.kinds.size < 16) this.kinds.set(method, kind);
    }
    return kind;
  }
}

/** Parsed origins: an exchange talks to a handful, and `new URL` per attempt cost microseconds. */
const servers = new Map<string, Server>();

/** The origin last looked up, and its server: a bot's requests mostly go to one. */
let lastOrigin = "";
let lastServer: Server | undefined;

function serverOf(url: string): Server {
  const last = lastOrigin.length;
  if (lastServer !== undefined && url.startsWith(lastOrigin) && (url.length === last || url[last] === "/"))
    return lastServer;
  const scheme = url.indexOf("://");
  const pathStart = scheme === -1 ? -1 : url.indexOf("/", scheme + 3);
  const origin = pathStart === -1 ? url : url.slice(0, pathStart);
  let server = servers.get(origin);
  if (server === undefined) {
    try {
      const parsed = new URL(origin);
      const https = parsed.protocol === "https:" || parsed.protocol === "wss:";
      server = new Server(parsed.hostname, parsed.port === "" ? (https ? 443 : 80) : Number(parsed.port));
    } catch {
      server = new Server(undefined, undefined);
    }
    if (servers.size < 256) servers.set(origin, server);
  }
  lastOrigin = origin;
  lastServer = server;
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
        const url = args[0];
        const method = args[1];
        const parent = context.active();
        const call = activeCall(parent);
        const httpMethod = typeof method === "string" ? method.toUpperCase() : "GET";
        const urlText = typeof url === "string" ? url : "";
        const attempt = new Attempt(call, exchangeId(this), urlText, httpMethod, performance.now());
        if (call) {
          call.attempts++;
          attempt.resends = call.resendCount(httpMethod, urlText);
        }
        let ctx: Context | undefined;
        if (call === undefined || call.sdkSpan !== undefined) {
          // The SDK path (and every request outside a unified call): an SDK span now. The
          // exchange and operation are on the parent (unified-call) span; an attempt has the HTTP ones.
          const server = serverOf(urlText);
          const attributes: Attributes = {
            "http.request.method": httpMethod,
            "url.full": redactUrl(urlText),
          };
          if (server.address !== undefined) attributes["server.address"] = server.address;
          if (server.port !== undefined) attributes["server.port"] = server.port;
          if (call) {
            if (attempt.resends > 0) attributes["http.request.resend_count"] = attempt.resends;
          } else {
            attributes["exchange.name"] = attempt.exchange;
          }
          const span = target.tracer.startSpan(httpMethod, { kind: SpanKind.CLIENT, attributes }, parent);
          attempt.sdkSpan = span;
          if (call === undefined) {
            attemptOfSpan.set(span, attempt);
            ctx = trace.setSpan(parent, span);
          }
        }
        // Inside a unified call the call's context is active already: the attempt is found
        // through the call, and the request needs no context of its own.
        if (call) call.addInFlight(attempt);
        let result: unknown;
        try {
          result =
            ctx === undefined
              ? original.apply(this, args)
              : context.with(ctx, applyOriginal, undefined, original, this, args);
        } catch (error) {
          attempt.finish(target, error);
          throw error;
        }
        if (!isPromise(result)) {
          attempt.finish(target, undefined);
          return result;
        }
        return settleAttempt(attempt, target, result);
      },
  );

  wrap(
    base,
    "handleRestResponse",
    (original) =>
      function (this: ExchangeInstance, ...args: unknown[]) {
        const ctx = context.active();
        const call = activeCall(ctx);
        let attempt: Attempt | undefined;
        if (call !== undefined) attempt = call.attemptFor(args[1]);
        else {
          const active = trace.getSpan(ctx);
          attempt = active === undefined ? undefined : attemptOfSpan.get(active);
        }
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
