import { context as contextApi, type Attributes, type Context, type Tracer } from "@opentelemetry/api";
import { systemClock, type Clock } from "../clock.js";
import { describeError } from "../errors.js";
import type { HealthRegistry } from "../health/registry.js";
import { createSilentLogger, type Logger } from "../logging/logger.js";
import type { HotPathRecorder, HotPathSeries } from "../telemetry/hot-path.js";
import type { TradingMetrics } from "../telemetry/metrics.js";
import {
  sdkTickTracerFactory,
  type StageKind,
  type TickTracer,
  type TickTracerFactory,
} from "../telemetry/tick-trace/tick-tracer.js";
import type { TradingEvents } from "../events/trading-events.js";
import type {
  Executor,
  PortfolioTotals,
  Position,
  PositionBook,
  Quote,
  Quotes,
  RiskCheck,
  Strategy,
} from "./types.js";
import type { Order, OrderStatus, PlaceOrderRequest, Side, Ticker } from "./venues/wire.js";

/** Lifecycle of the strategy as the orchestrator sees it. */
export type StrategyState = "running" | "faulted" | "stopped";

export interface OrchestratorOptions {
  exchange: string;
  symbols: readonly string[];
  /** Decides the quotes; the market maker, or a bot's own {@link Strategy}. */
  strategy: Strategy;
  /** Keeps the resting orders on the venue (the order executor). */
  executor: Executor;
  positions: PositionBook;
  /** Approves each quote before it is placed; the risk monitor, or a bot's own {@link RiskCheck}. */
  risk: RiskCheck;
  metrics: TradingMetrics;
  events: TradingEvents;
  /** The runtime's tracer; each tick is one trace. */
  tracer: Tracer;
  /**
   * Where tick spans are recorded (the runtime's `tickTracing`: a worker thread by default);
   * without it, SDK spans from {@link tracer} on the trading thread. Same span tree either way.
   */
  tickTracing?: TickTracerFactory;
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
 * full monitoring snapshot is left to the caller (see `createSnapshotSource` in `src/demo/snapshot.ts`), so a
 * listener that only needs a count pays nothing for it.
 */
export type TickListener = (tick: TickInfo) => void;

/** What one tick did. */
export interface TickInfo {
  /** The tick's number, from 1. */
  seq: number;
  /** `ok`; `skipped` (breaker active, or the strategy faulted and cooling down); `error` (the strategy threw). */
  outcome: "ok" | "skipped" | "error";
  /** Wall-clock end of the tick. */
  atMs: number;
  /** Market data received to the end of the tick. */
  durationMs: number;
  /** The tick's trace. */
  traceId: string;
}

/**
 * One quote's placement within a tick: the timestamps the `place_order` and `ack` spans are
 * built from. One per symbol and side, reused every tick (ticks never overlap).
 */
interface PlaceSlot {
  /** `place_order` with `{ symbol, side, exchange.name }` and the extra key `order.id`. */
  readonly kind: StageKind;
  placed: boolean;
  /** Index in the tick's stamps of this placement's start: the risk check's end, or its own reading. */
  startAt: number;
  /** Index in the tick's stamps of its ack (which ends `place_order`). */
  readonly ackAt: number;
  order: Order | undefined;
  error: unknown;
}

/** Per symbol, built once: span attributes, hot-path series and this tick's stage timestamps. */
interface SymbolState {
  readonly symbol: string;
  /** `decide` with `{ symbol }`. */
  readonly decideKind: StageKind;
  /** `risk_check` with `{ symbol }` and the extra key `risk.rejected`. */
  readonly riskKind: StageKind;
  /** `ack` with `{ symbol, order.status }`, per status seen. */
  readonly ackKinds: Partial<Record<OrderStatus, StageKind>>;
  readonly ackSeries: HotPathSeries | undefined;
  /** Records tick-to-trade (sent) when the placement goes on the wire; undefined without a hot path. */
  readonly onSent: (() => void) | undefined;
  readonly bid: PlaceSlot;
  readonly ask: PlaceSlot;
  /** Whether this tick got as far as a decision (and so has decide/risk_check spans). */
  decided: boolean;
  /** Index in the tick's stamps where `decide` starts: the end of market_data, or its own reading. */
  decideAt: number;
  /** Indexes of this symbol's own readings in the tick's stamps (see {@link Orchestrator.stamps}). */
  readonly ownDecideAt: number;
  /** `decide` ends and `risk_check` starts here. */
  readonly checkAt: number;
  /** `risk_check` ends here, where the first placement starts. */
  readonly checkEndAt: number;
  /** The second placement's start. */
  readonly secondStartAt: number;
  rejected: string | undefined;
}

/** Stamp indexes of the tick itself: market_data starts with the tick and ends at MD_END. */
const MD_START = 0;
const MD_END = 1;
/** Stamps per symbol after the tick's own: decide, check, check end, second start, two acks. */
const STAMPS_PER_SYMBOL = 6;

/**
 * The tick loop: one tick per market-data update (updates that arrive during a tick are
 * coalesced into the next). Each tick is a trace: root span `tick` with stage spans
 * `market_data` -> `decide` -> `risk_check` -> `place_order` -> `ack` (the exchange client's
 * HTTP spans sit under `tick`, whose context is active while orders are sent). Tick-to-trade
 * (market data received to order sent, and to the exchange's ack) goes through the hot-path
 * recorder into `trading_tick_to_trade_duration_seconds{symbol,stage}`.
 *
 * The tick path pays as little as possible for its telemetry: only the root is started live
 * (its context is the parent of the exchange calls' spans); the stage spans are recorded after
 * the orders are out, from monotonic timestamps taken on the way, with attributes built once per
 * symbol; a tick the sampler dropped records no stage span and no attribute at all. With the
 * worker tick tracer (see `src/telemetry/tick-trace/`) recording a span is a few stores into
 * shared memory; spans are built and exported on another thread.
 *
 * A strategy that throws is contained: the strategy is marked faulted (health `down`, event
 * `strategyPanic`), its orders are cancelled, and it is tried again after `panicCooldownMs`.
 * Otherwise the strategy's health (group `strategies`) says `quoting`, or `halted` (`degraded`)
 * while the risk check's breaker is active or the exchange's stream is down.
 */
export class Orchestrator {
  private readonly options: OrchestratorOptions;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly symbolStates: SymbolState[] = [];
  private readonly tickSeries: HotPathSeries | undefined;
  private readonly tickCountSeries: Partial<Record<TickInfo["outcome"], HotPathSeries>> = {};
  private readonly tickAttrs: Record<TickInfo["outcome"], Attributes>;
  /** `tick` with `{ strategy.id }` and the extra key `tick.outcome`. */
  private readonly rootKind: StageKind;
  private readonly marketDataKind: StageKind;
  /** The heartbeat gauge's one series, bound once (a record is then an assignment, no lookup). */
  private readonly heartbeat: { record(value: number): void };
  private busy = false;
  private pending: { tickers: readonly Ticker[]; receivedAtMs: number } | undefined;
  private state: StrategyState = "running";
  private faultedUntilMs = 0;
  private breakerHandled = false;
  /** Why the venue's market-data stream is down, while it is (the strategy is halted then). */
  private venueDownReason: string | undefined;
  private readonly unsubscribe: (() => void)[] = [];
  private current: Promise<void> | undefined;
  private seq = 0;
  private lastTickAtMs: number | undefined;
  /** Market data received (monotonic) of the tick in flight, for the prebuilt `onSent` callbacks. */
  private receivedAtMs = 0;
  /**
   * The readings of the tick in flight that only stage spans use (monotonic ms), by index:
   * {@link MD_START}, {@link MD_END}, then {@link STAMPS_PER_SYMBOL} per symbol. Kept in a typed
   * array and handed to the tracer with indexes, so no reading is boxed into a heap number on
   * its way (a double passed to a call V8 does not inline is; it was ~20 allocations a tick).
   */
  private readonly stamps: Float64Array;
  /** Whether the tick in flight is sampled (see {@link stamp}). */
  private sampled = false;
  private readonly tickTracer: TickTracer;
  private readonly latest = new Map<string, Ticker>();
  /** Ticks by outcome since start. */
  readonly counts = { ok: 0, skipped: 0, error: 0 };

