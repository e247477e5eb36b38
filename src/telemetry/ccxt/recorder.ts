import type { Clock, TimerHandle } from "../../clock.js";
import { systemClock } from "../../clock.js";
import type { HealthRegistry } from "../../health/registry.js";
import type { BoundRecorder } from "../folded-instruments.js";
import type { TradingMetrics } from "../metrics.js";

/**
 * The events the ccxt instrumentation emits, a subset of the trading event hub's contract
 * (`exchangeDisconnected`, `exchangeReconnected`, `rateLimited`), so the alert hooks that
 * listen to the hub raise the same alerts for a ccxt bot as for the reference process.
 */
export interface ExchangeEventSink {
  emit(event: "exchangeDisconnected", payload: { exchange: string; reason: string }): void;
  emit(event: "exchangeReconnected", payload: { exchange: string; downtimeMs: number }): void;
  emit(event: "rateLimited", payload: { exchange: string; operation: string; retryAfterMs: number }): void;
}

/** Options of {@link ExchangeRecorder}. */
export interface ExchangeRecorderOptions {
  /** The catalogue instruments (the runtime's `metrics`). */
  metrics: TradingMetrics;
  /** Where `exchange.<id>` is reported; omitted, nothing is reported. */
  health?: HealthRegistry;
  /** Where disconnects and rate-limit hits go; omitted, no events are emitted. */
  events?: ExchangeEventSink;
  /**
   * A websocket subscription the bot is waiting on with no message for this long counts as
   * disconnected (the stream died silently). Default 30 000 ms.
   */
  wsSilenceMs?: number;
  /** How often silence is checked and the last-message ages are recorded. Default min(1000, wsSilenceMs / 4). */
  checkIntervalMs?: number;
  clock?: Clock;
}

/** The part of a ccxt websocket client the recorder reads. */
export interface WsClientLike {
  url: string;
  futures?: Record<string, unknown>;
  connectionEstablished?: number;
}

interface ClientState {
  readonly client: WsClientLike;
  readonly exchange: string;
  connected: boolean;
  /** Last message time per messageHash. */
  readonly lastMessageMs: Map<string, number>;
  readonly waitingSinceMs: Map<string, number>;
}

interface ExchangeState {
  readonly id: string;
  readonly clients: Set<ClientState>;
  everConnected: boolean;
  /** Set while every websocket of this exchange is down or silent. */
  downSinceMs: number | undefined;
  /** The message hash whose silence put the exchange down, if that is why it is down. */
  silent: string | undefined;
}

/** The `ok` and `error` series of one exchange and operation. */
export interface CallSeries {
  readonly ok: BoundRecorder;
  readonly error: BoundRecorder;
}

/** `map.get(key)`, or what `make` builds for it, kept. */
function getOrMake<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = make();
    map.set(key, value);
  }
  return value;
}

const ERROR_NAME = /^[A-Z][A-Za-z0-9]{1,48}$/;

