import type { Counter } from "@opentelemetry/api";
import { ExportResultCode, type ExportResult } from "@opentelemetry/core";
import type { LogRecordExporter } from "@opentelemetry/sdk-logs";
import type { PushMetricExporter } from "@opentelemetry/sdk-metrics";
import type { SpanExporter } from "@opentelemetry/sdk-trace-base";
import { describeError, redact } from "../errors.js";
import type { HealthRegistry } from "../health/registry.js";
import type { Logger } from "../logging/logger.js";

/** The three OTLP signals, as the `signal` label of `ticktrace_telemetry_export_failures_total`. */
export type Signal = "traces" | "metrics" | "logs";

/** Name of the `/health` component the monitor reports into. */
export const TELEMETRY_COMPONENT = "telemetry";

/** Where the monitor reports; attached once the logger and registry exist (they start after the SDK). */
export interface ExportMonitorTargets {
  health?: HealthRegistry;
  logger?: Logger;
  failures?: Counter;
}

/**
 * Watches OTLP exports. A collector that cannot be reached is reported once (one warning, the
 * `telemetry` health component turns `degraded`), every failure is counted, and the recovery is
 * reported once too, so a collector outage never floods the logs.
 */
export interface ExportMonitor {
  /** The collector endpoint as shown to people: no credentials, no query string. */
  readonly endpoint: string;
  /** Whether the last export of any signal failed. */
  readonly failing: boolean;
  /** Failures counted so far, per signal. */
  failureCount(signal: Signal): number;
  /** Records the outcome of one export. Never throws. */
  record(signal: Signal, result: ExportResult): void;
  /** Connects the logger, health registry and failure counter; reports a failure seen before. */
  attach(targets: ExportMonitorTargets): void;
  wrapSpanExporter(exporter: SpanExporter): SpanExporter;
  wrapLogExporter(exporter: LogRecordExporter): LogRecordExporter;
  wrapMetricExporter(exporter: PushMetricExporter): PushMetricExporter;
}

/** What the span, log and metric exporters have in common. */
interface WatchedExporter<Batch> {
  export(batch: Batch, done: (result: ExportResult) => void): void;
  shutdown(): Promise<void>;
  forceFlush?(): Promise<void>;
}

/** Removes user info and query from a URL so an endpoint can be logged and shown on `/health`. */
export function displayEndpoint(endpoint: string): string {
  try {
    const url = new URL(endpoint);
    url.username = "";
    url.password = "";
    url.search = "";
    url.hash = "";
    return redact(url.toString().replace(/\/$/, ""));
  } catch {
    return "<invalid endpoint>";
  }
}

/**
 * Creates the monitor for one collector `endpoint`. Wrap each OTLP exporter with it before
 * handing the exporter to its batch processor or reader, then `attach()` the logger and registry.
 */
export function createExportMonitor(options: { endpoint: string }): ExportMonitor {
  const endpoint = displayEndpoint(options.endpoint);
  const counts: Record<Signal, number> = { traces: 0, metrics: 0, logs: 0 };
  const failingSignals = new Set<Signal>();
  let targets: ExportMonitorTargets = {};
  let firstError: string | undefined;

  const reportDown = (signal: Signal, reason: string) => {
    targets.health?.report(TELEMETRY_COMPONENT, {
      state: "degraded",
      detail: `collector unreachable at ${endpoint}`,
    });
    targets.logger?.warn(`telemetry export to ${endpoint} failed; retrying quietly until it recovers`, {
      component: "telemetry",
      signal,
      error: reason,
    });
  };
  const reportUp = () => {
    targets.health?.report(TELEMETRY_COMPONENT, { state: "up", detail: `exporting to ${endpoint}` });
  };

  /** The same exporter, with every result recorded before it is passed on. */
  const watch = <Batch>(signal: Signal, exporter: WatchedExporter<Batch>) => ({
    export(batch: Batch, done: (result: ExportResult) => void) {
      exporter.export(batch, (result) => {
        monitor.record(signal, result);
        done(result);
      });
    },
    shutdown: () => exporter.shutdown(),
    forceFlush: () => exporter.forceFlush?.() ?? Promise.resolve(),
  });

  const monitor: ExportMonitor = {
    endpoint,
    get failing() {
      return failingSignals.size > 0;
    },
    failureCount: (signal) => counts[signal],
    record(signal, result) {
      try {
        if (result.code === ExportResultCode.SUCCESS) {
          if (!failingSignals.delete(signal) || failingSignals.size > 0) return;
          firstError = undefined;
          targets.logger?.info(`telemetry export to ${endpoint} recovered`, {
            component: "telemetry",
            signal,
          });
          reportUp();
          return;
        }
        counts[signal] += 1;
        targets.failures?.add(1, { signal });
        const wasFailing = failingSignals.size > 0;
        failingSignals.add(signal);
        if (wasFailing) return;
        firstError = redact(result.error ? describeError(result.error) : "export failed");
        reportDown(signal, firstError);
      } catch {
        // A monitor must never break the export pipeline it watches.
      }
    },
    attach(next) {
      targets = next;
      const health = next.health;
      if (health) {
        health.register(
          TELEMETRY_COMPONENT,
          { group: undefined },
          { state: "up", detail: `exporting to ${endpoint}` },
        );
      }
      const failedSignal = [...failingSignals][0];
      if (failedSignal) {
        for (const signal of ["traces", "metrics", "logs"] as const) {
          if (counts[signal] > 0) next.failures?.add(counts[signal], { signal });
        }
        reportDown(failedSignal, firstError ?? "export failed");
      }
    },
    wrapSpanExporter: (exporter) => watch("traces", exporter),
    wrapLogExporter: (exporter) => watch("logs", exporter),
    wrapMetricExporter(exporter) {
      const wrapped: PushMetricExporter = watch("metrics", exporter);
      if (exporter.selectAggregationTemporality) {
        wrapped.selectAggregationTemporality = exporter.selectAggregationTemporality.bind(exporter);
      }
      if (exporter.selectAggregation) wrapped.selectAggregation = exporter.selectAggregation.bind(exporter);
      return wrapped;
    },
  };
  return monitor;
}
