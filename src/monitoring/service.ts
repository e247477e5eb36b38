import { fingerprintOf } from "../alert-model/model.js";
import type { Alerter } from "../alert-model/types.js";
import { systemClock, type Clock, type TimerHandle } from "../clock.js";
import type { Config } from "../config/schema.js";
import { describeError } from "../errors.js";
import type { HealthRegistry } from "../health/registry.js";
import { createSilentLogger, type Logger } from "../logging/logger.js";
import { createTradingMetrics, type TradingMetrics } from "../telemetry/metrics.js";
import { applyRetention, fileMtime, writeSnapshotFile, type RetentionResult } from "./files.js";
import { CounterWindow, countersOf } from "./history.js";
import { evaluateRules, longestWindowMs, type ArtifactState, type Finding } from "./rules.js";
import { monitoringSnapshotSchema, type MonitoringSnapshot } from "./snapshot.js";

/** A snapshot, or a function that builds one (called off the tick path, at evaluation). */
export type SnapshotSource = MonitoringSnapshot | (() => MonitoringSnapshot);

export interface MonitoringServiceOptions {
  /** Where findings are raised and resolved (the alert manager). */
  alerter: Alerter;
  /** The `monitoring` config section. */
  config: Config["monitoring"];
  clock?: Clock;
  logger?: Logger;
  /** Instruments; default: created on the global meter. */
  metrics?: Pick<TradingMetrics, "monitoringEvaluations" | "monitoringEvaluationDuration">;
  /** Reports the service as worker `monitoring` (group `workers`). */
  health?: HealthRegistry;
  /**
   * Runs an evaluation off the caller's stack. Default `setImmediate`: ticks arriving in a burst
   * are coalesced into one evaluation of the latest snapshot.
   */
  defer?: (fn: () => void) => void;
  /** Reads a file's modification time (the edge the artifact rule needs). Default `fs.stat`. */
  statFile?: (path: string) => Promise<{ mtimeMs: number | null; error?: string }>;
}

interface ActiveFinding {
  finding: Finding;
  raisedAtMs: number;
  /** When the finding was first missing from an evaluation; undefined while it holds. */
  clearSinceMs?: number | undefined;
}

/** Firing findings are raised again this often, so an alert resolved elsewhere comes back while the condition holds. */
const REFRESH_MS = 60_000;
/** At most one log line per this interval for repeated evaluation problems. */
const LOG_EVERY_MS = 60_000;

/**
 * Watches the trading process from the inside: rules on every tick, snapshots to disk (the
 * first as soon as one arrives, then at an interval), retention in the background.
 *
 * `recordTick` is O(1) for the caller: it stores the snapshot and schedules one evaluation on
 * `setImmediate`; rules, validation and alerting happen there. Nothing in here ever throws into
 * the trading loop: failures are logged (rate-limited) and counted in
 * `ticktrace_monitoring_evaluations_total{outcome="error"|"invalid"}`.
 *
 * The process cannot watch its own death: a crashed or frozen process runs no rules. The
 * deployment's Prometheus rules (heartbeat age, target down) cover that; see docs/monitoring.md.
 */
export class MonitoringService {
  private readonly alerter: Alerter;
  private readonly config: Config["monitoring"];
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly metrics: Pick<TradingMetrics, "monitoringEvaluations" | "monitoringEvaluationDuration">;
  private readonly health: HealthRegistry | undefined;
  private readonly defer: (fn: () => void) => void;
  private readonly statFile: (path: string) => Promise<{ mtimeMs: number | null; error?: string }>;
  private readonly window: CounterWindow;
  private readonly active = new Map<string, ActiveFinding>();
  private readonly timers = new Map<string, TimerHandle>();
  private readonly inFlight = new Set<Promise<unknown>>();

  private pending: SnapshotSource | undefined;
  private scheduled = false;
  private latest: MonitoringSnapshot | undefined;
  private artifacts: ArtifactState[] = [];
  private startedMs: number;
  private started = false;
  private stopped = false;
  private lastPersisted: MonitoringSnapshot | undefined;
  private persisting = false;
  private readonly counts = { ok: 0, invalid: 0, error: 0 };
  private readonly lastLogMs = { invalid: -Infinity, error: -Infinity };
  private readonly suppressedLogs = { invalid: 0, error: 0 };
  private readonly runEvaluation = (): void => {
    this.scheduled = false;
    this.evaluateNow();
  };

  constructor(options: MonitoringServiceOptions) {
    this.alerter = options.alerter;
    this.config = options.config;
    this.clock = options.clock ?? systemClock;
    this.logger = (options.logger ?? createSilentLogger()).child({ component: "monitoring" });
    this.metrics = options.metrics ?? createTradingMetrics();
    this.health = options.health;
    this.defer = options.defer ?? ((fn) => void setImmediate(fn));
    this.statFile = options.statFile ?? fileMtime;
    this.window = new CounterWindow({ maxAgeMs: longestWindowMs(this.config.rules) });
    this.startedMs = this.clock.now();
  }