  constructor(options: OrchestratorOptions) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.tickTracer = (options.tickTracing ?? sdkTickTracerFactory(options.tracer))({ clock: this.clock });
    this.logger = (options.logger ?? createSilentLogger()).child({
      component: "orchestrator",
      strategy_id: options.strategy.id,
    });
    const strategy = options.strategy.id;
    const tickTracer = this.tickTracer;
    this.rootKind = tickTracer.kind("tick", { "strategy.id": strategy }, "tick.outcome");
    this.marketDataKind = tickTracer.kind("market_data", undefined);
    this.heartbeat = options.metrics.heartbeat.bind({});
    this.tickAttrs = {
      ok: { strategy, outcome: "ok" },
      skipped: { strategy, outcome: "skipped" },
      error: { strategy, outcome: "error" },
    };
    const hot = options.hotPath;
    this.stamps = new Float64Array(2 + STAMPS_PER_SYMBOL * options.symbols.length);
    for (const [i, symbol] of options.symbols.entries()) {
      const sent = hot?.series(options.metrics.tickToTrade, { symbol, stage: "sent" });
      const base = 2 + STAMPS_PER_SYMBOL * i;
      const slot = (side: Side, ackAt: number): PlaceSlot => ({
        kind: tickTracer.kind("place_order", { symbol, side, "exchange.name": options.exchange }, "order.id"),
        placed: false,
        startAt: base + 2,
        ackAt,
        order: undefined,
        error: undefined,
      });
      this.symbolStates.push({
        symbol,
        decideKind: tickTracer.kind("decide", { symbol }),
        riskKind: tickTracer.kind("risk_check", { symbol }, "risk.rejected"),
        ackKinds: {},
        ackSeries: hot?.series(options.metrics.tickToTrade, { symbol, stage: "ack" }),
        onSent:
          hot && sent !== undefined
            ? () => hot.record(sent, this.clock.monotonicMs() - this.receivedAtMs)
            : undefined,
        bid: slot("buy", base + 4),
        ask: slot("sell", base + 5),
        decided: false,
        decideAt: base,
        ownDecideAt: base,
        checkAt: base + 1,
        checkEndAt: base + 2,
        secondStartAt: base + 3,
        rejected: undefined,
      });
    }
    if (hot) {
      this.tickSeries = hot.series(options.metrics.tickDuration, { strategy });
      for (const outcome of ["ok", "skipped", "error"] as const) {
        this.tickCountSeries[outcome] = hot.counterSeries(options.metrics.ticks, this.tickAttrs[outcome]);
      }
    }
    options.health?.register(strategy, { group: "strategies" }, { state: "up", detail: "quoting" });
    if (options.health) {
      // The stream stops during an outage, and with it the ticks: only the venue's events tell.
      this.unsubscribe.push(
        options.events.on("exchangeDisconnected", (e) => {
          if (e.exchange !== options.exchange) return;
          this.venueDownReason = e.reason;
          this.reportHealth();
        }),
        options.events.on("exchangeReconnected", (e) => {
          if (e.exchange !== options.exchange || this.venueDownReason === undefined) return;
          this.venueDownReason = undefined;
          this.reportHealth();
        }),
      );
    }
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
    for (const off of this.unsubscribe.splice(0)) off();
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
    const { metrics, positions, risk } = this.options;
    const tickTracer = this.tickTracer;
    const tickStart = this.clock.monotonicMs();
    this.stamps[MD_START] = tickStart;
    this.receivedAtMs = receivedAtMs;
    // Only the root is started live (the exchange calls' HTTP spans need it as parent); the
    // stage spans are recorded after the orders are out, from timestamps taken on the way.
    tickTracer.startTick(tickStart, this.rootKind);
    const sampled = tickTracer.sampled;
    this.sampled = sampled;
    const ctx = tickTracer.context;
    const traceId = tickTracer.traceId;
    let outcome: TickInfo["outcome"] = "ok";
    let failure: unknown;
    try {
      // market_data starts with the tick: one reading for both.
      for (const ticker of tickers) {
        this.latest.set(ticker.symbol, ticker);
        positions.mark(ticker.symbol, (ticker.bid + ticker.ask) / 2);
      }
      this.stamp(MD_END);
      outcome = await this.trade(ctx, traceId);
      // Off the tick-to-trade path from here.
      if (sampled) this.stageSpans();
      risk.evaluate?.(positions.totals(), positions.all(), traceId);
    } catch (error) {
      outcome = "error";
      failure = error;
      this.logger.error("tick failed", { error: describeError(error) });
    }
    const tickEnd = this.clock.monotonicMs();
    tickTracer.endTick(tickEnd, outcome, failure);
    const durationMs = tickEnd - receivedAtMs;
    const hot = this.options.hotPath;
    const countSeries = this.tickCountSeries[outcome];
    if (hot && this.tickSeries !== undefined && countSeries !== undefined) {
      hot.record(this.tickSeries, durationMs);
      hot.record(countSeries, 1);
    } else {
      metrics.ticks.add(1, this.tickAttrs[outcome]);
    }
    this.seq++;
    this.counts[outcome]++;
    const now = this.clock.now();
    this.lastTickAtMs = now;
    this.heartbeat.record(now / 1000);
    const listener = this.options.onTick;
    if (listener) {
      try {
        listener({ seq: this.seq, outcome, atMs: now, durationMs, traceId });
      } catch (error) {
        this.logger.warn("tick listener failed", { error: describeError(error) });
      }
    }
  }

