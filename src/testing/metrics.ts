import type { Meter } from "@opentelemetry/api";
import { MeterProvider, MetricReader, type DataPoint, type Histogram } from "@opentelemetry/sdk-metrics";
import { createTradingMetrics, type TradingMetrics } from "../telemetry/metrics.js";

/** One point of a metric as a test reads it: its attributes and its value. */
export interface MetricPoint {
  attributes: Record<string, unknown>;
  /** The sum (counters), the value (gauges) or the count of recordings (histograms). */
  value: number;
  /** Histograms only: the sum of the recorded values (seconds for durations). */
  sum?: number;
}

/** A metric reader that keeps nothing but answers {@link InMemoryMetricReader.points} on demand. */
export class InMemoryMetricReader extends MetricReader {
  /** The points of one metric (`ticktrace_orders_placed_total`, ...), collected now. */
  async points(name: string): Promise<MetricPoint[]> {
    const { resourceMetrics } = await this.collect();
    const out: MetricPoint[] = [];
    for (const scope of resourceMetrics.scopeMetrics) {
      for (const metric of scope.metrics) {
        if (metric.descriptor.name !== name) continue;
        for (const point of metric.dataPoints as DataPoint<number | Histogram>[]) {
          const value = point.value;
          out.push(
            typeof value === "number"
              ? { attributes: point.attributes, value }
              : { attributes: point.attributes, value: value.count, sum: value.sum ?? 0 },
          );
        }
      }
    }
    return out;
  }

  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }

  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** What {@link createTestMetrics} returns. */
export interface TestMetrics {
  /** The catalogue instruments, recording into {@link TestMetrics.reader}. */
  metrics: TradingMetrics;
  meter: Meter;
  reader: InMemoryMetricReader;
  /** Shorthand for `reader.points(name)`. */
  points(name: string): Promise<MetricPoint[]>;
  /** Releases the provider. */
  shutdown(): Promise<void>;
}

/**
 * The ticktrace instruments on a meter provider of their own, read in memory: hand `metrics` to
 * the code under test and assert with `points(name)`. Nothing is global, nothing is exported.
 */
export function createTestMetrics(): TestMetrics {
  const reader = new InMemoryMetricReader();
  const provider = new MeterProvider({ readers: [reader] });
  const meter = provider.getMeter("ticktrace-test");
  return {
    metrics: createTradingMetrics(meter),
    meter,
    reader,
    points: (name) => reader.points(name),
    shutdown: () => provider.shutdown(),
  };
}
