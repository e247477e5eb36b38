import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { AggregationTemporality, MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import { afterEach, describe, expect, it, vi } from "vitest";
import { drainReaderPeriodically } from "../../src/telemetry/sdk.js";

/** A reader collected by hand, standing in for the OTLP push reader. */
class ManualReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.DELTA });
  }
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * The longest list of collections sdk-metrics keeps for a reader that has not collected yet
 * (private state, read here only to show the bound; storages created through a view are shared
 * between readers, which is where the stash grows).
 */
function stashedCollections(provider: MeterProvider): number {
  interface Storage {
    _temporalMetricStorage?: { _unreportedAccumulations: Map<unknown, unknown[]> };
  }
  interface Registry {
    _sharedRegistry: Map<string, Storage[]>;
  }
  const shared = (provider as unknown as { _sharedState: { meterSharedStates: Map<string, unknown> } })
    ._sharedState;
  let most = 0;
  for (const meter of shared.meterSharedStates.values()) {
    const registry = (meter as { metricStorageRegistry: Registry }).metricStorageRegistry;
    for (const storages of registry._sharedRegistry.values()) {
      for (const storage of storages) {
        for (const stash of storage._temporalMetricStorage?._unreportedAccumulations.values() ?? []) {
          most = Math.max(most, stash.length);
        }
      }
    }
  }
  return most;
}

describe("drainReaderPeriodically", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("bounds what the SDK keeps for an unscraped Prometheus reader, and a scrape still sees every increment", async () => {
    vi.useFakeTimers();
    const prometheus = new PrometheusExporter({ preventServerStart: true });
    const push = new ManualReader();
    const provider = new MeterProvider({
      readers: [prometheus, push],
      views: [{ instrumentName: "orders" }],
    });
    const counter = provider.getMeter("t").createCounter("orders");
    const stop = drainReaderPeriodically(prometheus, 15_000);
    try {
      for (let i = 0; i < 60; i++) {
        counter.add(1, { symbol: "BTC/USDT" });
        await push.collect();
        await vi.advanceTimersByTimeAsync(1_000);
      }
      // Without the drain the stash holds all 60 pushes (the leak); with it, at most 15.
      const stashed = stashedCollections(provider);
      expect(stashed).toBeGreaterThan(0);
      expect(stashed).toBeLessThanOrEqual(15);
      const { resourceMetrics } = await prometheus.collect();
      const point = resourceMetrics.scopeMetrics[0]!.metrics[0]!.dataPoints[0]!;
      expect(point.value).toBe(60);
    } finally {
      stop();
      await provider.shutdown();
    }
  });

  it("never throws when the reader cannot collect", async () => {
    vi.useFakeTimers();
    const reader = { collect: vi.fn(() => Promise.reject(new Error("not bound"))) };
    const stop = drainReaderPeriodically(reader, 1_000);
    await vi.advanceTimersByTimeAsync(3_000);
    stop();
    await vi.advanceTimersByTimeAsync(3_000);
    expect(reader.collect).toHaveBeenCalledTimes(3);
  });
});
