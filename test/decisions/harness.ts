import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { createTradingMetrics, type TradingMetrics } from "../../src/telemetry/metrics.js";
import { TicktraceError } from "../../src/errors.js";
import type { DecisionStore } from "../../src/decisions/index.js";

/** Spans and metrics through in-memory exporters, created inside the test (no globals). */
export function createTelemetryHarness() {
  const spans = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
  const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({
    exporter: metricExporter,
    exportIntervalMillis: 3_600_000,
  });
  const meterProvider = new MeterProvider({ readers: [reader] });
  const metrics: TradingMetrics = createTradingMetrics(meterProvider.getMeter("ticktrace"));
  return {
    tracer: tracerProvider.getTracer("test"),
    metrics,
    spans,
    /** Data points of one metric after a collection: `[{ attributes, value }]`. */
    async points(name: string): Promise<{ attributes: Record<string, unknown>; value: unknown }[]> {
      metricExporter.reset();
      await reader.forceFlush();
      const out: { attributes: Record<string, unknown>; value: unknown }[] = [];
      for (const resource of metricExporter.getMetrics()) {
        for (const scope of resource.scopeMetrics) {
          for (const metric of scope.metrics) {
            if (metric.descriptor.name !== name) continue;
            for (const point of metric.dataPoints)
              out.push({ attributes: { ...point.attributes }, value: point.value });
          }
        }
      }
      return out;
    },
    async shutdown() {
      await meterProvider.shutdown();
      await tracerProvider.shutdown();
    },
  };
}

/** A store wrapper with switches: `failing` makes every write/init reject, `writes` counts calls. */
export function withSwitches(inner: DecisionStore) {
  const switches = { failing: false, writes: 0, inits: 0 };
  const unreachable = () =>
    new TicktraceError("UNREACHABLE", "decision store (fake): write failed: connection refused");
  const store: DecisionStore = {
    ...inner,
    kind: inner.kind,
    init: () => {
      switches.inits += 1;
      return switches.failing ? Promise.reject(unreachable()) : inner.init();
    },
    write: (batch) => {
      switches.writes += 1;
      return switches.failing ? Promise.reject(unreachable()) : inner.write(batch);
    },
  };
  return { store, switches };
}
