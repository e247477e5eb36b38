import type { Attributes, Counter, UpDownCounter } from "@opentelemetry/api";
import { systemClock, type Clock } from "../../clock.js";
import { describeError, TicktraceError } from "../../errors.js";
import { createSilentLogger, type Logger } from "../../logging/logger.js";
import type { HotPathRecorder, HotPathSeries } from "../../telemetry/hot-path.js";
import type { TradingMetrics } from "../../telemetry/metrics.js";
import type { TradingEvents } from "../../events/trading-events.js";
import type { Executor, PositionBook, Venue } from "../types.js";
import type { Fill, Order, PlaceOrderRequest, Side } from "../venues/wire.js";

/** An order of ours resting on the exchange. */
export interface RestingOrder {
  orderId: string;
  symbol: string;
  side: Side;
  price: number;
  quantity: number;
  sentAtMs: number;
  closed: boolean;
}

export interface OrderExecutorOptions {
  exchange: string;
  venue: Venue;
  positions: PositionBook;
  metrics: TradingMetrics;
  events: TradingEvents;
  logger?: Logger;
  clock?: Clock;
  /**
   * When given, the per-order metrics on the tick path (placed, active, cancelled, execution
   * duration) are written to it and folded off the path instead of recorded inline.
   */
  hotPath?: HotPathRecorder;
  /** Called after every applied fill (the orchestrator re-checks risk). */
  onFillApplied?: (fill: Fill, traceId?: string) => void;
}

/** Attribute sets and hot-path series of one symbol and side. */
interface SideLabels {
  /** `{ exchange, symbol, side, type }`: `trading_orders_placed_total`. */
  readonly placed: Attributes;
  /** `{ exchange, symbol, side }`: active orders, fills and volume. */
  readonly side: Attributes;
  readonly placedSeries: HotPathSeries | undefined;
  readonly activeSeries: HotPathSeries | undefined;
}

/**
 * Everything the executor labels its metrics with for one symbol, built on the symbol's first
 * order, so an order on the tick path looks up one map entry and allocates no attributes.
 */
interface SymbolLabels {
  /** `{ exchange, symbol }`: cancels, fees and execution duration. */
  readonly symbol: Attributes;
  readonly cancelledSeries: HotPathSeries | undefined;
  readonly executionSeries: HotPathSeries | undefined;
  readonly buy: SideLabels;
  readonly sell: SideLabels;
}

/** Remembered fill ids, so a fill seen on the stream and again in a REST answer counts once. */
const SEEN_FILLS_MAX = 20_000;

/**
 * Keeps our resting orders (one per symbol and side), places, replaces and cancels them on the
 * venue, and turns fills into positions, metrics (`trading_orders_*`, `trading_volume_*`,
 * `trading_fees_quote_total`, `trading_position_duration_seconds`) and `fill` events. Fills
 * arrive from the stream, from order acks and from reconciliation; each is applied once.
 */
export class OrderExecutor implements Executor {
  private readonly options: OrderExecutorOptions;
  private readonly hot: HotPathRecorder | undefined;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly resting = new Map<string, RestingOrder>();
  private readonly byId = new Map<string, RestingOrder>();
  private readonly seenFills = new Set<string>();
  private readonly labelsBySymbol = new Map<string, SymbolLabels>();
  private readonly failedAttrs = new Map<string, Attributes>();
  placedTotal = 0;
  failedTotal = 0;
  filledTotal = 0;

  constructor(options: OrderExecutorOptions) {
    this.options = options;
    this.hot = options.hotPath;
    this.clock = options.clock ?? systemClock;
    this.logger = (options.logger ?? createSilentLogger()).child({
      component: "executor",
      exchange: options.exchange,
    });
  }

  /** Our resting order on `symbol`/`side`, if any. */
  restingOrder(symbol: string, side: Side): RestingOrder | undefined {
    return this.resting.get(key(symbol, side));
  }

  openOrders(): RestingOrder[] {
    return [...this.byId.values()];
  }

