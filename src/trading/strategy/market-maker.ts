import { systemClock, type Clock } from "../../clock.js";
import type { Quote, Quotes, Strategy } from "../types.js";

/** What the market maker wants resting on the book for one symbol, and why. */
export interface QuoteDecision extends Quotes {
  symbol: string;
  mid: number;
  /** Shift of both quotes against the inventory, basis points (positive moves quotes down). */
  skewBps: number;
  halfSpreadBps: number;
  /** Short explanation, e.g. "long 0.42 of limit: skew quotes down". */
  reason: string;
  bid: Quote;
  ask: Quote;
}

/** Input to {@link QuoteDecisionSink.recordQuoteDecision}. */
export interface QuoteDecisionRecord {
  symbol: string;
  mid: number;
  skewBps: number;
  /** Signed position in the base asset when the decision was made. */
  position: number;
  reason: string;
  /** Whether the risk monitor let the quotes through. */
  approved: boolean;
  /** The risk monitor's reason when it did not. */
  riskReason?: string;
}

/**
 * The hook the decisions module plugs into: the strategy reports a quoting decision at most
 * once per `recordIntervalMs` per symbol. Must not throw (exceptions are swallowed) and should
 * return quickly (it runs on the tick, after the order was sent).
 */
export interface QuoteDecisionSink {
  recordQuoteDecision(input: QuoteDecisionRecord): void;
}

export interface MarketMakerOptions {
  id: string;
  halfSpreadBps: number;
  /** Size of each quote in the quote currency. */
  quoteNotional: number;
  /** Skew in bps per unit of inventory as a fraction of `maxPositionNotional`. */
  inventorySkewBps: number;
  maxPositionNotional: number;
  /** Realized volatility (bps per update) at which the spread starts to widen. */
  referenceVolatilityBps?: number;
  decisionRecorder?: QuoteDecisionSink;
  /** Minimum time between two recorded decisions of one symbol. */
  recordIntervalMs?: number;
  clock?: Clock;
}

interface SymbolState {
  lastMid: number;
  /** EWMA of |log return| in bps. */
  volBps: number;
  lastRecordedMs: number;
  sizeMultiplier: number;
  sizeMultiplierUntilMs: number;
}

const VOL_ALPHA = 0.2;
const MAX_SPREAD_MULTIPLIER = 4;

/**
 * A market maker: quotes a bid and an ask around the mid, widened when realized volatility
 * rises and shifted against the inventory (long: both quotes move down so the ask fills
 * first). Pure: no I/O, time only through the clock.
 */
export class MarketMaker implements Strategy<QuoteDecision> {
  readonly id: string;
  private readonly options: MarketMakerOptions;
  private readonly clock: Clock;
  private readonly symbols = new Map<string, SymbolState>();
  private panicMessage: string | undefined;

  constructor(options: MarketMakerOptions) {
    if (!(options.halfSpreadBps > 0)) throw new RangeError("halfSpreadBps must be greater than 0");
    if (!(options.quoteNotional > 0)) throw new RangeError("quoteNotional must be greater than 0");
    this.id = options.id;
    this.options = options;
    this.clock = options.clock ?? systemClock;
  }

  /** Wanted quotes for `symbol` given the market's best bid/ask and the signed position. */
  quote(symbol: string, bestBid: number, bestAsk: number, position: number): QuoteDecision {
    if (this.panicMessage !== undefined) {
      const message = this.panicMessage;
      this.panicMessage = undefined;
      throw new Error(message);
    }
    const { halfSpreadBps, inventorySkewBps, maxPositionNotional, quoteNotional } = this.options;
    const mid = (bestBid + bestAsk) / 2;
    if (!(mid > 0)) throw new RangeError(`no usable mid for ${symbol} (bid ${bestBid}, ask ${bestAsk})`);
    const state = this.state(symbol, mid);
    const returnBps = Math.abs(Math.log(mid / state.lastMid)) * 10_000;
    state.volBps = state.volBps * (1 - VOL_ALPHA) + returnBps * VOL_ALPHA;
    state.lastMid = mid;
    const reference = this.options.referenceVolatilityBps ?? 2;
    const widen = Math.min(MAX_SPREAD_MULTIPLIER, Math.max(1, state.volBps / reference));
    const half = halfSpreadBps * widen;
    const inventory = Math.max(-1, Math.min(1, (position * mid) / maxPositionNotional));
    const skewBps = inventorySkewBps * inventory;
    const center = mid * (1 - skewBps / 10_000);
    const quantity = quoteNotional / mid;
    const bidQty =
      this.clock.now() < state.sizeMultiplierUntilMs ? quantity * state.sizeMultiplier : quantity;
    const reason =
      (inventory > 0.05
        ? `long ${inventory.toFixed(2)} of limit: skew down`
        : inventory < -0.05
          ? `short ${(-inventory).toFixed(2)} of limit: skew up`
          : "flat: no skew") +
      (widen > 1 ? `; volatility ${state.volBps.toFixed(1)} bps: spread x${widen.toFixed(1)}` : "");
    return {
      symbol,
      mid,
      skewBps,
      halfSpreadBps: half,
      reason,
      bid: { side: "buy", price: center * (1 - half / 10_000), quantity: bidQty },
      ask: { side: "sell", price: center * (1 + half / 10_000), quantity },
    };
  }

  /** Reports what became of a decision to the decision recorder, throttled per symbol. */
  recordOutcome(decision: QuoteDecision, position: number, approved: boolean, riskReason?: string): void {
    const recorder = this.options.decisionRecorder;
    if (!recorder) return;
    const state = this.symbols.get(decision.symbol);
    const now = this.clock.now();
    if (!state || now - state.lastRecordedMs < (this.options.recordIntervalMs ?? 5_000)) return;
    state.lastRecordedMs = now;
    try {
      recorder.recordQuoteDecision({
        symbol: decision.symbol,
        mid: decision.mid,
        skewBps: decision.skewBps,
        position,
        reason: decision.reason,
        approved,
        ...(riskReason === undefined ? {} : { riskReason }),
      });
    } catch {
      // A recorder failure must never reach the tick.
    }
  }

  /** Fault switch for the `strategy-panic` scenario: the next {@link quote} throws `message`. */
  panicOnNextQuote(message: string): void {
    this.panicMessage = message;
  }

  /** Scenario switch for `large-fill`: bids on `symbol` are `multiplier` times the usual size for `durationMs`. */
  enlargeBids(symbol: string, multiplier: number, durationMs: number): void {
    const state = this.symbols.get(symbol);
    if (!state) return;
    state.sizeMultiplier = multiplier;
    state.sizeMultiplierUntilMs = this.clock.now() + durationMs;
  }

  private state(symbol: string, mid: number): SymbolState {
    let state = this.symbols.get(symbol);
    if (!state) {
      state = {
        lastMid: mid,
        volBps: 0,
        lastRecordedMs: -Infinity,
        sizeMultiplier: 1,
        sizeMultiplierUntilMs: 0,
      };
      this.symbols.set(symbol, state);
    }
    return state;
  }
}
