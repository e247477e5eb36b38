import { MeterProvider, MetricReader, type DataPoint, type Histogram } from "@opentelemetry/sdk-metrics";
import { createTradingMetrics, type TradingMetrics } from "../../src/telemetry/metrics.js";
import type { Clock } from "../../src/clock.js";
import type { Orchestrator, TickInfo } from "../../src/trading/orchestrator.js";
import type { Venue } from "../../src/trading/types.js";
import type { Order, PlaceOrderRequest } from "../../src/trading/venues/wire.js";

class InMemoryReader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

export interface Point {
  attributes: Record<string, unknown>;
  /** Counter sum, gauge value, or histogram count. */
  value: number;
  /** Histogram sum. */
  sum?: number;
}

/** The catalogue instruments on a meter whose reader lives in this test only. */
export function createMetricsProbe(): {
  metrics: TradingMetrics;
  points: (name: string) => Promise<Point[]>;
} {
  const reader = new InMemoryReader();
  const provider = new MeterProvider({ readers: [reader] });
  return {
    metrics: createTradingMetrics(provider.getMeter("trading-test")),
    async points(name) {
      const { resourceMetrics } = await reader.collect();
      const out: Point[] = [];
      for (const scope of resourceMetrics.scopeMetrics) {
        for (const metric of scope.metrics) {
          if (metric.descriptor.name !== name) continue;
          for (const point of metric.dataPoints as DataPoint<number | Histogram>[]) {
            if (typeof point.value === "number")
              out.push({ attributes: point.attributes, value: point.value });
            else
              out.push({ attributes: point.attributes, value: point.value.count, sum: point.value.sum ?? 0 });
          }
        }
      }
      return out;
    },
  };
}

/** An in-memory venue with switches: `failNext` rejects the next placement. */
export class FakeVenue implements Venue {
  placed: PlaceOrderRequest[] = [];
  cancelled: string[] = [];
  failNext: Error | undefined;
  private n = 1;
  placeOrder(request: PlaceOrderRequest, call?: { onSent?: () => void }): Promise<Order> {
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