  /**
   * Replaces whatever rests on `symbol`/`side` with a new limit order. `onSent` fires when the
   * placement goes on the wire; resolves with the ack, or throws the venue's error.
   */
  async replace(request: PlaceOrderRequest, onSent?: () => void): Promise<Order> {
    const existing = this.resting.get(key(request.symbol, request.side));
    if (existing) await this.cancel(existing);
    let order: Order;
    try {
      order = await this.options.venue.placeOrder(request, onSent ? { onSent } : {});
    } catch (error) {
      this.failedTotal++;
      const reason = error instanceof TicktraceError ? error.code.toLowerCase() : "unknown";
      let attrs = this.failedAttrs.get(reason);
      if (!attrs) this.failedAttrs.set(reason, (attrs = { exchange: this.options.exchange, reason }));
      this.options.metrics.ordersFailed.add(1, attrs);
      if (error instanceof TicktraceError && error.code === "REJECTED") {
        this.options.events.emit("orderRejected", {
          reason: error.message,
          symbol: request.symbol,
          source: "exchange",
        });
      }
      throw error;
    }
    this.onAck(order);
    return order;
  }

  /** Records an acknowledged order; applies any fills it already carries. */
  onAck(order: Order): void {
    const { metrics, events, exchange } = this.options;
    this.placedTotal++;
    const labels = this.labels(order.symbol)[order.side];
    this.count(metrics.ordersPlaced, labels.placed, labels.placedSeries, 1);
    events.emit("orderPlaced", { exchange, symbol: order.symbol, side: order.side });
    const resting: RestingOrder = {
      orderId: order.orderId,
      symbol: order.symbol,
      side: order.side,
      price: order.price,
      quantity: order.quantity,
      sentAtMs: this.clock.now(),
      closed: false,
    };
    this.resting.set(key(order.symbol, order.side), resting);
    this.byId.set(order.orderId, resting);
    this.count(metrics.ordersActive, labels.side, labels.activeSeries, 1);
    this.sync(order);
  }

  /** Cancels one order; an order that closed meanwhile is simply forgotten. */
  async cancel(order: RestingOrder): Promise<void> {
    try {
      const answer = await this.options.venue.cancelOrder(order.orderId);
      const labels = this.labels(order.symbol);
      this.count(this.options.metrics.ordersCancelled, labels.symbol, labels.cancelledSeries, 1);
      this.sync(answer);
    } catch (error) {
      if (
        error instanceof TicktraceError &&
        error.status !== undefined &&
        error.status < 500 &&
        error.status !== 429
      ) {
        // Already filled or unknown: reconciliation fetches its fills; here we stop tracking it.
        this.close(order);
        return;
      }
      throw error;
    }
  }

  /** Best effort: cancels every resting order (breaker trip, strategy fault, shutdown). */
  async cancelAll(): Promise<void> {
    const results = await Promise.allSettled(this.openOrders().map((order) => this.cancel(order)));
    for (const result of results) {
      if (result.status === "rejected")
        this.logger.warn("cancel failed", { error: describeError(result.reason) });
    }
  }

  /** A fill from the stream. */
  onFill(fill: Fill, order?: Omit<Order, "fills">, traceId?: string): void {
    this.applyFill(fill, traceId);
    if (order) this.syncStatus(order);
  }

  /** Brings one order in line with the exchange's view of it (fills and status). */
  sync(order: Order): void {
    for (const fill of order.fills) this.applyFill(fill);
    this.syncStatus(order);
  }

  /**
   * Reconciliation: compares our resting orders with the exchange's open orders. Orders the
   * exchange no longer has open are fetched (their fills applied) and closed; open orders we do
   * not know (an ack lost to a timeout) are cancelled. Returns what it changed.
   */
  async reconcile(): Promise<{ closed: number; orphansCancelled: number }> {
    const { venue } = this.options;
    const open = await venue.openOrders();
    const openIds = new Set(open.map((o) => o.orderId));
    let closed = 0;
    for (const order of this.openOrders()) {
      if (openIds.has(order.orderId)) continue;
      this.sync(await venue.getOrder(order.orderId));
      if (!order.closed) this.close(order);
      closed++;
    }
    let orphansCancelled = 0;
    for (const order of open) {
      if (this.byId.has(order.orderId)) continue;
      this.sync(await venue.cancelOrder(order.orderId).catch(() => order));
      orphansCancelled++;
    }
    return { closed, orphansCancelled };
  }

