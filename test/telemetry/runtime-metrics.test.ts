import { MeterProvider, MetricReader, type DataPoint, type Histogram } from "@opentelemetry/sdk-metrics";
import { describe, expect, it } from "vitest";
import { RUNTIME_METRIC_DEFINITIONS } from "../../src/telemetry/catalogue.js";
import { PrometheusTextSerializer } from "../../src/telemetry/prometheus-text.js";
import { startRuntimeMetrics } from "../../src/telemetry/runtime-metrics.js";

class Reader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** Blocks the event loop for `ms`, so the delay monitor has something to see. */
function block(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy
  }
}

describe("Node.js runtime metrics", () => {
  it("report event-loop delay, utilization, GC pauses by kind, heap by space and RSS under their catalogue names", async () => {
    const reader = new Reader();
    const provider = new MeterProvider({ readers: [reader] });
    const runtime = startRuntimeMetrics({ meter: provider.getMeter("ticktrace"), eventLoopResolutionMs: 5 });
    try {
      for (let i = 0; i < 5; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        block(60);
      }
      // allocate enough for a scavenge, then wait for the GC observer's callback
      let junk: unknown[] = [];
      for (let i = 0; i < 200_000; i++) junk.push({ i });
      junk = [];
      (globalThis as { gc?: () => void }).gc?.();
      await new Promise((resolve) => setTimeout(resolve, 50));
      const { resourceMetrics } = await reader.collect();
      const metrics = new Map(
        resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).map((m) => [m.descriptor.name, m] as const),
      );
      expect([...metrics.keys()].sort()).toEqual(RUNTIME_METRIC_DEFINITIONS.map((d) => d.name).sort());
      const value = (name: string) => (metrics.get(name)!.dataPoints[0] as DataPoint<number>).value;
      // the loop was blocked for 60 ms five times: p99 and max see it, in seconds
      expect(value("nodejs_eventloop_delay_max_seconds")).toBeGreaterThan(0.04);
      expect(value("nodejs_eventloop_delay_max_seconds")).toBeLessThan(5);
      expect(value("nodejs_eventloop_delay_p99_seconds")).toBeGreaterThan(0.04);
      expect(value("nodejs_eventloop_utilization_ratio")).toBeGreaterThan(0.3);
      expect(value("nodejs_eventloop_utilization_ratio")).toBeLessThanOrEqual(1);
      expect(value("process_memory_usage_bytes")).toBeGreaterThan(10 * 1024 * 1024);
      const spaces = metrics
        .get("v8js_memory_heap_used_bytes")!
        .dataPoints.map((p) => p.attributes["v8js.heap.space.name"]);
      expect(spaces).toContain("new_space");
      expect(spaces).toContain("old_space");
      const gc = metrics.get("v8js_gc_duration_seconds")!.dataPoints as DataPoint<Histogram>[];
      expect(gc.length).toBeGreaterThan(0);
      for (const point of gc)
        expect(["major", "minor", "incremental", "weakcb"]).toContain(point.attributes["v8js.gc.type"]);
      // on /metrics: the names as they are, the attribute keys with underscores
      const text = new PrometheusTextSerializer().serialize(resourceMetrics);
      expect(text).toMatch(/^nodejs_eventloop_delay_p99_seconds\{otel_scope_name="ticktrace"\} \d/m);
      expect(text).toMatch(
        /^v8js_gc_duration_seconds_count\{v8js_gc_type="(minor|major|incremental|weakcb)"/m,
      );

      // the next window starts afresh: no blocking, so the max is small again
      await new Promise((resolve) => setTimeout(resolve, 100));
      const next = await reader.collect();
      const max = next.resourceMetrics.scopeMetrics
        .flatMap((s) => s.metrics)
        .find((m) => m.descriptor.name === "nodejs_eventloop_delay_max_seconds")!;
      expect((max.dataPoints[0] as DataPoint<number>).value).toBeLessThan(0.04);
    } finally {
      runtime.shutdown();
      runtime.shutdown();
      await provider.shutdown();
    }
  });
});
