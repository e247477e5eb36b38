import {
  context as contextApi,
  ROOT_CONTEXT,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from "@opentelemetry/api";
import { systemClock, type Clock } from "../clock.js";
import { describeError } from "../errors.js";
import type { HealthRegistry } from "../health/registry.js";
import { createSilentLogger, type Logger } from "../logging/logger.js";
import type { HotPathRecorder, HotPathSeries } from "../telemetry/hot-path.js";
import type { TradingMetrics } from "../telemetry/metrics.js";
import type { TradingEvents } from "./events.js";
import type { MarketMaker, Quote, QuoteDecision } from "./market-maker.js";
import type { OrderExecutor } from "./order-executor.js";
import type { PositionManager } from "./position-manager.js";
import type { RiskMonitor } from "./risk-monitor.js";
import type { Order, Ticker } from "./wire.js";

/** Lifecycle of the strategy as the orchestrator sees it. */
export type StrategyState = "running" | "faulted" | "stopped";

export interface OrchestratorOptions {
  exchange: string;
  symbols: readonly string[];
  strategy: MarketMaker;
  executor: OrderExecutor;
  positions: PositionManager;
  risk: RiskMonitor;
  metrics: TradingMetrics;
  events: TradingEvents;
  /** The runtime's tracer; each tick is one trace. */
  tracer: Tracer;
  /** Tick-to-trade and tick durations are written here and folded off the tick path. Optional. */
  hotPath?: HotPathRecorder;
  health?: HealthRegistry;
  logger?: Logger;
  clock?: Clock;
  /** A resting quote is replaced only when the wanted price moved more than this (bps). */
  requoteThresholdBps: number;
  /** How long a panicked strategy stays faulted before it is tried again. */
  panicCooldownMs: number;
  /** Called after every tick (see {@link TickListener}). */
  onTick?: TickListener;
}

/**
 * Called after each tick, off the tick-to-trade path. `tick` says what happened; building the
 * full monitoring snapshot is left to the caller (see `createSnapshotSource` in `demo.ts`), so a
 * listener that only needs a count pays nothing for it.
 */
export type TickListener = (tick: TickInfo) => void;

export interface TickInfo {
  seq: number;
  outcome: "ok" | "skipped" | "error";
  /** Wall-clock end of the tick. */
  atMs: number;
  durationMs: number;
  traceId: string;
}

interface PlaceStamps {
  side: Quote["side"];
  start: number;
  ack: number;
  end: number;
  order?: Order;
  error?: unknown;
}

interface SymbolSeries {
  sent: HotPathSeries;
  ack: HotPathSeries;
}

/**
 * The tick loop: one tick per market-data update (updates that arrive during a tick are
 * coalesced into the next). Each tick is a trace: root span `tick` with stage spans
 * `market_data` -> `decide` -> `risk_check` -> `place_order` -> `ack` (the exchange client's
 * HTTP spans sit under `place_order`). Tick-to-trade (market data received to order sent, and
 * to the exchange's ack) goes through the hot-path recorder into
 * `trading_tick_to_trade_duration_seconds{symbol,stage}`.
 *
 * A strategy that throws is contained: the strategy is marked faulted (health `down`, event
 * `strategyPanic`), its orders are cancelled, and it is tried again after `panicCooldownMs`.
 */
export class Orchestrator {
  private readonly options: OrchestratorOptions;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly series = new Map<string, SymbolSeries>();
  private readonly tickSeries: HotPathSeries | undefined;
  private readonly tickCountSeries: Partial<Record<TickInfo["outcome"], HotPathSeries>> = {};
  private readonly tickAttrs: Record<TickInfo["outcome"], Attributes>;
  private readonly heartbeatAttrs: Attributes = {};
  private busy = false;
  private pending: { tickers: readonly Ticker[]; receivedAtMs: number } | undefined;
  private state: StrategyState = "running";
  private faultedUntilMs = 0;
  private breakerHandled = false;
  private current: Promise<void> | undefined;
  private seq = 0;
  private lastTickAtMs: number | undefined;
  private readonly latest = new Map<string, Ticker>();
  /** Ticks by outcome since start. */
  readonly counts = { ok: 0, skipped: 0, error: 0 };

  constructor(options: OrchestratorOptions) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.logger = (options.logger ?? createSilentLogger()).child({
      component: "orchestrator",
      strategy_id: options.strategy.id,
    });
    const strategy = options.strategy.id;
    this.tickAttrs = {
      ok: { strategy, outcome: "ok" },
      skipped: { strategy, outcome: "skipped" },
      error: { strategy, outcome: "error" },
    };
    const hot = options.hotPath;
    if (hot) {
      for (const symbol of options.symbols) {
        this.series.set(symbol, {
          sent: hot.series(options.metrics.tickToTrade, { symbol, stage: "sent" }),
          ack: hot.series(options.metrics.tickToTrade, { symbol, stage: "ack" }),
        });
      }
      this.tickSeries = hot.series(options.metrics.tickDuration, { strategy });
      for (const outcome of ["ok", "skipped", "error"] as const) {
        this.tickCountSeries[outcome] = hot.counterSeries(options.metrics.ticks, this.tickAttrs[outcome]);
      }
    }
    options.health?.register(strategy, { group: "strategies" }, { state: "up", detail: "quoting" });
  }

  get strategyState(): StrategyState {
    return this.state;
  }

  get lastTickAt(): number | undefined {
    return this.lastTickAtMs;
  }

  get ticks(): number {
    return this.seq;
  }

  /** Latest ticker per symbol. */
  ticker(symbol: string): Ticker | undefined {
    return this.latest.get(symbol);
  }

  /** Entry point for market data (the exchange client's `onMarketData`). */
  onMarketData(tickers: readonly Ticker[], receivedAtMs: number): void {
    if (this.state === "stopped") return;
    if (this.busy) {
      this.pending = { tickers, receivedAtMs };
      return;
    }
    this.current = this.run(tickers, receivedAtMs);
  }

  /** Idempotent: stops ticking, waits for the tick in flight and cancels resting orders. */
  async shutdown(): Promise<void> {
    if (this.state === "stopped") return;
    this.state = "stopped";
    this.pending = undefined;
    await this.current;
    await this.options.executor.cancelAll();
    this.options.health?.report(this.options.strategy.id, { state: "up", detail: "stopped" });
  }

  private async run(tickers: readonly Ticker[], receivedAtMs: number): Promise<void> {
    this.busy = true;
    try {
      let next: typeof this.pending = { tickers, receivedAtMs };
      while (next) {
        this.pending = undefined;
        await this.tick(next.tickers, next.receivedAtMs);
        next = this.state === "stopped" ? undefined : this.pending;
      }
    } finally {
      this.busy = false;
    }
  }

  /** One tick; never throws. */
  private async tick(tickers: readonly Ticker[], receivedAtMs: number): Promise<void> {
    const { tracer, metrics, positions, risk, strategy } = this.options;
    // Only the root span is started live (the exchange calls' HTTP spans need it as parent);
    // the stage spans are created after the orders are out, from timestamps taken on the way.
    const root = tracer.startSpan("tick", { attributes: { "strategy.id": strategy.id } }, ROOT_CONTEXT);
    const ctx = trace.setSpan(ROOT_CONTEXT, root);
    const traceId = root.spanContext().traceId;
    let outcome: TickInfo["outcome"] = "ok";
    try {
      const mdStart = this.clock.monotonicMs();
      for (const ticker of tickers) {
        this.latest.set(ticker.symbol, ticker);
        positions.mark(ticker.symbol, (ticker.bid + ticker.ask) / 2);
      }
      const mdEnd = this.clock.monotonicMs();
      outcome = await this.trade(ctx, receivedAtMs, traceId);
      if (root.isRecording()) tracer.startSpan("market_data", { startTime: mdStart }, ctx).end(mdEnd);
      risk.evaluate(positions.totals(), positions.all(), traceId);
    } catch (error) {
      outcome = "error";
      root.recordException(error as Error);
      root.setStatus({ code: SpanStatusCode.ERROR, message: describeError(error) });
      this.logger.error("tick failed", { error: describeError(error) });
    } finally {
      root.setAttribute("tick.outcome", outcome);
      root.end();
    }
    const durationMs = this.clock.monotonicMs() - receivedAtMs;
    const hot = this.options.hotPath;
    if (hot && this.tickSeries !== undefined) {
      hot.record(this.tickSeries, durationMs);
      hot.record(this.tickCountSeries[outcome]!, 1);
    } else {
      metrics.ticks.add(1, this.tickAttrs[outcome]);
    }
    this.seq++;
    this.counts[outcome]++;
    const now = this.clock.now();
    this.lastTickAtMs = now;
    metrics.heartbeat.record(now / 1000, this.heartbeatAttrs);
    const listener = this.options.onTick;
    if (listener) {
      try {
        listener({ seq: this.seq, outcome, atMs: now, durationMs, traceId });
      } catch (error) {
        this.logger.warn("tick listener failed", { error: describeError(error) });
      }
    }
  }

  /** Decide, check and place for every symbol; returns the tick's outcome. */
  private async trade(ctx: Context, receivedAtMs: number, traceId: string): Promise<TickInfo["outcome"]> {
    const { risk, executor, strategy } = this.options;
    if (risk.breakerActive) {
      if (!this.breakerHandled) {
        this.breakerHandled = true;
        this.logger.warn("circuit breaker active: cancelling all orders, trading stopped");
        await executor.cancelAll();
      }
      return "skipped";
    }
    this.breakerHandled = false;
    if (this.state === "faulted") {
      if (this.clock.now() < this.faultedUntilMs) return "skipped";
      this.logger.info("retrying the strategy after its cooldown");
    }
    const results = await Promise.all(
      this.options.symbols.map((symbol) => this.tradeSymbol(ctx, symbol, receivedAtMs, traceId)),
    );
    if (results.includes("panic")) return "error";
    if (this.state === "faulted") {
      this.state = "running";
      this.options.events.emit("strategyRecovered", { strategy: strategy.id });
      this.options.health?.report(strategy.id, { state: "up", detail: "quoting (recovered)" });
      this.logger.info("strategy recovered");
    }
    return "ok";
  }

  private async tradeSymbol(
    ctx: Context,
    symbol: string,
    receivedAtMs: number,
    traceId: string,
  ): Promise<"ok" | "panic"> {
    const { tracer, strategy, positions, risk } = this.options;
    const ticker = this.latest.get(symbol);
    if (!ticker) return "ok";
    const position = positions.position(symbol);
    const decideStart = this.clock.monotonicMs();
    let decision: QuoteDecision;
    try {
      decision = strategy.quote(symbol, ticker.bid, ticker.ask, position.quantity);
    } catch (error) {
      const decide = tracer.startSpan("decide", { startTime: decideStart, attributes: { symbol } }, ctx);
      decide.recordException(error as Error);
      decide.setStatus({ code: SpanStatusCode.ERROR, message: describeError(error) });
      decide.end();
      await this.panic(error, traceId);
      return "panic";
    }
    const checkStart = this.clock.monotonicMs();
    const toPlace: Quote[] = [];
    let rejectedReason: string | undefined;
    const totals = positions.totals();
    for (const quote of [decision.bid, decision.ask]) {
      if (!this.needsRequote(symbol, quote)) continue;
      const verdict = risk.check({ symbol, ...quote }, position, totals);
      if (verdict.approved) toPlace.push(quote);
      else rejectedReason ??= verdict.reason;
    }
    const checkEnd = this.clock.monotonicMs();
    const placed = await Promise.all(toPlace.map((quote) => this.place(ctx, symbol, quote, receivedAtMs)));
    // Off the tick-to-trade path from here: the stage spans, from the timestamps taken above
    // (none for a tick the sampler dropped).
    if (trace.getSpan(ctx)?.isRecording()) {
      tracer.startSpan("decide", { startTime: decideStart, attributes: { symbol } }, ctx).end(checkStart);
      const check = tracer.startSpan("risk_check", { startTime: checkStart, attributes: { symbol } }, ctx);
      if (rejectedReason) check.setAttribute("risk.rejected", rejectedReason);
      check.end(checkEnd);
      for (const stamps of placed) this.placeSpans(ctx, symbol, stamps);
    }
    if (toPlace.length > 0 || rejectedReason) {
      strategy.recordOutcome(decision, position.quantity, rejectedReason === undefined, rejectedReason);
    }
    return "ok";
  }

  private needsRequote(symbol: string, quote: Quote): boolean {
    const resting = this.options.executor.restingOrder(symbol, quote.side);
    if (!resting) return true;
    const moveBps = (Math.abs(quote.price - resting.price) / resting.price) * 10_000;
    return (
      moveBps > this.options.requoteThresholdBps || Math.abs(quote.quantity / resting.quantity - 1) > 0.5
    );
  }

  /** Places one quote; never throws. Returns what the spans need. */
  private async place(
    ctx: Context,
    symbol: string,
    quote: Quote,
    receivedAtMs: number,
  ): Promise<PlaceStamps> {
    const { executor } = this.options;
    const series = this.series.get(symbol);
    const hot = this.options.hotPath;
    const stamps: PlaceStamps = { side: quote.side, start: this.clock.monotonicMs(), ack: 0, end: 0 };
    try {
      const onSent =
        series && hot ? () => hot.record(series.sent, this.clock.monotonicMs() - receivedAtMs) : undefined;
      // The tick's context is active during the call, so the HTTP client spans join the tick's trace.
      const order = await contextApi.with(ctx, () =>
        executor.replace(
          { symbol, side: quote.side, type: "limit", price: quote.price, quantity: quote.quantity },
          onSent,
        ),
      );
      stamps.ack = this.clock.monotonicMs();
      if (series && hot) hot.record(series.ack, stamps.ack - receivedAtMs);
      stamps.order = order;
    } catch (error) {
      stamps.ack = this.clock.monotonicMs();
      stamps.error = error;
      this.logger.warn("order not placed", { symbol, side: quote.side, error: describeError(error) });
    }
    stamps.end = this.clock.monotonicMs();
    return stamps;
  }

  private placeSpans(ctx: Context, symbol: string, stamps: PlaceStamps): void {
    const { tracer, exchange } = this.options;
    const span: Span = tracer.startSpan(
      "place_order",
      { startTime: stamps.start, attributes: { symbol, side: stamps.side, "exchange.name": exchange } },
      ctx,
    );
    if (stamps.order) span.setAttribute("order.id", stamps.order.orderId);
    if (stamps.error !== undefined) {
      span.recordException(stamps.error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: describeError(stamps.error) });
    }
    span.end(stamps.ack);
    if (stamps.order) {
      tracer
        .startSpan(
          "ack",
          { startTime: stamps.ack, attributes: { symbol, "order.status": stamps.order.status } },
          ctx,
        )
        .end(stamps.end);
    }
  }

  private async panic(error: unknown, traceId: string): Promise<void> {
    const { strategy, events, executor, health } = this.options;
    if (this.state === "faulted" && this.clock.now() < this.faultedUntilMs) return;
    this.state = "faulted";
    this.faultedUntilMs = this.clock.now() + this.options.panicCooldownMs;
    const message = describeError(error);
    this.logger.error("strategy panic contained: strategy faulted, orders cancelled", {
      error: message,
      retry_in_ms: this.options.panicCooldownMs,
    });
    events.emit("strategyPanic", { strategy: strategy.id, error: message, traceId });
    health?.report(strategy.id, {
      state: "down",
      detail: `faulted: ${message}; retry in ${this.options.panicCooldownMs} ms`,
    });
    await executor.cancelAll();
  }
}