  private syncStatus(order: Omit<Order, "fills">): void {
    if (order.status !== "filled" && order.status !== "cancelled") return;
    const resting = this.byId.get(order.orderId);
    if (resting) this.close(resting);
  }

  private close(order: RestingOrder): void {
    if (order.closed) return;
    order.closed = true;
    const { metrics } = this.options;
    const labels = this.labels(order.symbol);
    const sideLabels = labels[order.side];
    this.count(metrics.ordersActive, sideLabels.side, sideLabels.activeSeries, -1);
    const ms = this.clock.now() - order.sentAtMs;
    if (this.hot && labels.executionSeries !== undefined) this.hot.record(labels.executionSeries, ms);
    else metrics.orderExecutionDuration.record(ms / 1000, labels.symbol);
    this.byId.delete(order.orderId);
    const k = key(order.symbol, order.side);
    if (this.resting.get(k) === order) this.resting.delete(k);
  }

  private applyFill(fill: Fill, traceId?: string): void {
    if (this.seenFills.has(fill.fillId)) return;
    this.seenFills.add(fill.fillId);
    if (this.seenFills.size > SEEN_FILLS_MAX) {
      const oldest = this.seenFills.values().next().value;
      if (oldest !== undefined) this.seenFills.delete(oldest);
    }
    const { metrics, events, exchange, positions } = this.options;
    const result = positions.applyFill(fill);
    this.filledTotal++;
    const labels = this.labels(fill.symbol);
    const sideAttrs = labels[fill.side].side;
    metrics.ordersFilled.add(1, sideAttrs);
    metrics.volumeBase.add(fill.quantity, sideAttrs);
    metrics.volumeQuote.add(fill.quantity * fill.price, sideAttrs);
    metrics.fees.add(fill.fee, labels.symbol);
    if (result.closed) {
      metrics.positionDuration.record(result.closed.durationMs / 1000, {
        symbol: fill.symbol,
        side: result.closed.side,
      });
    }
    events.emit("fill", {
      exchange,
      symbol: fill.symbol,
      side: fill.side,
      price: fill.price,
      quantity: fill.quantity,
      notional: fill.price * fill.quantity,
      orderId: fill.orderId,
      ...(traceId ? { traceId } : {}),
    });
    this.options.onFillApplied?.(fill, traceId);
  }

  /** Counter increment, deferred through the hot path when there is one. */
  private count(
    counter: Counter | UpDownCounter,
    attrs: Attributes,
    series: HotPathSeries | undefined,
    value: number,
  ): void {
    if (this.hot && series !== undefined) this.hot.record(series, value);
    else counter.add(value, attrs);
  }

  /** The symbol's attribute sets and hot-path series, built on first use. */
  private labels(symbol: string): SymbolLabels {
    let labels = this.labelsBySymbol.get(symbol);
    if (labels) return labels;
    const { exchange, metrics } = this.options;
    const hot = this.hot;
    const side = (s: Side): SideLabels => {
      const placed = { exchange, symbol, side: s, type: "limit" };
      const sideAttrs = { exchange, symbol, side: s };
      return {
        placed,
        side: sideAttrs,
        placedSeries: hot?.counterSeries(metrics.ordersPlaced, placed),
        activeSeries: hot?.counterSeries(metrics.ordersActive, sideAttrs),
      };
    };
    const symbolAttrs = { exchange, symbol };
    labels = {
      symbol: symbolAttrs,
      cancelledSeries: hot?.counterSeries(metrics.ordersCancelled, symbolAttrs),
      executionSeries: hot?.series(metrics.orderExecutionDuration, symbolAttrs),
      buy: side("buy"),
      sell: side("sell"),
    };
    this.labelsBySymbol.set(symbol, labels);
    return labels;
  }
}

function key(symbol: string, side: Side): string {
  return `${symbol}|${side}`;
}
