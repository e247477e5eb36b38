import { MeterProvider, MetricReader, type DataPoint, type Histogram } from "@opentelemetry/sdk-metrics";
import { PassThrough } from "node:stream";
import winston from "winston";
import { createTradingMetrics, type TradingMetrics } from "../../src/telemetry/metrics.js";
import { createLogger, type Logger } from "../../src/logging/logger.js";
import type {
  Alert,
  AlertChannel,
  AlertChannelKind,
  AlertLevel,
  DeliveryContext,
} from "../../src/alert-model/types.js";
import { TicktraceError } from "../../src/errors.js";

/** A firing alert for channel and delivery tests, with `overrides` on top of plain defaults. */
export function testAlert(overrides: Partial<Alert> = {}): Alert {
  return {
    id: "a-1",
    fingerprint: "r",
    rule: "r",
    level: "WARNING",
    title: "t",
    message: "m",
    timestamp: "2026-01-01T00:00:00.000Z",
    labels: {},
    fields: {},
    status: "firing",
    acknowledged: false,
    ...overrides,
  };
}

class TestReader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** Metrics recorded into an in-memory reader created for one test. */
export function createTestMetrics(): {
  metrics: TradingMetrics;
  /** Points of one metric: attributes and value (sum, gauge value, or histogram count). */
  points: (name: string) => Promise<{ attributes: Record<string, unknown>; value: number }[]>;
} {
  const reader = new TestReader();
  const provider = new MeterProvider({ readers: [reader] });
  const metrics = createTradingMetrics(provider.getMeter("test"));
  return {
    metrics,
    async points(name) {
      const { resourceMetrics } = await reader.collect();
      const out: { attributes: Record<string, unknown>; value: number }[] = [];
      for (const scope of resourceMetrics.scopeMetrics) {
        for (const metric of scope.metrics) {
          if (metric.descriptor.name !== name) continue;
          for (const point of metric.dataPoints as DataPoint<number | Histogram>[]) {
            const value = typeof point.value === "number" ? point.value : point.value.count;
            out.push({ attributes: point.attributes, value });
          }
        }
      }
      return out;
    },
  };
}

/** A logger whose JSON lines are collected in `lines`. */
export function createCapturingLogger(): {
  logger: Logger;
  lines: Record<string, unknown>[];
  text: () => string;
} {
  const stream = new PassThrough();
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  stream.on("data", (chunk: Buffer) => {
    for (const line of chunk.toString("utf8").split("\n")) {
      if (line.trim() === "") continue;
      raw.push(line);
      lines.push(JSON.parse(line));
    }
  });
  const logger = createLogger({ level: "debug", transports: [new winston.transports.Stream({ stream })] });
  return { logger, lines, text: () => raw.join("\n") };
}

/** One delivery the recording channel saw. */
export interface Delivered {
  alert: Alert;
  event: string;
  attempt: number;
  collapsed?: readonly Alert[];
}

/**
 * An in-memory channel with switches: `failNext` failures (retryable unless `failCode` says
 * otherwise), `hang` to never answer (until aborted), `latencyMs`.
 */
export interface RecordingChannel extends AlertChannel {
  delivered: Delivered[];
  attempts: number;
  failNext: number;
  failCode: "UNREACHABLE" | "REJECTED" | "RATE_LIMITED";
  retryAfterSeconds?: number;
  hang: boolean;
  aborted: number;
}

export function createRecordingChannel(options: {
  name: string;
  kind?: AlertChannelKind;
  minLevel?: AlertLevel;
  resendIntervalMs?: number;
  timeoutMs?: number;
}): RecordingChannel {
  const channel: RecordingChannel = {
    name: options.name,
    kind: options.kind ?? "page",
    minLevel: options.minLevel ?? "INFO",
    ...(options.resendIntervalMs ? { resendIntervalMs: options.resendIntervalMs } : {}),
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    delivered: [],
    attempts: 0,
    failNext: 0,
    failCode: "UNREACHABLE",
    hang: false,
    aborted: 0,
    send(alert: Alert, signal: AbortSignal, context?: DeliveryContext) {
      channel.attempts++;
      if (channel.hang) {
        return new Promise<void>((_resolve, reject) => {
          signal.addEventListener("abort", () => {
            channel.aborted++;
            reject(new TicktraceError("TIMEOUT", "aborted"));
          });
        });
      }
      if (channel.failNext > 0) {
        channel.failNext--;
        return Promise.reject(
          new TicktraceError(channel.failCode, `${options.name} said no`, {
            ...(channel.failCode === "REJECTED" ? { status: 400 } : {}),
            ...(channel.retryAfterSeconds !== undefined
              ? { retryAfterSeconds: channel.retryAfterSeconds }
              : {}),
          }),
        );
      }
      channel.delivered.push({
        alert,
        event: context?.event ?? "firing",
        attempt: context?.attempt ?? 1,
        ...(context?.collapsed ? { collapsed: context.collapsed } : {}),
      });
      return Promise.resolve();
    },
  };
  return channel;
}

/** Lets pending setImmediate/microtask work run. */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
}
