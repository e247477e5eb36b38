/**
 * The contracts of the trading concerns, in the order data flows through a tick:
 * market data (a {@link Venue}'s stream) -> {@link Strategy} -> {@link RiskCheck} ->
 * {@link Executor} -> {@link Venue}, with the {@link PositionBook} marked on every tick and
 * updated on every fill.
 *
 * The reference orchestrator takes each concern by these interfaces, so a bot's own strategy
 * or risk check plugs into it in place of the market maker or the risk monitor. The reference
 * parts live beside them: `strategy/market-maker.ts`, `risk/risk-monitor.ts`,
 * `execution/order-executor.ts`, `portfolio/position-manager.ts`, `venues/`.
 */
import type { Order, PlaceOrderRequest, Side } from "./venues/wire.js";

/** One side of a two-sided quote. */
export interface Quote {
  /** `buy` or `sell`. */
  side: Side;
  /** Limit price. */
  price: number;
  /** Base quantity. */
  quantity: number;
}

/**
 * What a strategy wants resting on the book for one symbol. A side left out is not quoted
 * this tick: whatever rests there stays.
 */
export interface Quotes {
  /** The buy order wanted resting (`side: "buy"`). */
  readonly bid?: Quote | undefined;
  /** The sell order wanted resting (`side: "sell"`). */
  readonly ask?: Quote | undefined;
}

/**
 * A quoting strategy. Called once per symbol on every tick, on the tick-to-trade path, so it
 * should be pure and quick. A `quote` that throws is contained by the orchestrator: the strategy
 * is marked faulted (health `down`, event `strategyPanic`), its orders are cancelled, and it is
 * tried again after the cool-down.
 *
 * `D` is the strategy's own decision type; the orchestrator hands the same object back to
 * {@link Strategy.recordOutcome}.
 */
export interface Strategy<D extends Quotes = Quotes> {
  /** Strategy id in metrics (`strategy` label), spans (`strategy.id`), health and events. */
  readonly id: string;
  /** Wanted quotes for `symbol` given the market's best bid/ask and the signed position. */
  quote(symbol: string, bestBid: number, bestAsk: number, position: number): D;
  /**
   * Optional: what became of a decision, after its orders went out (`approved` false with the
   * risk check's reason when a quote was refused). Runs on the tick; must not throw.
   */
  recordOutcome?(decision: D, position: number, approved: boolean, riskReason?: string): void;
}

/** One order a strategy wants placed, as the risk check sees it. */
export interface OrderIntent {
  /** `BASE/QUOTE`, e.g. `BTC/USDT`. */
  symbol: string;
  /** `buy` or `sell`. */
  side: Side;
  /** Base quantity. */
  quantity: number;
  /** Limit price. */
  price: number;
}

/** A risk check's answer for one order; `reason` is counted and shown on the `risk_check` span. */
export type RiskVerdict = { readonly approved: true } | { readonly approved: false; readonly reason: string };

/**
 * Pre-trade risk. {@link RiskCheck.check} runs for every quote that would be placed, on the
 * tick-to-trade path.
 */
export interface RiskCheck {
  /**
   * While true, the orchestrator places nothing: it cancels every resting order once and skips
   * its ticks until this turns false. Absent means never.
   */
  readonly breakerActive?: boolean;
  /** Approves or refuses one order. */
  check(intent: OrderIntent, position: Position, totals: PortfolioTotals): RiskVerdict;
  /**
   * Optional: the portfolio after every tick, off the tick-to-trade path (where a daily-loss
   * breaker trips). `traceId` is the tick's trace.
   */
  evaluate?(totals: PortfolioTotals, positions: readonly Position[], traceId?: string): void;
}

/** One symbol's position. */
export interface Position {
  /** `BASE/QUOTE`, e.g. `BTC/USDT`. */
  readonly symbol: string;
  /** Signed base quantity: positive long, negative short. */
  quantity: number;
  /** Average entry price of the open quantity (0 when flat). */
  averagePrice: number;
  /** Realized PnL after fees, quote currency. */
  realizedPnl: number;
  /** Fees paid, quote currency. */
  fees: number;
  /** Latest mark price (NaN until the first mark). */
  mark: number;
  /** Wall-clock ms the position left flat; undefined when flat. */
  openedAtMs: number | undefined;
}

/** A fill as the position book applies it. */
export interface FillInput {
  /** `BASE/QUOTE`, e.g. `BTC/USDT`. */
  symbol: string;
  /** `buy` or `sell`. */
  side: Side;
  /** Execution price. */
  price: number;
  /** Base quantity filled. */
  quantity: number;
  /** Fee in quote currency; always reduces realized PnL. */
  fee: number;
}

/** What a fill changed: the realized PnL it produced, and a closed holding period if any. */
export interface FillResult {
  /** Realized PnL of this fill after its fee, quote currency. */
  realized: number;
  /** Set when the fill brought the position back to flat or through it. */
  closed?: { side: "long" | "short"; durationMs: number };
}

/** The portfolio summed over symbols, quote currency. */
export interface PortfolioTotals {
  /** Realized PnL after fees. */
  realized: number;
  /** Unrealized PnL at the latest marks. */
  unrealized: number;
  /** Fees paid. */
  fees: number;
  /** Realized plus unrealized since the start of the UTC day. */
  daily: number;
  /** Starting equity plus realized and unrealized PnL. */
  equity: number;
  /** Sum of |quantity| x mark over symbols. */
  grossNotional: number;
  /** Symbols whose position is not flat. */
  openPositions: number;
}

/** Positions and PnL: marked by the orchestrator on every tick, changed by the executor on fills. */
export interface PositionBook {
  /** The position of `symbol` (created flat on first use). */
  position(symbol: string): Position;
  /** Every position. */
  all(): readonly Position[];
  /** The portfolio summed over symbols. */
  totals(): PortfolioTotals;
  /** Marks `symbol` at `price` (the mid, on every tick). */
  mark(symbol: string, price: number): void;
  /** Applies one fill (each fill once): position, average price, realized PnL and fees. */
  applyFill(fill: FillInput): FillResult;
}

/** The exchange as the executor uses it (the exchange client; tests and benchmarks pass an in-memory one). */
export interface Venue {
  /** `call.onSent` fires when the request goes on the wire (tick-to-trade "sent"). */
  placeOrder(request: PlaceOrderRequest, call?: { onSent?: () => void }): Promise<Order>;
  /** Cancels one order; resolves with its final state. */
  cancelOrder(orderId: string): Promise<Order>;
  /** One order's current state, with its fills. */
  getOrder(orderId: string): Promise<Order>;
  /** Our open orders, of one symbol or all. */
  openOrders(symbol?: string): Promise<Order[]>;
}

/** Keeps our resting orders on a venue, one per symbol and side (the order executor). */
export interface Executor {
  /** Our order resting on `symbol`/`side`, if any: the orchestrator requotes only when it moved. */
  restingOrder(symbol: string, side: Side): { readonly price: number; readonly quantity: number } | undefined;
  /**
   * Replaces what rests on `request.symbol`/`request.side` with `request`; `onSent` fires when
   * the placement goes on the wire. Resolves with the ack or rejects with the venue's error.
   */
  replace(request: PlaceOrderRequest, onSent?: () => void): Promise<Order>;
  /** Best effort, never rejects: cancels every resting order (breaker, fault, shutdown). */
  cancelAll(): Promise<void>;
}