  /**
   * Decide, check and place for every symbol; returns the tick's outcome. The first symbol's
   * decide starts at the end of market_data ({@link MD_END}).
   */
  private async trade(ctx: Context, traceId: string): Promise<TickInfo["outcome"]> {
    const { risk, executor, strategy } = this.options;
    for (const state of this.symbolStates) state.decided = false;
    if (risk.breakerActive) {
      if (!this.breakerHandled) {
        this.breakerHandled = true;
        this.logger.warn("circuit breaker active: cancelling all orders, trading stopped");
        this.reportHealth();
        await executor.cancelAll();
      }
      return "skipped";
    }
    if (this.breakerHandled) {
      this.breakerHandled = false;
      this.reportHealth();
    }
    if (this.state === "faulted") {
      if (this.clock.now() < this.faultedUntilMs) return "skipped";
      this.logger.info("retrying the strategy after its cooldown");
    }
    const trades: Promise<"ok" | "panic">[] = [];
    for (const state of this.symbolStates) {
      // One reading ends market_data and starts the first decide (only this loop's set-up runs
      // in between); later symbols start after the placements before them went out.
      trades.push(this.tradeSymbol(ctx, state, traceId, trades.length === 0));
    }
    const results = await Promise.all(trades);
    if (results.includes("panic")) return "error";
    if (this.state === "faulted") {
      this.state = "running";
      this.options.events.emit("strategyRecovered", { strategy: strategy.id });
      this.reportHealth(" (recovered)");
      this.logger.info("strategy recovered");
    }
    return "ok";
  }

