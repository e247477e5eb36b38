import { context, ROOT_CONTEXT, type Attributes } from "@opentelemetry/api";
import WebSocket from "ws";
import { systemClock, type Clock } from "../../clock.js";
import { describeError, TicktraceError } from "../../errors.js";
import {
  httpRequest,
  parseJsonAnswer,
  rejection,
  type HttpAnswer,
  type HttpError,
  type HttpRequest,
} from "../../http/client.js";
import type { HealthRegistry } from "../../health/registry.js";
import { createSilentLogger, type Logger } from "../../logging/logger.js";
import type { TradingMetrics } from "../../telemetry/metrics.js";
import type { TradingEvents } from "../../events/trading-events.js";
import { backoffDelayMs } from "../../retry/backoff.js";
import { TokenBucket } from "./rate-limiter.js";
import { parseStreamMessage } from "./wire-schema.js";
import type { ErrorBody, Fill, Order, OrderBook, PlaceOrderRequest, Ticker } from "./wire.js";

export type ExchangeOperation =
  | "place_order"
  | "cancel_order"
  | "get_order"
  | "open_orders"
  | "balances"
  | "ticker"
  | "depth";

export interface ExchangeClientOptions {
  /** Exchange name in metric labels, health and events, e.g. `simex`. */
  exchange: string;
  /** REST base, e.g. `http://127.0.0.1:41234`. */
  baseUrl: string;
  /** Market-data stream, e.g. `ws://127.0.0.1:41234/stream`. */
  streamUrl: string;
  /** Client-side limit; keep it under the exchange's own. */
  rateLimitPerSecond: number;
  requestTimeoutMs: number;
  reconnectInitialMs?: number;
  reconnectMaxMs?: number;
  metrics: TradingMetrics;
  health: HealthRegistry;
  events: TradingEvents;
  logger?: Logger;
  clock?: Clock;
  /** New tickers; `receivedAtMs` is the monotonic time the message arrived. */
  onMarketData?: (tickers: readonly Ticker[], receivedAtMs: number) => void;
  /** A fill from the stream (or found by reconciliation). */
  onFill?: (fill: Fill, order: Omit<Order, "fills">) => void;
}

/** One REST call, relative to `<baseUrl>/api/v1`. */
interface RestCall {
  method: "GET" | "POST" | "DELETE";
  path: string;
  query?: Record<string, string>;
  json?: unknown;
}

export interface CallOptions {
  /** Called right before the request goes on the wire (after any rate-limiter wait). */
  onSent?: () => void;
}

/**
 * The trading side's connection to the exchange: REST over our HTTP client (`src/http`, Node's
 * fetch, so every call is an HTTP client span under the preload's undici instrumentation,
 * parented on the tick) and the market-data stream over WebSocket.
 *
 * Every call is timed into `trading_exchange_request_duration_seconds{exchange,operation,outcome}`;
 * the wait on our own token bucket goes to `trading_exchange_ratelimit_wait_seconds` instead.
 * A 429 pauses the bucket for the retry-after the exchange sent. Failures are
 * {@link TicktraceError}s: `REJECTED` when the exchange answered no, `UNREACHABLE`/`TIMEOUT`
 * when it did not answer, `RATE_LIMITED` with `retryAfterSeconds` on 429.
 *
 * The stream reconnects with exponential backoff; connectivity goes to the health registry
 * (component named after the exchange, group `exchanges`, required), to
 * `trading_exchange_connected`, and to the `exchangeDisconnected`/`exchangeReconnected` events.
 */
export class ExchangeClient {
  private readonly options: ExchangeClientOptions;
  private readonly apiBase: string;
  private readonly limiter: TokenBucket;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly exchangeAttrs: Attributes;
  private readonly attrCache = new Map<string, Attributes>();
  private ws: WebSocket | undefined;
  private reconnectTimer: ReturnType<Clock["setTimeout"]> | undefined;
  private attempt = 0;
  private connected = false;
  private everConnected = false;
  private disconnectedAtMs = 0;
  private stopped = false;
  private lastApiCallMs: number | undefined;