  /** Starts the background work: periodic evaluation, snapshots, artifact checks, retention. Idempotent. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.startedMs = this.clock.now();
    this.health?.register("monitoring", {
      group: "workers",
      expectedIntervalMs: this.config.evaluation_interval_ms,
    });
    this.every("evaluate", this.config.evaluation_interval_ms, () => {
      const began = this.clock.monotonicMs();
      const outcome = this.evaluateNow();
      this.health?.workerRan("monitoring", {
        ok: outcome !== "error",
        durationMs: this.clock.monotonicMs() - began,
        ...(outcome === "error" ? { error: "rule evaluation failed (see logs)" } : {}),
      });
    });
    this.every("snapshot", this.config.snapshot_interval_ms, () => this.persistSnapshot());
    this.every("cleanup", this.config.retention.cleanup_interval_ms, () => this.cleanup());
    if (Object.keys(this.config.artifacts).length > 0) {
      this.track(this.checkArtifacts());
      this.every("artifacts", this.config.artifact_check_interval_ms, () => this.checkArtifacts());
    }
    this.track(this.cleanup());
  }

  /**
   * Call after each engine tick. Constant cost and never throws: the snapshot (or a function
   * building it) is stored and one evaluation is scheduled off the caller's stack.
   */
  recordTick(snapshot: SnapshotSource): void {
    if (this.stopped) return;
    this.pending = snapshot;
    if (this.scheduled) return;
    this.scheduled = true;
    try {
      this.defer(this.runEvaluation);
    } catch {
      this.scheduled = false;
    }
  }

  /**
   * Evaluates every enabled rule now against the latest snapshot (taking in a pending one) and
   * raises or resolves alerts. Never throws; returns the outcome it counted.
   */
  evaluateNow(): "ok" | "invalid" | "error" {
    const began = this.clock.monotonicMs();
    let outcome: "ok" | "invalid" | "error" = "ok";
    try {
      const nowMs = this.clock.now();
      if (this.pending !== undefined) {
        const source = this.pending;
        this.pending = undefined;
        const raw = typeof source === "function" ? source() : source;
        const parsed = monitoringSnapshotSchema.safeParse(raw);
        if (parsed.success) {
          const first = this.latest === undefined;
          this.latest = parsed.data;
          this.window.add(nowMs, countersOf(parsed.data));
          // The first snapshot is written at once, not a whole snapshot_interval_ms after start:
          // `ticktrace monitor metrics` has something to show in the first minute.
          if (first && this.started && !this.stopped) this.track(this.persistSnapshot());
        } else {
          outcome = "invalid";
          const issue = parsed.error.issues[0];
          this.logRateLimited("invalid", nowMs, "invalid monitoring snapshot ignored", {
            path: issue?.path.join(".") ?? "",
            issue: issue?.message ?? "invalid",
          });
        }
      }
      const findings = evaluateRules(
        {
          nowMs,
          snapshot: this.latest,
          startedMs: this.startedMs,
          window: this.window,
          artifacts: this.artifacts,
        },
        this.config.rules,
      );
      this.reconcile(findings, nowMs);
    } catch (error) {
      outcome = "error";
      this.logRateLimited("error", this.clock.now(), "monitoring evaluation failed", {
        error: describeError(error),
      });
    }
    this.counts[outcome]++;
    try {
      this.metrics.monitoringEvaluations.add(1, { outcome });
      this.metrics.monitoringEvaluationDuration.record((this.clock.monotonicMs() - began) / 1000);
    } catch {
      // A broken meter must not break monitoring either.
    }
    return outcome;
  }

  /** The latest valid snapshot. */
  latestSnapshot(): MonitoringSnapshot | undefined {
    return this.latest;
  }

  /** The conditions that hold now (as of the last evaluation). */
  findings(): Finding[] {
    return [...this.active.values()].map((a) => a.finding);
  }

  /** Evaluations so far by outcome. */
  evaluationCounts(): Readonly<{ ok: number; invalid: number; error: number }> {
    return { ...this.counts };
  }

  /**
   * Writes the latest snapshot to `<snapshot_dir>/metrics_<timestamp>.json` unless it was
   * already written. Returns the path, or undefined when there was nothing new. Never rejects.
   */
  async persistSnapshot(): Promise<string | undefined> {
    // Take in a pending snapshot first, so the file is the newest state.
    if (this.pending !== undefined) this.evaluateNow();
    const snapshot = this.latest;
    if (!snapshot || snapshot === this.lastPersisted || this.persisting) return undefined;
    this.persisting = true;
    try {
      const path = await writeSnapshotFile(
        this.config.snapshot_dir,
        this.clock.now(),
        JSON.stringify(snapshot),
      );
      this.lastPersisted = snapshot;
      return path;
    } catch (error) {
      this.logger.warn("monitoring snapshot not written", {
        dir: this.config.snapshot_dir,
        error: describeError(error),
      });
      return undefined;
    } finally {
      this.persisting = false;
    }
  }

