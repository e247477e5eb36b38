import { open } from "node:fs/promises";
import { basename } from "node:path";
import { listAlertLogFiles } from "../alerting/channels/jsonl.js";
import { parseAlertLogLine } from "../alerting/log-line.js";
import type { Alerter } from "../alerting/types.js";
import { systemClock, type Clock, type TimerHandle } from "../clock.js";
import { describeError } from "../errors.js";
import { createSilentLogger, type Logger } from "../logging/logger.js";

/**
 * Reading the alert module's JSONL log (`<dir>/<YYYY-MM-DD>.jsonl`, format in
 * `src/alerting/channels/jsonl.ts`) as it grows: the CLI's `tail` and the running process's
 * pick-up of acknowledgements written by `ticktrace monitor ack`.
 */

export interface AlertLogFollowerOptions {
  dir: string;
  /** Start at the end of the newest file (only new lines) instead of the start of the oldest. Default false. */
  fromEnd?: boolean;
  /** Skip the daily files before this UTC day (`YYYY-MM-DD`) on the first poll. */
  fromDay?: string;
}

/**
 * Follows the daily alert files: each `poll()` returns the complete lines appended since the
 * previous one, across the midnight change to a new file (the rest of the old file first).
 * A line still being written (no newline yet) waits for the next poll; only whole lines are
 * consumed, so a multi-byte character is never split.
 */
export class AlertLogFollower {
  private readonly dir: string;
  private readonly fromEnd: boolean;
  private readonly fromDay: string | undefined;
  private file: string | undefined;
  private offset = 0;
  private primed = false;

  constructor(options: AlertLogFollowerOptions) {
    this.dir = options.dir;
    this.fromEnd = options.fromEnd ?? false;
    this.fromDay = options.fromDay;
  }

  /** New complete lines, oldest first. Throws only for an unreadable directory. */
  async poll(): Promise<string[]> {
    let files = listAlertLogFiles(this.dir);
    if (!this.primed) {
      this.primed = true;
      if (this.fromDay !== undefined) files = files.filter((f) => basename(f, ".jsonl") >= this.fromDay!);
      if (this.fromEnd && files.length > 0) {
        this.file = files[files.length - 1]!;
        this.offset = (await readFrom(this.file, 0, false)).bytes;
        return [];
      }
    }
    const lines: string[] = [];
    // The current file first, then the newer ones (names sort by date).
    const pending =
      this.file === undefined ? files : files.filter((f) => basename(f) >= basename(this.file!));
    for (let i = 0; i < pending.length; i++) {
      const file = pending[i]!;
      if (file !== this.file) {
        this.file = file;
        this.offset = 0;
      }
      // An older file is finished: its last line counts even without a newline.
      const chunk = await readFrom(file, this.offset, i < pending.length - 1);
      this.offset += chunk.bytes;
      for (const line of chunk.text.split("\n")) if (line.trim() !== "") lines.push(line);
    }
    return lines;
  }
}

/** Reads from `offset` up to the last newline (or to the end when `toEnd`). */
async function readFrom(
  file: string,
  offset: number,
  toEnd: boolean,
): Promise<{ text: string; bytes: number }> {
  let handle;
  try {
    handle = await open(file, "r");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { text: "", bytes: 0 };
    throw error;
  }
  try {
    const { size } = await handle.stat();
    if (size <= offset) return { text: "", bytes: 0 };
    const buffer = Buffer.alloc(size - offset);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
    const end = toEnd ? bytesRead : buffer.subarray(0, bytesRead).lastIndexOf(0x0a) + 1;
    return { text: buffer.subarray(0, end).toString("utf8"), bytes: end };
  } finally {
    await handle.close();
  }
}

export interface AckWatcherOptions {
  /** `alerts.jsonl.dir`. */
  dir: string;
  alerter: Alerter;
  /** How often the log is read (`monitoring.ack_poll_interval_ms`). */
  intervalMs: number;
  clock?: Clock;
  logger?: Logger;
}

/**
 * Brings acknowledgements written to the alert log by another process (`ticktrace monitor ack`)
 * into the running alert manager: every `intervalMs` it reads the new lines, and for each
 * `acknowledged` line of an alert that is active here and not yet acknowledged it calls
 * `alerter.acknowledge(id, by)`. The manager's own acknowledgement lines find the alert already
 * acknowledged and are skipped, so nothing loops. Never throws.
 */
export class AckWatcher {
  private readonly follower: AlertLogFollower;
  private readonly options: AckWatcherOptions;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private timer: TimerHandle | undefined;
  private running: Promise<number> | undefined;
  private stopped = false;

  constructor(options: AckWatcherOptions) {
    this.options = options;
    this.follower = new AlertLogFollower({ dir: options.dir });
    this.clock = options.clock ?? systemClock;
    this.logger = (options.logger ?? createSilentLogger()).child({ component: "monitoring" });
  }

  /** Reads the whole log once (acks written while the process was down count) and then polls. */
  start(): void {
    if (this.timer !== undefined || this.stopped) return;
    const loop = (): void => {
      if (this.stopped) return;
      void this.pollNow().finally(() => {
        if (!this.stopped) this.timer = this.clock.setTimeout(loop, this.options.intervalMs);
      });
    };
    this.timer = this.clock.setTimeout(loop, 0);
  }

  /** Applies the acknowledgements in lines written since the last poll; returns how many. Never rejects. */
  pollNow(): Promise<number> {
    this.running ??= this.poll().finally(() => (this.running = undefined));
    return this.running;
  }

  async shutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    await this.running;
  }

  private async poll(): Promise<number> {
    let lines: string[];
    try {
      lines = await this.follower.poll();
    } catch (error) {
      this.logger.warn("cannot read the alert log for acknowledgements", {
        dir: this.options.dir,
        error: describeError(error),
      });
      return 0;
    }
    let applied = 0;
    for (const line of lines) {
      if (!line.includes('"acknowledged"')) continue;
      const raw = parseAlertLogLine(line);
      if (raw?.event !== "acknowledged") continue;
      const id = raw.id;
      const alert = this.options.alerter.active().find((a) => a.id === id);
      if (!alert || alert.acknowledged) continue;
      try {
        const by = raw.acknowledged_by ?? "cli";
        this.options.alerter.acknowledge(id, by);
        applied++;
        this.logger.info("alert acknowledged from the alert log", { alert_id: id, rule: alert.rule, by });
      } catch (error) {
        this.logger.warn("acknowledgement from the alert log failed", {
          alert_id: id,
          error: describeError(error),
        });
      }
    }
    return applied;
  }
}
