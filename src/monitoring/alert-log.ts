import { AlertLogFollower } from "../alert-log/follower.js";
import { parseAlertLogLine } from "../alert-log/log-line.js";
import type { Alerter } from "../alert-model/types.js";
import { systemClock, type Clock, type TimerHandle } from "../clock.js";
import { describeError } from "../errors.js";
import { createSilentLogger, type Logger } from "../logging/logger.js";

/**
 * The running process's pick-up of acknowledgements written to the alert log by
 * `ticktrace monitor ack` (the log is followed with `src/alert-log/follower.ts`).
 */

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