  /** Deletes snapshots past their retention. Never rejects. */
  async cleanup(): Promise<RetentionResult> {
    const { retention } = this.config;
    try {
      const result = await applyRetention(
        {
          snapshotDir: this.config.snapshot_dir,
          snapshotsDays: retention.snapshots_days,
          nowMs: this.clock.now(),
        },
        (path, error) =>
          this.logger.warn("retention could not delete a file", { path, error: describeError(error) }),
      );
      if (result.snapshotsDeleted.length > 0) {
        this.logger.info("retention cleanup", { snapshots_deleted: result.snapshotsDeleted.length });
      }
      return result;
    } catch (error) {
      this.logger.warn("retention cleanup failed", { error: describeError(error) });
      return { snapshotsDeleted: [] };
    }
  }

  /** Stats every configured artifact file (the edge of the artifact rule). Never rejects. */
  async checkArtifacts(): Promise<readonly ArtifactState[]> {
    const entries = Object.entries(this.config.artifacts);
    const states = await Promise.all(
      entries.map(async ([name, path]): Promise<ArtifactState> => {
        try {
          const { mtimeMs, error } = await this.statFile(path);
          return { name, path, mtimeMs, ...(error !== undefined ? { error } : {}) };
        } catch (error) {
          return { name, path, mtimeMs: null, error: describeError(error) };
        }
      }),
    );
    this.artifacts = states;
    return states;
  }

  /** Stops timers, waits for in-flight writes and writes the last snapshot. Idempotent. */
  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const handle of this.timers.values()) this.clock.clearTimeout(handle);
    this.timers.clear();
    await Promise.allSettled([...this.inFlight]);
    if (this.started) await this.persistSnapshot();
    this.health?.unregister("monitoring");
  }

  private reconcile(findings: Finding[], nowMs: number): void {
    const seen = findings.length === 0 ? undefined : new Set<string>();
    for (const finding of findings) {
      const key = fingerprintOf(finding.rule, finding.labels);
      seen?.add(key);
      const current = this.active.get(key);
      if (current?.finding.level === finding.level && nowMs - current.raisedAtMs < REFRESH_MS) {
        current.finding = finding;
        current.clearSinceMs = undefined;
        continue;
      }
      this.alerter.raise({
        rule: finding.rule,
        level: finding.level,
        title: finding.title,
        message: finding.message,
        labels: { ...finding.labels },
        fields: { ...finding.fields, source: "monitoring" },
      });
      if (!current)
        this.logger.info("monitoring rule firing", { rule: finding.rule, labels: finding.labels });
      this.active.set(key, { finding, raisedAtMs: nowMs });
    }
    if (this.active.size === (seen?.size ?? 0)) return;
    for (const [key, entry] of this.active) {
      if (seen?.has(key)) continue;
      entry.clearSinceMs ??= nowMs;
      if (nowMs - entry.clearSinceMs < this.config.resolve_after_ms) continue;
      const { finding } = entry;
      this.active.delete(key);
      this.alerter.resolve(finding.rule, { ...finding.labels });
      this.logger.info("monitoring rule resolved", { rule: finding.rule, labels: finding.labels });
    }
  }

  /** Runs `fn` every `ms` on the injected clock; errors are logged, the loop goes on. */
  private every(name: string, ms: number, fn: () => unknown): void {
    const arm = (): void => {
      if (this.stopped) return;
      this.timers.set(
        name,
        this.clock.setTimeout(() => {
          try {
            const result = fn();
            if (result instanceof Promise) this.track(result);
          } catch (error) {
            this.logger.warn(`monitoring ${name} failed`, { error: describeError(error) });
          }
          arm();
        }, ms),
      );
    };
    arm();
  }

  private track(promise: Promise<unknown>): void {
    const tracked = promise.catch((error: unknown) =>
      this.logger.warn("monitoring background task failed", { error: describeError(error) }),
    );
    this.inFlight.add(tracked);
    void tracked.finally(() => this.inFlight.delete(tracked));
  }

  private logRateLimited(
    kind: "invalid" | "error",
    nowMs: number,
    message: string,
    fields: Record<string, unknown>,
  ): void {
    if (nowMs - this.lastLogMs[kind] < LOG_EVERY_MS) {
      this.suppressedLogs[kind]++;
      return;
    }
    this.lastLogMs[kind] = nowMs;
    const suppressed = this.suppressedLogs[kind];
    this.suppressedLogs[kind] = 0;
    this.logger.warn(message, {
      ...fields,
      ...(suppressed > 0 ? { suppressed_since_last: suppressed } : {}),
    });
  }
}
