import type { Attributes } from "@opentelemetry/api";
import { systemClock, type Clock, type TimerHandle } from "../clock.js";
import { describeError, TicktraceError } from "../errors.js";
import type { HealthRegistry } from "../health/registry.js";
import { createSilentLogger, type Logger } from "../logging/logger.js";
import type { TradingMetrics } from "../telemetry/metrics.js";
import type { TradingEvents } from "../events/trading-events.js";

export interface WorkerOptions {
  /** Name in metrics (`worker` label), health (group `workers`) and events. */
  name: string;
  intervalMs: number;
  run: () => Promise<void> | void;
  metrics: TradingMetrics;
  health: HealthRegistry;
  events: TradingEvents;
  logger?: Logger;
  clock?: Clock;
}

export interface Worker {
  readonly name: string;
  /** Runs once now (also what the timer does). Never throws. */
  runOnce(): Promise<void>;
  /** Idempotent: stops the timer and waits for a run in flight. */
  shutdown(): Promise<void>;
}

/**
 * A background job on an interval (position monitor, reconciliation, PnL snapshot). Every run
 * is counted in `trading_worker_runs_total{worker,status}` and timed in
 * `trading_worker_duration_seconds`; a failure goes to `trading_worker_errors_total{error_type}`,
 * the `workerFailed` event and the health registry, and the loop goes on. A run still in flight
 * when the next is due is not overlapped. Timers never keep the process alive.
 */
export function startWorker(options: WorkerOptions): Worker {
  const clock = options.clock ?? systemClock;
  const logger = (options.logger ?? createSilentLogger()).child({
    component: "worker",
    worker: options.name,
  });
  const { metrics, health, events, name } = options;
  const okAttrs: Attributes = { worker: name, status: "ok" };
  const errorAttrs: Attributes = { worker: name, status: "error" };
  const durationAttrs: Attributes = { worker: name };
  health.register(name, { group: "workers", expectedIntervalMs: options.intervalMs });
  let timer: TimerHandle | undefined;
  let inFlight: Promise<void> | undefined;
  let stopped = false;

  const runOnce = async (): Promise<void> => {
    if (inFlight) return inFlight;
    const started = clock.monotonicMs();
    const attempt = (async () => {
      try {
        await options.run();
        const durationMs = clock.monotonicMs() - started;
        metrics.workerRuns.add(1, okAttrs);
        metrics.workerDuration.record(durationMs / 1000, durationAttrs);
        health.workerRan(name, { ok: true, durationMs });
      } catch (error) {
        const durationMs = clock.monotonicMs() - started;
        const message = describeError(error);
        const thrownName = (error as { name?: unknown } | null | undefined)?.name;
        const errorType =
          error instanceof TicktraceError
            ? error.code.toLowerCase()
            : typeof thrownName === "string"
              ? thrownName
              : "error";
        metrics.workerRuns.add(1, errorAttrs);
        metrics.workerErrors.add(1, { worker: name, error_type: errorType });
        metrics.workerDuration.record(durationMs / 1000, durationAttrs);
        health.workerRan(name, { ok: false, durationMs, error: message });
        events.emit("workerFailed", { worker: name, error: message });
        logger.warn("worker run failed", { error: message, error_type: errorType });
      }
    })();
    inFlight = attempt;
    try {
      await attempt;
    } finally {
      inFlight = undefined;
    }
  };

  const schedule = () => {
    if (stopped) return;
    timer = clock.setTimeout(() => {
      // Fire-and-forget by design: runOnce never rejects, and the next run is scheduled here.
      void runOnce().finally(schedule);
    }, options.intervalMs);
  };
  schedule();

  return {
    name,
    runOnce,
    async shutdown() {
      stopped = true;
      if (timer) clock.clearTimeout(timer);
      await inFlight;
    },
  };
}