  private async tradeSymbol(
    ctx: Context,
    state: SymbolState,
    traceId: string,
    startsAtMarketDataEnd: boolean,
  ): Promise<"ok" | "panic"> {
    const { strategy, positions } = this.options;
    const { symbol } = state;
    const ticker = this.latest.get(symbol);
    if (!ticker) return "ok";
    const position = positions.position(symbol);
    if (startsAtMarketDataEnd) state.decideAt = MD_END;
    else {
      state.decideAt = state.ownDecideAt;
      this.stamp(state.ownDecideAt);
    }
    let decision: Quotes;
    try {
      decision = strategy.quote(symbol, ticker.bid, ticker.ask, position.quantity);
    } catch (error) {
      if (this.sampled) {
        this.stamp(state.checkAt);
        this.tickTracer.span(state.decideKind, this.stamps, state.decideAt, state.checkAt, undefined, error);
      }
      await this.panic(error, traceId);
      return "panic";
    }
    this.stamp(state.checkAt);
    // Widened: approve() below sets it, which narrowing from this reset cannot see.
    state.rejected = undefined as string | undefined;
    const totals = positions.totals();
    const wantBid = decision.bid;
    const wantAsk = decision.ask;
    const placeBid = wantBid !== undefined && this.approve(state, wantBid, position, totals);
    const placeAsk = wantAsk !== undefined && this.approve(state, wantAsk, position, totals);
    this.stamp(state.checkEndAt);
    state.decided = true;
    state.bid.placed = placeBid;
    state.ask.placed = placeAsk;
    // Both placements are in flight together; `place` never rejects. The first starts where the
    // risk check ended (one reading for both: nothing runs in between).
    state.bid.startAt = state.checkEndAt;
    const bid = placeBid ? this.place(ctx, state, state.bid, wantBid) : undefined;
    if (placeBid) {
      state.ask.startAt = state.secondStartAt;
      this.stamp(state.secondStartAt);
    } else {
      state.ask.startAt = state.checkEndAt;
    }
    const ask = placeAsk ? this.place(ctx, state, state.ask, wantAsk) : undefined;
    if (bid) await bid;
    if (ask) await ask;
    if (placeBid || placeAsk || state.rejected !== undefined) {
      strategy.recordOutcome?.(decision, position.quantity, state.rejected === undefined, state.rejected);
    }
    return "ok";
  }

  /** Whether `quote` should be placed: it moved enough to requote and risk approves it. */
  private approve(state: SymbolState, quote: Quote, position: Position, totals: PortfolioTotals): boolean {
    if (!this.needsRequote(state.symbol, quote)) return false;
    const verdict = this.options.risk.check(
      { symbol: state.symbol, side: quote.side, price: quote.price, quantity: quote.quantity },
      position,
      totals,
    );
    if (verdict.approved) return true;
    state.rejected ??= verdict.reason;
    return false;
  }

