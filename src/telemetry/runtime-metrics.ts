import { constants, monitorEventLoopDelay, performance, PerformanceObserver } from "node:perf_hooks";
import { getHeapSpaceStatistics } from "node:v8";
import type { BatchObservableResult, Meter, Observable } from "@opentelemetry/api";
import { RUNTIME_METRICS } from "./catalogue.js";

/** Options of {@link startRuntimeMetrics}. */
export interface RuntimeMetricsOptions {
  meter: Meter;
  /** Sampling resolution of the event-loop delay monitor. Default 10 ms. */
  eventLoopResolutionMs?: number;
}

/** What {@link startRuntimeMetrics} started. */
export interface RuntimeMetrics {
  /** Stops the event-loop monitor and the GC observer, and removes the callbacks. Idempotent. */
  shutdown(): void;
}

const GC_KINDS: Readonly<Record<number, string>> = {
  [constants.NODE_PERFORMANCE_GC_MAJOR]: "major",
  [constants.NODE_PERFORMANCE_GC_MINOR]: "minor",
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: "incremental",
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: "weakcb",
};

/**
 * Node.js runtime metrics ({@link RUNTIME_METRICS}): event-loop delay percentiles from
 * `perf_hooks.monitorEventLoopDelay`, event-loop utilization, GC pauses by kind from a `gc`
 * PerformanceObserver, V8 heap by space, and RSS. The delay and utilization cover the time
 * since the previous collection (a `/metrics` scrape or an OTLP push, whichever came last);
 * the monitor is then reset. Everything is read in one batch callback at collection time: no
 * timer, nothing on the hot path but V8's own GC notifications.
 */
export function startRuntimeMetrics(options: RuntimeMetricsOptions): RuntimeMetrics {
  const { meter } = options;
  const M = RUNTIME_METRICS;
  const delay = monitorEventLoopDelay({ resolution: options.eventLoopResolutionMs ?? 10 });
  delay.enable();
  let lastElu = performance.eventLoopUtilization();

  const gauge = (d: (typeof M)[keyof typeof M]) =>
    meter.createObservableGauge(d.name, { description: d.description, unit: d.unit });
  const delays = {
    min: gauge(M.eventLoopDelayMin),
    max: gauge(M.eventLoopDelayMax),
    mean: gauge(M.eventLoopDelayMean),
    stddev: gauge(M.eventLoopDelayStddev),
    p50: gauge(M.eventLoopDelayP50),
    p90: gauge(M.eventLoopDelayP90),
    p99: gauge(M.eventLoopDelayP99),
  };
  const utilization = gauge(M.eventLoopUtilization);
  const heapUsed = gauge(M.heapUsed);
  const heapLimit = gauge(M.heapLimit);
  const rss = gauge(M.processMemory);
  const observables: Observable[] = [...Object.values(delays), utilization, heapUsed, heapLimit, rss];

  const collect = (result: BatchObservableResult) => {
    // Nanoseconds; a window with no sample yet reports NaN / huge min, which is left out.
    if (delay.count > 0) {
      const s = (ns: number) => ns / 1e9;
      result.observe(delays.min, s(delay.min));
      result.observe(delays.max, s(delay.max));
      result.observe(delays.mean, s(delay.mean));
      result.observe(delays.stddev, s(delay.stddev));
      result.observe(delays.p50, s(delay.percentile(50)));
      result.observe(delays.p90, s(delay.percentile(90)));
      result.observe(delays.p99, s(delay.percentile(99)));
    }
    delay.reset();
    const now = performance.eventLoopUtilization();
    result.observe(utilization, performance.eventLoopUtilization(now, lastElu).utilization);
    lastElu = now;
    for (const space of getHeapSpaceStatistics()) {
      const attributes = { "v8js.heap.space.name": space.space_name };
      result.observe(heapUsed, space.space_used_size, attributes);
      result.observe(heapLimit, space.space_size, attributes);
    }
    result.observe(rss, process.memoryUsage.rss());
  };
  meter.addBatchObservableCallback(collect, observables);

  const gc = meter.createHistogram(M.gcDuration.name, {
    description: M.gcDuration.description,
    unit: M.gcDuration.unit,
    advice: { explicitBucketBoundaries: [...M.gcDuration.buckets] },
  });
  const attributesByKind = new Map<number, { "v8js.gc.type": string }>();
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as { detail?: { kind?: number } }).detail?.kind ?? -1;
      let attributes = attributesByKind.get(kind);
      if (!attributes)
        attributesByKind.set(kind, (attributes = { "v8js.gc.type": GC_KINDS[kind] ?? "other" }));
      gc.record(entry.duration / 1000, attributes);
    }
  });
  observer.observe({ entryTypes: ["gc"] });

  let stopped = false;
  return {
    shutdown() {
      if (stopped) return;
      stopped = true;
      observer.disconnect();
      delay.disable();
      meter.removeBatchObservableCallback(collect, observables);
    },
  };
}
