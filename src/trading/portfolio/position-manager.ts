import { systemClock, type Clock } from "../../clock.js";
import type { FillInput, FillResult, PortfolioTotals, Position, PositionBook } from "../types.js";

const EPSILON = 1e-12;
const DAY_MS = 86_400_000;

/**
 * Signed positions with average price, realized PnL (after fees) and unrealized PnL against the
 * mark. A fill on the opposite side first closes the open quantity at its average price; what is
 * left opens a new position at the fill price (a flip through zero). Pure state, clock injected.
 */
export class PositionManager implements PositionBook {
  private readonly positions = new Map<string, Position>();
  private readonly clock: Clock;
  private readonly startingEquity: number;
  private dayStartTotal = 0;
  private day: number;

  constructor(options: { symbols?: readonly string[]; startingEquity: number; clock?: Clock }) {
    this.clock = options.clock ?? systemClock;
    this.startingEquity = options.startingEquity;
    this.day = Math.floor(this.clock.now() / DAY_MS);
    for (const symbol of options.symbols ?? []) this.position(symbol);
  }

  /** The position of `symbol` (created flat on first use). */
  position(symbol: string): Position {
    let position = this.positions.get(symbol);
    if (!position) {
      position = {
        symbol,
        quantity: 0,
        averagePrice: 0,
        realizedPnl: 0,
        fees: 0,
        mark: Number.NaN,
        openedAtMs: undefined,
      };
      this.positions.set(symbol, position);
    }
    return position;
  }

  all(): Position[] {
    return [...this.positions.values()];
  }

  applyFill(fill: FillInput): FillResult {
    const position = this.position(fill.symbol);
    const now = this.clock.now();
    const signed = fill.side === "buy" ? fill.quantity : -fill.quantity;
    const before = position.quantity;
    let realized = -fill.fee;
    let closed: FillResult["closed"];
    if (Math.abs(before) < EPSILON || Math.sign(before) === Math.sign(signed)) {
      const total = Math.abs(before) + fill.quantity;
      position.averagePrice = (Math.abs(before) * position.averagePrice + fill.quantity * fill.price) / total;
      position.quantity = before + signed;
      if (Math.abs(before) < EPSILON) position.openedAtMs = now;
    } else {
      const closing = Math.min(Math.abs(before), fill.quantity);
      realized += closing * (fill.price - position.averagePrice) * Math.sign(before);
      position.quantity = before + signed;
      const remaining = fill.quantity - closing;
      if (Math.abs(position.quantity) < EPSILON || remaining > EPSILON) {
        closed = { side: before > 0 ? "long" : "short", durationMs: now - (position.openedAtMs ?? now) };
      }
      if (Math.abs(position.quantity) < EPSILON) {
        position.quantity = 0;
        position.averagePrice = 0;
        position.openedAtMs = undefined;
      } else if (remaining > EPSILON) {
        position.averagePrice = fill.price;
        position.openedAtMs = now;
      }
    }
    position.realizedPnl += realized;
    position.fees += fill.fee;
    if (Number.isNaN(position.mark)) position.mark = fill.price;
    return closed ? { realized, closed } : { realized };
  }

  mark(symbol: string, price: number): void {
    this.position(symbol).mark = price;
  }

  /** Unrealized PnL of one position against its mark (0 before the first mark). */
  unrealized(position: Position): number {
    if (position.quantity === 0 || Number.isNaN(position.mark)) return 0;
    return position.quantity * (position.mark - position.averagePrice);
  }

  totals(): PortfolioTotals {
    this.rollDay();
    let realized = 0;
    let unrealized = 0;
    let fees = 0;
    let grossNotional = 0;
    let openPositions = 0;
    for (const position of this.positions.values()) {
      realized += position.realizedPnl;
      unrealized += this.unrealized(position);
      fees += position.fees;
      if (position.quantity !== 0) {
        openPositions++;
        grossNotional +=
          Math.abs(position.quantity) * (Number.isNaN(position.mark) ? position.averagePrice : position.mark);
      }
    }
    const total = realized + unrealized;
    return {
      realized,
      unrealized,
      fees,
      daily: total - this.dayStartTotal,
      equity: this.startingEquity + total,
      grossNotional,
      openPositions,
    };
  }

  /** At the first call in a new UTC day, today's PnL starts from the current total. */
  private rollDay(): void {
    const day = Math.floor(this.clock.now() / DAY_MS);
    if (day === this.day) return;
    this.day = day;
    let total = 0;
    for (const position of this.positions.values()) total += position.realizedPnl + this.unrealized(position);
    this.dayStartTotal = total;
  }
}
