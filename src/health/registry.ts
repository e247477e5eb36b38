import { systemClock, type Clock } from "../clock.js";
import { isoTimestamp } from "../format/timestamp.js";
import { formatAgo, formatDuration } from "../format/duration.js";

/** A component's own state. `down` on a required component makes the process unhealthy and unready. */
export type ComponentState = "up" | "degraded" | "down";

/** Overall status on `/health`: `unhealthy` when a required component is down, `degraded` when anything is not up. */
export type OverallStatus = "healthy" | "degraded" | "unhealthy";

export interface ComponentOptions {
  /** Groups components in the `/health` JSON (`workers`, `exchanges`, `alerts`, ...). */
  group?: string | undefined;
  /** A required component that is down makes `/health/ready` answer 503. Default false. */
  required?: boolean;
  /**
   * For workers: the interval the component is expected to report in. A component that has
   * not reported for twice this long is reported `degraded` with detail `stalled`.
   */
  expectedIntervalMs?: number;
}

export interface ComponentUpdate {
  state: ComponentState;
  /** Short human text: "connected", "reconnecting (attempt 3)", "circuit breaker tripped". */
  detail?: string;
  /** Latency of the last check or call, milliseconds. */
  latencyMs?: number;
  /** Extra fields shown as they are (no secrets). */
  fields?: Record<string, string | number | boolean>;
}

export interface ComponentReport {
  status: ComponentState;
  detail?: string;
  latency_ms?: number;
  last_run?: string;
  last_run_ago?: string;
  [field: string]: string | number | boolean | undefined;
}

export interface HealthReport {
  status: OverallStatus;
  ready: boolean;
  timestamp: string;
  uptime_seconds: number;
  components: Record<string, ComponentReport | Record<string, ComponentReport>>;
}

interface Entry {
  name: string;
  options: ComponentOptions;
  update: ComponentUpdate;
  lastReportMs: number | undefined;
}

/**
 * Where every part of the process reports its state: the exchange connection, workers, the
 * telemetry exporter, alert channels. Pure bookkeeping; the HTTP server renders it.
 */
export class HealthRegistry {
  private readonly entries = new Map<string, Entry>();
  private readonly clock: Clock;
  private readonly startedMs: number;

  constructor(options: { clock?: Clock } = {}) {
    this.clock = options.clock ?? systemClock;
    this.startedMs = this.clock.now();
  }

  /** Registers a component (idempotent; options of a later call win). Starts `up` unless given. */
  register(name: string, options: ComponentOptions = {}, initial: ComponentUpdate = { state: "up" }): void {
    const existing = this.entries.get(name);
    if (existing) {
      existing.options = options;
      return;
    }
    this.entries.set(name, { name, options, update: initial, lastReportMs: undefined });
  }

  /** Records a component's current state; registers it on first use. */
  report(name: string, update: ComponentUpdate): void {
    const entry = this.entries.get(name);
    if (!entry) {
      this.entries.set(name, { name, options: {}, update, lastReportMs: this.clock.now() });
      return;
    }
    entry.update = update;
    entry.lastReportMs = this.clock.now();
  }

  /** Records that a worker ran; `ok: false` reports it degraded with the error text. */
  workerRan(name: string, result: { ok: boolean; durationMs: number; error?: string }): void {
    this.report(name, {
      state: result.ok ? "up" : "degraded",
      latencyMs: Math.round(result.durationMs * 1000) / 1000,
      ...(result.ok ? {} : { detail: result.error ?? "last run failed" }),
    });
  }

  unregister(name: string): void {
    this.entries.delete(name);
  }

  /** The state of one component as `/health` would show it, or undefined if unknown. */
  stateOf(name: string): ComponentState | undefined {
    const entry = this.entries.get(name);
    return entry ? this.effective(entry, this.clock.now()).status : undefined;
  }

  /** The whole report. Overall: unhealthy if a required component is down; degraded if anything is not up. */
  snapshot(): HealthReport {
    const now = this.clock.now();
    const components: HealthReport["components"] = {};
    let anyRequiredDown = false;
    let anyNotUp = false;
    for (const entry of this.entries.values()) {
      const report = this.effective(entry, now);
      if (report.status === "down" && entry.options.required) anyRequiredDown = true;
      if (report.status !== "up") anyNotUp = true;
      const group = entry.options.group;
      if (group) {
        const bucket = (components[group] ??= {}) as Record<string, ComponentReport>;
        bucket[entry.name] = report;
      } else {
        components[entry.name] = report;
      }
    }
    return {
      status: anyRequiredDown ? "unhealthy" : anyNotUp ? "degraded" : "healthy",
      ready: !anyRequiredDown,
      // isoTimestamp, not Date#toISOString: the report is built for every probe request (1,000 a
      // second under a hard-polling balancer) and the timestamps of one second share their text.
      timestamp: isoTimestamp(now),
      uptime_seconds: Math.round((now - this.startedMs) / 1000),
      components,
    };
  }

  private effective(entry: Entry, now: number): ComponentReport {
    const { update, options, lastReportMs } = entry;
    const report: ComponentReport = { status: update.state };
    if (update.detail !== undefined) report.detail = update.detail;
    if (update.latencyMs !== undefined) report.latency_ms = update.latencyMs;
    if (update.fields) Object.assign(report, update.fields);
    if (options.expectedIntervalMs !== undefined) {
      if (lastReportMs === undefined) {
        // Not run yet: give it two intervals from registration before calling it stalled.
        if (now - this.startedMs > 2 * options.expectedIntervalMs) {
          report.status = "degraded";
          report.detail = "stalled: has not run yet";
        }
      } else {
        report.last_run = isoTimestamp(lastReportMs);
        report.last_run_ago = formatAgo(now - lastReportMs);
        if (now - lastReportMs > 2 * options.expectedIntervalMs && report.status === "up") {
          report.status = "degraded";
          report.detail = `stalled: last run ${report.last_run_ago} (expected every ${formatDuration(options.expectedIntervalMs)})`;
        }
      }
    }
    return report;
  }
}