  constructor(options: ExchangeClientOptions) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.logger = (options.logger ?? createSilentLogger()).child({
      component: "exchange-client",
      exchange: options.exchange,
    });
    this.limiter = new TokenBucket({ ratePerSecond: options.rateLimitPerSecond, clock: this.clock });
    this.apiBase = `${options.baseUrl.replace(/\/+$/, "")}/api/v1`;
    this.exchangeAttrs = { exchange: options.exchange };
    options.health.register(
      options.exchange,
      { group: "exchanges", required: true },
      { state: "down", detail: "connecting" },
    );
  }

  /** Whether the market-data stream is up. */
  get isConnected(): boolean {
    return this.connected;
  }

  /** Wall-clock time of the last answered REST call, if any. */
  get lastApiCallAt(): number | undefined {
    return this.lastApiCallMs;
  }

  /** Opens the market-data stream (and keeps it open). */
  start(): void {
    this.stopped = false;
    this.setConnected(false, "connecting");
    this.connect();
  }

  /** Idempotent: closes the stream and stops reconnecting. */
  shutdown(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) this.clock.clearTimeout(this.reconnectTimer);
    this.ws?.terminate();
    this.ws = undefined;
    return Promise.resolve();
  }

  placeOrder(request: PlaceOrderRequest, call: CallOptions = {}): Promise<Order> {
    return this.request<Order>("place_order", { method: "POST", path: "/orders", json: request }, call);
  }

  cancelOrder(orderId: string): Promise<Order> {
    return this.request<Order>("cancel_order", {
      method: "DELETE",
      path: `/orders/${encodeURIComponent(orderId)}`,
    });
  }

  getOrder(orderId: string): Promise<Order> {
    return this.request<Order>("get_order", {
      method: "GET",
      path: `/orders/${encodeURIComponent(orderId)}`,
    });
  }

  openOrders(symbol?: string): Promise<Order[]> {
    return this.request<Order[]>("open_orders", {
      method: "GET",
      path: "/orders",
      ...(symbol ? { query: { symbol } } : {}),
    });
  }

  balances(): Promise<Record<string, number>> {
    return this.request<Record<string, number>>("balances", { method: "GET", path: "/balances" });
  }

  ticker(symbol: string): Promise<Ticker> {
    return this.request<Ticker>("ticker", { method: "GET", path: "/ticker", query: { symbol } });
  }

  depth(symbol: string): Promise<OrderBook> {
    return this.request<OrderBook>("depth", { method: "GET", path: "/depth", query: { symbol } });
  }

  private async request<T>(operation: ExchangeOperation, rest: RestCall, call: CallOptions = {}): Promise<T> {
    const { metrics, exchange } = this.options;
    // Wait for our slot; a 429 that arrives meanwhile extends the wait (re-checked after each sleep).
    let waitedMs = 0;
    for (let wait = this.limiter.reserve(); wait > 0; wait = this.limiter.pausedForMs()) {
      if (waitedMs + wait > this.options.requestTimeoutMs) {
        metrics.exchangeRateLimitWait.record(waitedMs / 1000, this.attrs(operation));
        throw new TicktraceError(
          "RATE_LIMITED",
          `${exchange} ${operation} not sent: the rate limiter asks for a ${Math.ceil(waitedMs + wait)} ms wait, longer than request_timeout_ms`,
          { retryAfterSeconds: wait / 1000 },
        );
      }
      await this.sleep(wait);
      waitedMs += wait;
    }
    metrics.exchangeRateLimitWait.record(waitedMs / 1000, this.attrs(operation));
    call.onSent?.();
    const started = this.clock.monotonicMs();
    let outcome = "ok";
    const request: HttpRequest = {
      operation: `${exchange} ${operation}`,
      url: `${this.apiBase}${rest.path}`,
      method: rest.method,
      ...(rest.query ? { query: rest.query } : {}),
      ...(rest.json === undefined ? {} : { json: rest.json }),
      // Like the `timestamp` of signed exchange APIs: when we sent it (the simulator checks retry-after with it).
      headers: { "x-sent-at": String(this.clock.now()) },
      timeoutMs: this.options.requestTimeoutMs,
      fix: "check that the exchange is up",
      now: () => this.clock.now(),
    };
    try {
      const answer = await httpRequest(request);
      this.lastApiCallMs = this.clock.now();
      if (!answer.ok) throw this.refusal(operation, request, answer);
      return parseJsonAnswer(answer, request) as T;
    } catch (error) {
      const failure =
        error instanceof TicktraceError
          ? error
          : new TicktraceError("UNREACHABLE", `${exchange} ${operation} failed: ${describeError(error)}`, {
              cause: error,
            });
      outcome = outcomeOf(failure);
      throw failure;
    } finally {
      metrics.exchangeRequestDuration.record(
        (this.clock.monotonicMs() - started) / 1000,
        this.attrs(operation, outcome),
      );
    }
  }

  /** The error for a non-2xx answer; a 429 also pauses our bucket for the exchange's retry-after. */
  private refusal(operation: ExchangeOperation, request: HttpRequest, answer: HttpAnswer): HttpError {
    const exchange = this.options.exchange;
    let body: Partial<ErrorBody> | undefined;
    try {
      body = JSON.parse(answer.body) as Partial<ErrorBody>;
    } catch {
      // not the exchange's error JSON (a proxy's page): the raw text goes into the message
    }
    const code = typeof body?.code === "string" ? body.code : undefined;
    const message = typeof body?.message === "string" ? body.message : undefined;
    const detail =
      code !== undefined || message !== undefined
        ? [code, message].filter((part) => part !== undefined).join(": ")
        : answer.body;
    if (answer.status !== 429) return rejection(answer, request, detail);
    // Without a readable retry-after, a second: long enough not to hammer, short enough to resume.
    const retryAfterSeconds = answer.retryAfterSeconds ?? 1;
    this.limiter.pauseUntil(this.clock.monotonicMs() + retryAfterSeconds * 1000);
    this.options.metrics.exchangeRateLimitHits.add(1, this.attrs(operation));
    this.options.events.emit("rateLimited", {
      exchange,
      operation,
      retryAfterMs: retryAfterSeconds * 1000,
    });
    this.logger.warn("rate limited by the exchange; pausing requests", {
      operation,
      retry_after_s: retryAfterSeconds,
    });
    return rejection(answer, request, detail, retryAfterSeconds);
  }

  private attrs(operation: string, outcome?: string): Attributes {
    const key = outcome === undefined ? operation : `${operation}|${outcome}`;
    let attrs = this.attrCache.get(key);
    if (!attrs) {
      attrs = { ...this.exchangeAttrs, operation, ...(outcome === undefined ? {} : { outcome }) };
      this.attrCache.set(key, attrs);
    }
    return attrs;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.clock.setTimeout(resolve, ms));
  }

  // --- market-data stream ---

  private connect(): void {
    if (this.stopped) return;
    // The stream outlives any one tick: its callbacks run outside the trace that happened to be active.
    const ws = context.with(ROOT_CONTEXT, () => new WebSocket(this.options.streamUrl));
    this.ws = ws;
    ws.on("open", () => this.onOpen());
    ws.on("message", (data: WebSocket.RawData) => this.onMessage(data));
    ws.on("error", (error) => this.logger.debug("stream error", { error: describeError(error) }));
    ws.on("close", () => {
      if (this.ws === ws) this.onClose();
    });
  }

  private onOpen(): void {
    const { events, exchange, metrics } = this.options;
    this.attempt = 0;
    if (this.everConnected) {
      const downtimeMs = this.clock.now() - this.disconnectedAtMs;
      metrics.exchangeReconnects.add(1, this.exchangeAttrs);
      events.emit("exchangeReconnected", { exchange, downtimeMs });
      this.logger.info("stream reconnected", { downtime_ms: downtimeMs });
    } else {
      this.logger.info("stream connected");
    }
    this.everConnected = true;
    this.setConnected(true, "connected");
  }

  private onMessage(data: WebSocket.RawData): void {
    const receivedAtMs = this.clock.monotonicMs();
    const message = parseStreamMessage(rawText(data));
    if (!message) {
      this.logger.warn("malformed stream message dropped");
      return;
    }
    if (message.type === "tickers") this.options.onMarketData?.(message.tickers, receivedAtMs);
    else this.options.onFill?.(message.fill, message.order);
  }

  private onClose(): void {
    this.ws = undefined;
    if (this.stopped) return;
    if (this.connected) {
      this.disconnectedAtMs = this.clock.now();
      this.options.events.emit("exchangeDisconnected", {
        exchange: this.options.exchange,
        reason: "market-data stream closed",
      });
      this.logger.warn("stream disconnected; reconnecting");
    }
    const initial = this.options.reconnectInitialMs ?? 250;
    const max = this.options.reconnectMaxMs ?? 5_000;
    this.attempt++;
    const delay = backoffDelayMs(this.attempt, { initialDelayMs: initial, maxDelayMs: max, jitter: 0.25 });
    this.setConnected(
      false,
      `${this.everConnected ? "disconnected" : "connecting"}; retry ${this.attempt} in ${Math.round(delay)} ms`,
    );
    this.reconnectTimer = context.with(ROOT_CONTEXT, () =>
      this.clock.setTimeout(() => this.connect(), delay),
    );
  }

  private setConnected(connected: boolean, detail: string): void {
    this.connected = connected;
    this.options.metrics.exchangeConnected.record(connected ? 1 : 0, this.exchangeAttrs);
    this.options.health.report(this.options.exchange, { state: connected ? "up" : "down", detail });
  }
}

function outcomeOf(error: TicktraceError): string {
  switch (error.code) {
    case "RATE_LIMITED":
      return "rate_limited";
    case "TIMEOUT":
      return "timeout";
    case "UNREACHABLE":
      return "unreachable";
    default:
      return error.status !== undefined && error.status >= 500 ? "error" : "rejected";
  }
}

function rawText(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString("utf8");
  return data.toString("utf8");
}