  private needsRequote(symbol: string, quote: Quote): boolean {
    const resting = this.options.executor.restingOrder(symbol, quote.side);
    if (!resting) return true;
    const moveBps = (Math.abs(quote.price - resting.price) / resting.price) * 10_000;
    return (
      moveBps > this.options.requoteThresholdBps || Math.abs(quote.quantity / resting.quantity - 1) > 0.5
    );
  }

  /** Places one quote (from `slot.startAt`) and notes its ack and outcome in `slot`; never throws. */
  private async place(ctx: Context, state: SymbolState, slot: PlaceSlot, quote: Quote): Promise<void> {
    const { executor } = this.options;
    const hot = this.options.hotPath;
    slot.order = undefined;
    slot.error = undefined;
    try {
      // The tick's context is active during the call, so the HTTP client spans join the tick's
      // trace; for a tick the sampler dropped this keeps them unsampled too (parent-based sampler)
      // instead of each starting a trace of its own.
      const request: PlaceOrderRequest = {
        symbol: state.symbol,
        side: quote.side,
        type: "limit",
        price: quote.price,
        quantity: quote.quantity,
      };
      slot.order = await contextApi.with(ctx, () => executor.replace(request, state.onSent));
      // The ack is a moment: `ack` starts and ends at this reading, which also ends place_order
      // (what followed it on the tick path was the hot-path record, tens of nanoseconds).
      if (hot && state.ackSeries !== undefined) {
        const ack = this.clock.monotonicMs();
        this.stamps[slot.ackAt] = ack;
        hot.record(state.ackSeries, ack - this.receivedAtMs);
      } else {
        this.stamp(slot.ackAt);
      }
    } catch (error) {
      this.stamp(slot.ackAt);
      slot.error = error;
      this.logger.warn("order not placed", {
        symbol: state.symbol,
        side: quote.side,
        error: describeError(error),
      });
    }
  }

  /** The stage spans of a sampled tick, from the readings its stages left in {@link stamps}. */
  private stageSpans(): void {
    const tickTracer = this.tickTracer;
    const stamps = this.stamps;
    tickTracer.span(this.marketDataKind, stamps, MD_START, MD_END);
    for (const state of this.symbolStates) {
      if (!state.decided) continue;
      tickTracer.span(state.decideKind, stamps, state.decideAt, state.checkAt);
      tickTracer.span(state.riskKind, stamps, state.checkAt, state.checkEndAt, state.rejected);
      if (state.bid.placed) this.placeSpans(state, state.bid);
      if (state.ask.placed) this.placeSpans(state, state.ask);
    }
  }

  private placeSpans(state: SymbolState, slot: PlaceSlot): void {
    const tickTracer = this.tickTracer;
    const order = slot.order;
    tickTracer.span(slot.kind, this.stamps, slot.startAt, slot.ackAt, order?.orderId, slot.error);
    if (order) {
      const kind = (state.ackKinds[order.status] ??= tickTracer.kind("ack", {
        symbol: state.symbol,
        "order.status": order.status,
      }));
      tickTracer.span(kind, this.stamps, slot.ackAt, slot.ackAt);
    }
  }

  /**
   * A reading only a stage span uses, into {@link stamps} at `index`: taken when the tick in
   * flight is sampled, else skipped (a clock read is ~40 ns, and a traced tick takes 18).
   */
  private stamp(index: number): void {
    if (this.sampled) this.stamps[index] = this.clock.monotonicMs();
  }

  /**
   * The strategy's health from its state, on each change of state (never per tick): halted
   * (`degraded`) while the breaker is active or the venue's stream is down, else quoting. A
   * faulted strategy keeps the `down` report {@link panic} made.
   */
  private reportHealth(note = ""): void {
    const { health, strategy, exchange } = this.options;
    if (!health || this.state === "faulted") return;
    if (this.state === "stopped") health.report(strategy.id, { state: "up", detail: "stopped" });
    else if (this.breakerHandled)
      health.report(strategy.id, {
        state: "degraded",
        detail: "halted: circuit breaker active, orders cancelled",
      });
    else if (this.venueDownReason !== undefined)
      health.report(strategy.id, {
        state: "degraded",
        detail: `halted: exchange ${exchange} disconnected (${this.venueDownReason})`,
      });
    else health.report(strategy.id, { state: "up", detail: `quoting${note}` });
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
