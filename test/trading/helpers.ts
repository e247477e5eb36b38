import { context, trace } from "@opentelemetry/api";
import type { TradingMetrics } from "../../src/telemetry/metrics.js";
import { createTestMetrics, type MetricPoint } from "../../src/testing/metrics.js";
import type { Clock } from "../../src/clock.js";
import type { Orchestrator, TickInfo } from "../../src/trading/orchestrator.js";
import type { Venue } from "../../src/trading/types.js";
import type { Order, PlaceOrderRequest } from "../../src/trading/venues/wire.js";

/** One metric point as the tests read it (the public test double's type). */
export type Point = MetricPoint;

/** The catalogue instruments on a meter whose reader lives in this test only (`ticktrace/testing`). */
export function createMetricsProbe(): {
  metrics: TradingMetrics;
  points: (name: string) => Promise<Point[]>;
} {
  const probe = createTestMetrics();
  return { metrics: probe.metrics, points: (name) => probe.points(name) };
}

/**
 * An in-memory venue with switches: `failNext` rejects the next placement; `seenParents` notes
 * the active span context at each placement (what an HTTP span of the venue would parent onto).
 */
export class FakeVenue implements Venue {
  placed: PlaceOrderRequest[] = [];
  cancelled: string[] = [];
  failNext: Error | undefined;
  readonly seenParents: { traceId: string; spanId: string; sampled: boolean }[] = [];
  private n = 1;
  placeOrder(request: PlaceOrderRequest, call?: { onSent?: () => void }): Promise<Order> {
    const active = trace.getSpanContext(context.active());
    if (active)
      this.seenParents.push({
        traceId: active.traceId,
        spanId: active.spanId,
        sampled: (active.traceFlags & 1) === 1,
      });
    call?.onSent?.();
    if (this.failNext) {
      const error = this.failNext;
      this.failNext = undefined;
      return Promise.reject(error);
    }
    this.placed.push(request);
    return Promise.resolve({
      ...request,
      orderId: `o-${this.n++}`,
      filled: 0,
      status: "open",
      createdAt: 0,
      fills: [],
    });
  }
  cancelOrder(orderId: string): Promise<Order> {
    this.cancelled.push(orderId);
    return Promise.resolve({
      orderId,
      symbol: "BTC/USDT",
      side: "buy",
      type: "limit",
      price: 1,
      quantity: 1,
      filled: 0,
      status: "cancelled",
      createdAt: 0,
      fills: [],
    });
  }
  getOrder(orderId: string): Promise<Order> {
    return this.cancelOrder(orderId);
  }
  openOrders(): Promise<Order[]> {
    return Promise.resolve([]);
  }
}

/**
 * Feeds one BTC/USDT ticker around `mid` to the orchestrator and resolves with the tick it
 * caused (`ticks` is what the orchestrator's `onTick` collects).
 */
export function tickDriver(orchestrator: Orchestrator, clock: Clock, ticks: readonly TickInfo[]) {
  return async (mid: number): Promise<TickInfo> => {
    const before = ticks.length;
    orchestrator.onMarketData(
      [{ symbol: "BTC/USDT", bid: mid - 1, ask: mid + 1, last: mid, ts: 0 }],
      clock.monotonicMs(),
    );
    for (let i = 0; i < 100 && ticks.length === before; i++) await new Promise((r) => setImmediate(r));
    return ticks.at(-1)!;
  };
}
