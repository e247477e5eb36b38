import type { OrderBook, Ticker } from "../wire.js";
import type { Random } from "./random.js";

/** Volatility regimes of the simulated market. */
export type Regime = "calm" | "volatile";

const REGIME_MULTIPLIER: Record<Regime, number> = { calm: 1, volatile: 5 };
const REGIME_HALF_SPREAD_BPS: Record<Regime, number> = { calm: 1, volatile: 4 };

/** Starting mids for well-known symbols; any other symbol starts at 100. */
const START_PRICES: Record<string, number> = { BTC: 60_000, ETH: 3_000, SOL: 150 };

export interface MarketOptions {
  symbols: readonly string[];
  random: Random;
  /** Random-walk step per update in the calm regime, basis points. */
  volatilityBps: number;
}

interface Drift {
  /** Log-return added per step. */
  perStep: number;
  stepsLeft: number;
}

/**
 * The simulated market: one mid per symbol moving by a seeded random walk whose step size
 * depends on the regime, plus optional drifts (a crash is a strong negative drift).
 * Pure state; the server calls {@link Market.step} on its timer.
 */
export class Market {
  private readonly mids = new Map<string, number>();
  private readonly drifts = new Map<string, Drift>();
  private readonly random: Random;
  private readonly volatilityBps: number;
  regime: Regime = "calm";
  private now = 0;

  constructor(options: MarketOptions) {
    this.random = options.random;
    this.volatilityBps = options.volatilityBps;
    for (const symbol of options.symbols) {
      this.mids.set(symbol, START_PRICES[symbol.split("/")[0] ?? ""] ?? 100);
    }
  }

  get symbols(): string[] {
    return [...this.mids.keys()];
  }

  mid(symbol: string): number | undefined {
    return this.mids.get(symbol);
  }

  /** Moves every mid one step; returns the new tickers. */
  step(nowMs: number): Ticker[] {
    this.now = nowMs;
    const sigma = (this.volatilityBps * REGIME_MULTIPLIER[this.regime]) / 10_000;
    for (const [symbol, mid] of this.mids) {
      let logReturn = sigma * this.random.normal();
      const drift = this.drifts.get(symbol);
      if (drift) {
        logReturn += drift.perStep;
        if (--drift.stepsLeft <= 0) this.drifts.delete(symbol);
      }
      this.mids.set(symbol, mid * Math.exp(logReturn));
    }
    return this.tickers();
  }

  /** Moves every symbol by `pct` percent (negative is a drop) spread evenly over `steps` updates. */
  drift(pct: number, steps: number, symbols: readonly string[] = this.symbols): void {
    const perStep = Math.log(1 + pct / 100) / Math.max(1, steps);
    for (const symbol of symbols) this.drifts.set(symbol, { perStep, stepsLeft: Math.max(1, steps) });
  }

  /** Moves one mid at once by `pct` percent (a sweep through the book). */
  jump(symbol: string, pct: number): void {
    const mid = this.mids.get(symbol);
    if (mid !== undefined) this.mids.set(symbol, mid * (1 + pct / 100));
  }

  tickers(): Ticker[] {
    return this.symbols.flatMap((symbol) => this.ticker(symbol) ?? []);
  }

  ticker(symbol: string): Ticker | undefined {
    const mid = this.mids.get(symbol);
    if (mid === undefined) return undefined;
    const half = (mid * REGIME_HALF_SPREAD_BPS[this.regime]) / 10_000;
    return { symbol, bid: mid - half, ask: mid + half, last: mid, ts: this.now };
  }

  /** A synthetic five-level book around the current ticker. */
  book(symbol: string, depth = 5): OrderBook | undefined {
    const ticker = this.ticker(symbol);
    if (!ticker) return undefined;
    const tick = (ticker.ask - ticker.bid) / 2;
    const levels = Array.from({ length: depth }, (_, i) => i);
    const size = 10_000 / ticker.last;
    return {
      symbol,
      bids: levels.map((i) => ({ price: ticker.bid - i * tick, quantity: size * (1 + i) })),
      asks: levels.map((i) => ({ price: ticker.ask + i * tick, quantity: size * (1 + i) })),
      ts: ticker.ts,
    };
  }
}
