import type { Fill, Order, PlaceOrderRequest, Ticker } from "../wire.js";
import type { Random } from "./random.js";

/** Why the simulated exchange refuses a request; becomes the `code` of the error body. */
export class ExchangeRejection extends Error {
  constructor(
    readonly code: "UNKNOWN_SYMBOL" | "INVALID_ORDER" | "ORDER_NOT_FOUND" | "ORDER_CLOSED" | "REJECTED",
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export interface MatchingEngineOptions {
  symbols: readonly string[];
  random: Random;
  /** Fee on every fill, as a fraction of its notional. */
  feeRate: number;
  /** Starting balance in the quote asset (the base assets start at 0). */
  startingQuote: number;
  /** Chance that a crossed order fills only partly on one update. */
  partialFillProbability?: number;
}

/**
 * Resting limit orders of the simulated exchange. An order fills at its own price, completely
 * when the market moves through it (the ask falls to a bid, or the bid rises to an ask), and
 * sometimes in parts when only the taker flow reaches it;
 * an order that is marketable on arrival fills at once at the touch. Balances follow every fill
 * (they may go negative: the simulator acts as a margin account so a market maker can go short).
 */
export class MatchingEngine {
  private readonly orders = new Map<string, Order>();
  private readonly balances = new Map<string, number>();
  private readonly symbols: Set<string>;
  private readonly random: Random;
  private readonly feeRate: number;
  private readonly partialFillProbability: number;
  private nextOrder = 1;
  private nextFill = 1;

  constructor(options: MatchingEngineOptions) {
    this.symbols = new Set(options.symbols);
    this.random = options.random;
    this.feeRate = options.feeRate;
    this.partialFillProbability = options.partialFillProbability ?? 0.3;
    const quotes = new Set(options.symbols.map((s) => s.split("/")[1] ?? ""));
    for (const quote of quotes) this.balances.set(quote, options.startingQuote);
    for (const symbol of options.symbols) this.balances.set(symbol.split("/")[0] ?? "", 0);
  }

  /** Accepts an order; fills it at once when it is marketable against `ticker`. */
  place(
    request: PlaceOrderRequest,
    ticker: Ticker | undefined,
    nowMs: number,
  ): { order: Order; fills: Fill[] } {
    if (!this.symbols.has(request.symbol) || !ticker) {
      throw new ExchangeRejection("UNKNOWN_SYMBOL", `unknown symbol ${request.symbol}`);
    }
    // The simulator's HTTP body arrives here as JSON: its side is typed, not checked.
    const side: unknown = request.side;
    if (side !== "buy" && side !== "sell") {
      throw new ExchangeRejection("INVALID_ORDER", `side must be buy or sell, got ${String(side)}`);
    }
    if (!(request.price > 0) || !(request.quantity > 0)) {
      throw new ExchangeRejection("INVALID_ORDER", "price and quantity must be positive numbers");
    }
    const order: Order = {
      orderId: `o-${this.nextOrder++}`,
      ...(request.clientOrderId === undefined ? {} : { clientOrderId: request.clientOrderId }),
      symbol: request.symbol,
      side: request.side,
      type: "limit",
      price: request.price,
      quantity: request.quantity,
      filled: 0,
      status: "open",
      createdAt: nowMs,
      fills: [],
    };
    this.orders.set(order.orderId, order);
    const fills: Fill[] = [];
    const touch = order.side === "buy" ? ticker.ask : ticker.bid;
    const marketable = order.side === "buy" ? touch <= order.price : touch >= order.price;
    if (marketable) fills.push(this.fill(order, order.quantity, touch, nowMs));
    return { order, fills };
  }

  cancel(orderId: string): Order {
    const order = this.get(orderId);
    if (order.status === "filled" || order.status === "cancelled") {
      throw new ExchangeRejection("ORDER_CLOSED", `order ${orderId} is already ${order.status}`);
    }
    order.status = "cancelled";
    return order;
  }

  get(orderId: string): Order {
    const order = this.orders.get(orderId);
    if (!order) throw new ExchangeRejection("ORDER_NOT_FOUND", `order ${orderId} not found`, 404);
    return order;
  }

  openOrders(symbol?: string): Order[] {
    const out: Order[] = [];
    for (const order of this.orders.values()) {
      if (
        (order.status === "open" || order.status === "partially_filled") &&
        (!symbol || order.symbol === symbol)
      ) {
        out.push(order);
      }
    }
    return out;
  }

  balanceSheet(): Record<string, number> {
    return Object.fromEntries(this.balances);
  }

  /**
   * Fills every resting order the new tickers cross, and those reached by this update's taker
   * flow: per symbol, one aggressive trade prints beyond the touch by an exponentially
   * distributed excursion (mean `flowExcursionBps`) on a random side, filling the resting orders
   * at or better than its price.
   */
  match(tickers: readonly Ticker[], nowMs: number, flowExcursionBps = 0): Fill[] {
    const reach = new Map<string, { ticker: Ticker; buyUpTo: number; sellDownTo: number }>();
    for (const ticker of tickers) {
      let buyUpTo = ticker.ask;
      let sellDownTo = ticker.bid;
      if (flowExcursionBps > 0) {
        const excursion = -Math.log(1 - this.random.next()) * flowExcursionBps;
        if (this.random.next() < 0.5) sellDownTo = ticker.bid * (1 - excursion / 10_000);
        else buyUpTo = ticker.ask * (1 + excursion / 10_000);
      }
      reach.set(ticker.symbol, { ticker, buyUpTo, sellDownTo });
    }
    const fills: Fill[] = [];
    for (const order of this.openOrders()) {
      const r = reach.get(order.symbol);
      if (!r) continue;
      // A resting buy fills when sellers reach down to it; a resting sell when buyers reach up.
      // The market itself moved through the order: it fills completely.
      const swept = order.side === "buy" ? r.ticker.ask <= order.price : r.ticker.bid >= order.price;
      // Only the taker flow reached it: it may fill in part.
      const reached = order.side === "buy" ? r.sellDownTo <= order.price : r.buyUpTo >= order.price;
      if (!swept && !reached) continue;
      const remaining = order.quantity - order.filled;
      const partial = !swept && this.random.next() < this.partialFillProbability;
      const quantity = partial ? remaining * (0.3 + 0.4 * this.random.next()) : remaining;
      fills.push(this.fill(order, quantity, order.price, nowMs));
    }
    return fills;
  }

  /** Drops closed orders older than `maxAgeMs` so a long run does not grow without bound. */
  prune(nowMs: number, maxAgeMs: number): void {
    for (const [id, order] of this.orders) {
      if ((order.status === "filled" || order.status === "cancelled") && nowMs - order.createdAt > maxAgeMs) {
        this.orders.delete(id);
      }
    }
  }

  private fill(order: Order, quantity: number, price: number, nowMs: number): Fill {
    const remaining = order.quantity - order.filled;
    const qty = Math.min(quantity, remaining);
    const fee = qty * price * this.feeRate;
    const fill: Fill = {
      fillId: `f-${this.nextFill++}`,
      orderId: order.orderId,
      symbol: order.symbol,
      side: order.side,
      price,
      quantity: qty,
      fee,
      ts: nowMs,
    };
    order.filled += qty;
    order.fills.push(fill);
    order.status = order.quantity - order.filled <= order.quantity * 1e-9 ? "filled" : "partially_filled";
    if (order.status === "filled") order.filled = order.quantity;
    const [base, quote] = order.symbol.split("/") as [string, string];
    const sign = order.side === "buy" ? 1 : -1;
    this.balances.set(base, (this.balances.get(base) ?? 0) + sign * qty);
    this.balances.set(quote, (this.balances.get(quote) ?? 0) - sign * qty * price - fee);
    return fill;
  }
}
