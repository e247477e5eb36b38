import { ExportResultCode, type ExportResult } from "@opentelemetry/core";
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-base";
import { describe, expect, it } from "vitest";
import { HealthRegistry } from "../../src/health/registry.js";
import { captureLogger } from "../logging/capture.js";
import { createExportMonitor, displayEndpoint } from "../../src/telemetry/export-monitor.js";
import { createTradingMetrics } from "../../src/telemetry/metrics.js";

/** A span exporter with a switch: while `failing`, every export fails like an unreachable collector. */
class SwitchableExporter implements SpanExporter {
  failing = false;
  exported = 0;
  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    if (this.failing) {
      done({ code: ExportResultCode.FAILED, error: new Error("connect ECONNREFUSED 127.0.0.1:4318") });
      return;
    }
    this.exported += spans.length;
    done({ code: ExportResultCode.SUCCESS });
  }
  shutdown = () => Promise.resolve();
  forceFlush = () => Promise.resolve();
}

function setup() {
  const { logger, entries } = captureLogger();
  const health = new HealthRegistry();
  const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({
    exporter: metricExporter,
    exportIntervalMillis: 60_000,
  });
  const provider = new MeterProvider({ readers: [reader] });
  const metrics = createTradingMetrics(provider.getMeter("ticktrace"));
  const monitor = createExportMonitor({ endpoint: "https://user:pass@collector.example:4318/?token=abc" });
  const inner = new SwitchableExporter();
  const exporter = monitor.wrapSpanExporter(inner);
  const failuresBySignal = async () => {
    await reader.forceFlush();
    const metric = metricExporter
      .getMetrics()
      .at(-1)
      ?.scopeMetrics[0]?.metrics.find(
        (m) => m.descriptor.name === "ticktrace_telemetry_export_failures_total",
      );
    return Object.fromEntries(
      (metric?.dataPoints ?? []).map((p) => [String(p.attributes.signal), p.value as number]),
    );
  };
  const exportOnce = () => new Promise<ExportResult>((resolve) => exporter.export([], resolve));
  return { entries, logger, health, metrics, monitor, inner, exportOnce, failuresBySignal, provider };
}

describe("export monitor", () => {
  it("shows the endpoint without credentials or query", () => {
    expect(displayEndpoint("https://user:pass@collector.example:4318/?token=abc")).toBe(
      "https://collector.example:4318",
    );
    expect(displayEndpoint("not a url")).toBe("<invalid endpoint>");
  });

  it("reports an outage once, counts every failure, and reports the recovery once", async () => {
    const { entries, logger, health, metrics, monitor, inner, exportOnce, failuresBySignal, provider } =
      setup();
    monitor.attach({ health, logger, failures: metrics.telemetryExportFailures });
    expect(health.snapshot().components.telemetry).toEqual({
      status: "up",
      detail: "exporting to https://collector.example:4318",
    });

    inner.failing = true;
    for (let i = 0; i < 50; i++) expect((await exportOnce()).code).toBe(ExportResultCode.FAILED);
    monitor.record("logs", { code: ExportResultCode.FAILED });
    expect(monitor.failing).toBe(true);
    expect(monitor.failureCount("traces")).toBe(50);
    expect(entries()).toHaveLength(1);
    expect(entries()[0]).toMatchObject({
      level: "warn",
      component: "telemetry",
      signal: "traces",
      error: "connect ECONNREFUSED 127.0.0.1:4318",
      message:
        "telemetry export to https://collector.example:4318 failed; retrying quietly until it recovers",
    });
    expect(health.snapshot()).toMatchObject({
      status: "degraded",
      ready: true,
      components: {
        telemetry: { status: "degraded", detail: "collector unreachable at https://collector.example:4318" },
      },
    });
    expect(await failuresBySignal()).toEqual({ traces: 50, logs: 1 });

    inner.failing = false;
    expect((await exportOnce()).code).toBe(ExportResultCode.SUCCESS);
    // Logs still failing: not recovered yet.
    expect(monitor.failing).toBe(true);
    expect(entries()).toHaveLength(1);
    monitor.record("logs", { code: ExportResultCode.SUCCESS });
    expect(monitor.failing).toBe(false);
    expect(entries()).toHaveLength(2);
    expect(entries()[1]).toMatchObject({
      level: "info",
      message: "telemetry export to https://collector.example:4318 recovered",
    });
    expect(health.snapshot().status).toBe("healthy");
    for (let i = 0; i < 5; i++) await exportOnce();
    expect(entries()).toHaveLength(2);
    expect(JSON.stringify(entries())).not.toContain("pass");
    await provider.shutdown();
  });

  it("a failure seen before attach is reported at attach", async () => {
    const { entries, logger, health, metrics, monitor, inner, exportOnce, failuresBySignal, provider } =
      setup();
    inner.failing = true;
    await exportOnce();
    await exportOnce();
    expect(entries()).toHaveLength(0);
    monitor.attach({ health, logger, failures: metrics.telemetryExportFailures });
    expect(entries()).toHaveLength(1);
    expect(health.stateOf("telemetry")).toBe("degraded");
    expect(await failuresBySignal()).toEqual({ traces: 2 });
    await provider.shutdown();
  });

  it("never throws into the export pipeline, even if a target does", async () => {
    const { monitor, inner, exportOnce } = setup();
    const broken = {
      register: () => undefined,
      report: () => {
        throw new Error("boom");
      },
    } as unknown as HealthRegistry;
    monitor.attach({ health: broken });
    inner.failing = true;
    expect((await exportOnce()).code).toBe(ExportResultCode.FAILED);
  });
});