/** The bounded `error_type` label of an error: its ccxt class name (`RateLimitExceeded`, ...), else `Error`. */
export function errorType(error: unknown): string {
  if (error === null || typeof error !== "object") return "Error";
  const name = (error as { name?: unknown }).name;
  if (typeof name === "string" && ERROR_NAME.test(name)) return name;
  const ctor = (error as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof ctor === "string" && ERROR_NAME.test(ctor) ? ctor : "Error";
}

/** ccxt's two error classes for "slow down": siblings in its error tree, so both are named. */
export const RATE_LIMIT_ERRORS: ReadonlySet<string> = new Set(["RateLimitExceeded", "DDoSProtection"]);

/** HTTP statuses exchanges use for "slow down": 429, and Binance's 418 (IP banned for ignoring 429s). */
export const RATE_LIMIT_STATUSES: ReadonlySet<number> = new Set([429, 418]);

/**
 * The bounded `channel` label of a ccxt message hash: its leading word (`ticker:BTC/USDT` ->
 * `ticker`, `orderbook::ETH/USDT` -> `orderbook`, `myTrades` -> `mytrades`), so the symbol part
 * never becomes a label value.
 */
export function channelOf(messageHash: unknown): string {
  if (typeof messageHash !== "string") return "other";
  const match = /^[A-Za-z]+/.exec(messageHash);
  return match ? match[0].slice(0, 32).toLowerCase() : "other";
}

/** Milliseconds from a `Retry-After` value (seconds or an HTTP date); 0 when absent or unreadable. */
export function retryAfterMs(value: unknown, nowMs: number): number {
  const text = Array.isArray(value) ? String(value[0]) : typeof value === "string" ? value.trim() : "";
  if (text === "") return 0;
  const seconds = Number(text);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(text);
  return Number.isNaN(date) ? 0 : Math.max(0, date - nowMs);
}

/** The exchange's own timestamp of a ccxt result (ticker, order book, trade list), if it has one. */
function exchangeTimestamp(result: unknown): number | undefined {
  let value: unknown = result;
  if (Array.isArray(value)) value = value[value.length - 1];
  if (value === null || typeof value !== "object") return undefined;
  const ts = (value as { timestamp?: unknown }).timestamp;
  return typeof ts === "number" && ts > 0 ? ts : undefined;
}

/**
 * Turns what the ccxt instrumentation sees into the catalogue's exchange metrics, `/health`
 * (`exchange.<id>`) and the trading events the alert hooks listen to. The websocket watchdog
 * runs between {@link start} and {@link shutdown} and never throws.
 */
export class ExchangeRecorder {
  private readonly metrics: TradingMetrics;
  private readonly clock: Clock;
  private readonly silenceMs: number;
  private readonly intervalMs: number;
  private readonly exchanges = new Map<string, ExchangeState>();
  /**
   * The bound series of every call and attempt seen, by exchange, then operation or method
   * (then status): a call records into a handle found by two or three `Map.get`s, with no
   * attribute object. The keys are the bounded label values themselves.
   */
  private readonly callSeriesOf = new Map<string, Map<string, CallSeries>>();
  private readonly httpSeries = new Map<string, Map<string, Map<number | undefined, BoundRecorder>>>();
  private timer: TimerHandle | undefined;

  constructor(private readonly options: ExchangeRecorderOptions) {
    this.metrics = options.metrics;
    this.clock = options.clock ?? systemClock;
    this.silenceMs = options.wsSilenceMs ?? 30_000;
    this.intervalMs = options.checkIntervalMs ?? Math.max(10, Math.min(1000, Math.floor(this.silenceMs / 4)));
  }

  /** Starts the websocket watchdog (an unref'd timer). Idempotent. */
  start(): void {
    if (this.timer) return;
    const tick = () => {
      this.check();
      this.timer = this.clock.setTimeout(tick, this.intervalMs);
    };
    this.timer = this.clock.setTimeout(tick, this.intervalMs);
  }

  /** Stops the watchdog. Idempotent. */
  shutdown(): Promise<void> {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    return Promise.resolve();
  }

  /** A new exchange instance was constructed. */
  exchangeSeen(exchange: string): void {
    this.exchange(exchange);
  }

  /** One unified call finished (only the bot's own calls, not those ccxt makes inside them). */
  call(exchange: string, operation: string, seconds: number, error: unknown): void {
    const series = this.callSeries(exchange, operation);
    (error === undefined ? series.ok : series.error).record(seconds);
  }

  /**
   * The bound `trading_exchange_request_duration_seconds` series of one exchange and operation,
   * for a caller that keeps them (the instrumentation does, per unified method and exchange).
   */
  callSeries(exchange: string, operation: string): CallSeries {
    const byOperation = getOrMake(this.callSeriesOf, exchange, () => new Map<string, CallSeries>());
    return getOrMake(byOperation, operation, () => {
      const histogram = this.metrics.exchangeRequestDuration;
      return {
        ok: histogram.bind({ exchange, operation, outcome: "ok" }),
        error: histogram.bind({ exchange, operation, outcome: "error" }),
      };
    });
  }

  /** An error of a unified call that no HTTP attempt counted (raised before any request was sent). */
  callError(exchange: string, operation: string, error: unknown): void {
    this.metrics.exchangeErrors.add(1, { exchange, operation, error_type: errorType(error) });
  }

  /** Time a request waited in ccxt's throttler. */
  rateLimitWait(exchange: string, operation: string, seconds: number): void {
    this.metrics.exchangeRateLimitWait.record(seconds, { exchange, operation });
  }

  /**
   * One HTTP attempt finished. `status` is undefined when no response arrived (timeout, network
   * error); `error` is what ccxt threw for it, if anything.
   */
  attempt(
    exchange: string,
    operation: string,
    method: string,
    seconds: number,
    status: number | undefined,
    retryAfter: unknown,
    error: unknown,
  ): void {
    // Plain lookups, no closures: this runs once per request.
    let byMethod = this.httpSeries.get(exchange);
    if (byMethod === undefined) {
      byMethod = new Map();
      this.httpSeries.set(exchange, byMethod);
    }
    let byStatus = byMethod.get(method);
    if (byStatus === undefined) {
      byStatus = new Map();
      byMethod.set(method, byStatus);
    }
    let series = byStatus.get(status);
    if (series === undefined) {
      series = this.metrics.exchangeHttpDuration.bind(
        status === undefined ? { exchange, method } : { exchange, method, status_code: String(status) },
      );
      byStatus.set(status, series);
    }
    series.record(seconds);
    if (error === undefined) return;
    const type = errorType(error);
    this.metrics.exchangeErrors.add(1, { exchange, operation, error_type: type });
    if ((status !== undefined && RATE_LIMIT_STATUSES.has(status)) || RATE_LIMIT_ERRORS.has(type)) {
      this.metrics.exchangeRateLimitHits.add(1, { exchange, operation });
      this.options.events?.emit("rateLimited", {
        exchange,
        operation,
        retryAfterMs: retryAfterMs(retryAfter, this.clock.now()),
      });
    }
  }

  /** A websocket client was created; the returned state is passed back on its events. */
  wsClient(exchange: string, client: WsClientLike): ClientState {
    const state: ClientState = {
      client,
      exchange,
      connected: false,
      lastMessageMs: new Map(),
      waitingSinceMs: new Map(),
    };
    this.exchange(exchange).clients.add(state);
    return state;
  }

  wsConnected(state: ClientState): void {
    const ex = this.exchange(state.exchange);
    state.connected = true;
    const attrs = { exchange: state.exchange };
    this.metrics.exchangeWsConnects.add(1, attrs);
    this.metrics.exchangeConnected.record(1, attrs);
    if (ex.everConnected && ex.downSinceMs !== undefined) {
      this.metrics.exchangeReconnects.add(1, attrs);
      this.recovered(ex);
    } else {
      ex.downSinceMs = undefined;
      this.report(ex, "up", "websocket connected");
    }
    ex.everConnected = true;
  }

  /** The connection closed or failed; `byUser` when the bot closed it (`exchange.close()`). */
  wsDisconnected(state: ClientState, reason: string, byUser: boolean): void {
    const ex = this.exchange(state.exchange);
    const wasConnected = state.connected;
    state.connected = false;
    ex.clients.delete(state);
    if (byUser) {
      if (![...ex.clients].some((c) => c.connected)) {
        this.metrics.exchangeConnected.record(0, { exchange: ex.id });
        this.report(ex, "up", "websocket closed by the bot");
      }
      return;
    }
    if (!wasConnected && ex.downSinceMs !== undefined) return;
    if ([...ex.clients].some((c) => c.connected)) return;
    this.metrics.exchangeConnected.record(0, { exchange: ex.id });
    this.down(ex, `websocket ${reason}`);
  }

  /** One message delivered for `messageHash`. */
  wsMessage(state: ClientState, messageHash: unknown, result: unknown): void {
    const now = this.clock.now();
    const channel = channelOf(messageHash);
    const attrs = { exchange: state.exchange, channel };
    this.metrics.exchangeWsMessages.add(1, attrs);
    const ts = exchangeTimestamp(result);
    if (ts !== undefined && ts <= now + 60_000) {
      this.metrics.exchangeWsMessageLag.record(Math.max(0, now - ts) / 1000, attrs);
    }
    if (typeof messageHash === "string") state.lastMessageMs.set(messageHash, now);
    const ex = this.exchange(state.exchange);
    if (ex.silent === messageHash) this.recovered(ex);
  }

  /**
   * The watchdog: records the age of the last message of every stream of a connected websocket
   * (and of every subscription the bot waits on that has had none yet), and reports the
   * exchange down when one has been silent past `wsSilenceMs`.
   */
  check(): void {
    try {
      const now = this.clock.now();
      for (const ex of this.exchanges.values()) {
        const ages = new Map<string, number>();
        let silentOn: string | undefined;
        for (const state of ex.clients) {
          if (!state.connected) continue;
          // Every stream that has delivered on this connection (ccxt keeps receiving a subscribed
          // stream whether or not the bot awaits it), and every one the bot waits on that has not yet.
          const pending = Object.keys(state.client.futures ?? {});
          const waiting = new Set(pending);
          for (const hash of state.waitingSinceMs.keys())
            if (!waiting.has(hash)) state.waitingSinceMs.delete(hash);
          for (const hash of pending)
            if (!state.waitingSinceMs.has(hash)) state.waitingSinceMs.set(hash, now);
          for (const hash of new Set([...state.lastMessageMs.keys(), ...pending])) {
            const since = state.lastMessageMs.get(hash) ?? state.waitingSinceMs.get(hash) ?? now;
            const age = now - since;
            const channel = channelOf(hash);
            ages.set(channel, Math.max(ages.get(channel) ?? 0, age));
            if (age >= this.silenceMs && silentOn === undefined) silentOn = hash;
          }
        }
        for (const [channel, age] of ages) {
          this.metrics.exchangeWsLastMessageAge.record(age / 1000, { exchange: ex.id, channel });
        }
        if (silentOn !== undefined && ex.silent === undefined && ex.downSinceMs === undefined) {
          ex.silent = silentOn;
          this.down(
            ex,
            `websocket silent: no ${channelOf(silentOn)} message for ${Number((this.silenceMs / 1000).toFixed(1))}s (telemetry.ccxt.ws_silence_ms)`,
          );
        }
      }
    } catch {
      // a background check never throws; the next tick tries again
    }
  }

  private exchange(id: string): ExchangeState {
    let ex = this.exchanges.get(id);
    if (!ex) {
      ex = { id, clients: new Set(), everConnected: false, downSinceMs: undefined, silent: undefined };
      this.exchanges.set(id, ex);
      this.options.health?.register(
        `exchange.${id}`,
        { group: "exchanges", required: false },
        { state: "up", detail: "no websocket" },
      );
    }
    return ex;
  }

  private down(ex: ExchangeState, reason: string): void {
    ex.downSinceMs = this.clock.now();
    this.report(ex, "down", reason);
    this.options.events?.emit("exchangeDisconnected", { exchange: ex.id, reason });
  }

  private recovered(ex: ExchangeState): void {
    const downtimeMs = ex.downSinceMs === undefined ? 0 : this.clock.now() - ex.downSinceMs;
    ex.downSinceMs = undefined;
    ex.silent = undefined;
    this.report(ex, "up", "websocket connected");
    this.options.events?.emit("exchangeReconnected", { exchange: ex.id, downtimeMs });
  }

  private report(ex: ExchangeState, state: "up" | "down", detail: string): void {
    this.options.health?.report(`exchange.${ex.id}`, { state, detail });
  }
}
