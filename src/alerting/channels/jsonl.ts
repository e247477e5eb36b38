import fs from "node:fs";
import { systemClock, type Clock, type TimerHandle } from "../../clock.js";
import { TicktraceError, describeError } from "../../errors.js";
import { alertLogFile, cleanupAlertLogs, formatAlertLine } from "../../alert-log/store.js";
import type { Alert, AlertChannel, AlertLevel, DeliveryContext } from "../../alert-model/types.js";

/**
 * The JSONL channel: appends every alert event to the alert log (format and readers in
 * `src/alert-log/store.ts`) and applies its retention.
 */
export interface JsonlChannelOptions {
  /** `alerts.jsonl.dir` (default `logs/alerts`). */
  dir: string;
  /** `alerts.jsonl.min_level` (default INFO). */
  minLevel?: AlertLevel;
  /** `alerts.jsonl.retention_days` (default 90). */
  retentionDays?: number;
  clock?: Clock;
  /** How often retention runs (default 6 h); it also runs once at start. */
  cleanupIntervalMs?: number;
  /** Told about a failed cleanup (the loop goes on). */
  onCleanupError?: (error: unknown) => void;
}

/** The JSONL channel (an audit channel: every alert event, storms included). */
export function createJsonlChannel(options: JsonlChannelOptions): AlertChannel {
  const clock = options.clock ?? systemClock;
  const retentionDays = options.retentionDays ?? 90;
  const intervalMs = options.cleanupIntervalMs ?? 6 * 3_600_000;
  let madeDir = false;
  /** A write failed: it may have left a torn line, which the next write must not extend. */
  let torn = false;
  let timer: TimerHandle | undefined;
  let stopped = false;
  const cleanup = () => {
    if (stopped) return;
    cleanupAlertLogs(options.dir, retentionDays, clock.now()).catch((error: unknown) =>
      options.onCleanupError?.(error),
    );
    timer = clock.setTimeout(cleanup, intervalMs);
  };
  cleanup();
  return {
    name: "jsonl",
    kind: "audit",
    minLevel: options.minLevel ?? "INFO",
    async send(alert: Alert, _signal: AbortSignal, context?: DeliveryContext): Promise<void> {
      const event = context?.event ?? (alert.status === "resolved" ? "resolved" : "firing");
      const at = clock.now();
      try {
        if (!madeDir) {
          await fs.promises.mkdir(options.dir, { recursive: true });
          madeDir = true;
        }
        // After a failure, a leading newline ends any torn line (the fold skips it and blank lines).
        const line = `${torn ? "\n" : ""}${formatAlertLine(alert, event, at)}\n`;
        await fs.promises.appendFile(alertLogFile(options.dir, at), line);
        torn = false;
      } catch (error) {
        torn = true;
        madeDir = false;
        // UNREACHABLE, so the manager retries with backoff: a full or read-only disk comes back,
        // and the line is written then (the queue keeps it in memory meanwhile).
        throw new TicktraceError(
          "UNREACHABLE",
          `cannot append to the alert log in ${options.dir}: ${describeError(error)}`,
          { cause: error },
        );
      }
    },
    shutdown() {
      stopped = true;
      if (timer) clock.clearTimeout(timer);
      return Promise.resolve();
    },
  };
}
