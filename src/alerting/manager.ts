import { randomBytes } from "node:crypto";
import fs from "node:fs";
import { metrics as metricsApi, trace, type Meter } from "@opentelemetry/api";
import { systemClock, type Clock, type TimerHandle } from "../clock.js";
import { TicktraceError } from "../errors.js";
import type { HealthRegistry } from "../health/registry.js";
import { createSilentLogger, type Logger } from "../logging/logger.js";
import { METER_NAME, createTradingMetrics, type TradingMetrics } from "../telemetry/metrics.js";
import { createLogChannel } from "./channels/log.js";
import {
  ChannelQueue,
  type DeliveryMetrics,
  type DeliveryOutcome,
  type QueueItem,
  type RetryPolicy,
} from "./delivery.js";
import { OutboxLock, OutboxLockedError } from "./lock.js";
import { atLeast, createIdSource, fingerprintOf, maxLevel } from "../alert-model/model.js";
import { isoTimestamp } from "../format/timestamp.js";
import { Outbox, type NotificationRecord, type OutboxContents } from "./outbox.js";
import type {
  Alert,
  AlertChannel,
  AlertEvent,
  AlertLevel,
  Alerter,
  RaiseAlertInput,
} from "../alert-model/types.js";

/** Options of {@link AlertManager}. Durations in milliseconds. */
export interface AlertManagerOptions {
  /** Where alerts go. A log channel named `log` is added when none is given: it is the fallback. */
  channels: readonly AlertChannel[];
  clock?: Clock;
  /** For the manager's own lines and the default log channel. */
  logger?: Logger;
  /** Instruments to record into; default: created on `meter`. */
  metrics?: Pick<TradingMetrics, "alertsRaised"> & DeliveryMetrics;
  /** Default: the global meter `ticktrace`. */
  meter?: Meter;
  /** Each channel appears as `alerts.<name>` (group `alerts`, not required); the outbox as `alerts.outbox`. */
  health?: HealthRegistry;
  /** The durable outbox (`alerts.outbox.dir`); without it, delivery is from memory only. */
  outboxDir?: string;
  /** Sync the outbox after each batch (default true). */
  fsync?: boolean;
  /** `service.name`, for channels that label alerts with it. */
  serviceName?: string;
  /** `alerts.enabled`: when false, `raise` returns undefined and only the log channel hears of it. */
  enabled?: boolean;
  /** `alerts.repeat_interval_ms`: a firing alert is not paged again before this (default 1 h). */
  repeatIntervalMs?: number;
  /** `alerts.storm`: more than `maxPerWindow` pages in `windowMs` collapse into one summary. */
  storm?: { windowMs: number; maxPerWindow: number };
  /** `alerts.outbox.max_age_ms`: give up delivering after this long (default 24 h). */
  maxAgeMs?: number;
  /** Retry backoff (defaults 500 ms doubling to 60 s, with jitter). */
  retry?: Partial<RetryPolicy>;
  /** Per-attempt timeout for channels that name none (default 5000). */
  defaultTimeoutMs?: number;
  /** Random source for retry jitter (tests pin it). */
  random?: () => number;
  /**
   * `alerts.outbox.restart_grace_ms`: a firing alert restored from the outbox (raised by a
   * previous run) that this run does not raise again within this time is resolved, with that
   * reason (default 300 000).
   */
  restartGraceMs?: number;
  /** Id of this run, stamped on every alert it raises (default: random, 8 hex digits). */
  runId?: string;
  /** How often a failing outbox journal is retried (default 5000). */
  outboxRetryIntervalMs?: number;
}

interface Entry {
  alert: Alert;
  /** Wall time of the last page notification (firing, repeat, escalated), for the repeat interval. */
  lastPagedAtMs: number;
  /**
   * Whether a page channel was (or is being) told: only then is a resolve paged. Set by storm
   * control at fan-out, which handles notifications in the order they were made.
   */
  paged: boolean;
  /** The newest raise absorbed by dedup, folded in by `current()` when the alert is next needed. */
  update?: RaiseAlertInput | undefined;
  updateTraceId?: string | undefined;
  /** Restored from the outbox: raised by a previous run (see {@link AlertManager.start}). */
  leftover: boolean;
}

/**
 * A notification as the calling thread leaves it: the fan-out gives it an id, applies storm
 * control and hands it to the outbox and the channel queues.
 */
interface Pending {
  event: AlertEvent;
  alert: Alert;
  /** Wall time of the raise (or resolve, acknowledge): storm windows and delivery latency count from here. */
  atMs: number;
  /** The condition's entry, whose `paged` flag storm control sets and a resolve reads; none for transient alerts and summaries. */
  entry: Entry | undefined;
  /** An event alert (never active): state channels, which mirror active alerts, skip it. */
  transient: boolean;
  collapsed?: Alert[];
  /** Only for audit channels: the record of a leftover alert replaced by this run's own. */
  auditOnly?: boolean;
}

/** Storm summaries name at most this many of the collapsed alerts. */
const SUMMARY_LIST_MAX = 20;

/**
 * The alert manager: raises, deduplicates, collapses storms, tracks the
 * lifecycle firing -> acknowledged -> resolved, and delivers to every channel through a durable
 * outbox with one queue per channel.
 *
 * `raise` is a synchronous enqueue of constant cost: it builds the alert record, checks dedup,
 * updates the in-memory state and pushes the notification onto a queue. Everything else runs in
 * one fan-out on the next turn of the event loop (`setImmediate`), in the order the notifications
 * were made: notification ids, storm control, the outbox journal append, the metrics and the
 * per-channel queues; delivery runs in the background after that. A slow or dead channel delays
 * only its own queue. A raise during or after {@link AlertManager.shutdown} is still journaled.
 *
 * Restarts: every alert carries the {@link AlertManager.runId} of the run (process) that raised
 * it. {@link AlertManager.start} restores the firing alerts of the previous run as leftovers and
 * delivers the notifications it still owed. A leftover is not this run's: the first raise of its
 * fingerprint here notifies as a new alert (its message says it fired again after a restart) and
 * the leftover is closed in the audit log; a leftover nothing raises again within
 * `restartGraceMs` is resolved with that reason. See docs/alert-guarantees.md.
 *
 * ```ts
 * const manager = new AlertManager({ channels: [telegram], outboxDir: "data/alerts-outbox", logger });
 * manager.start(); // takes the outbox lock, delivers what a previous run left owed
 * manager.raise({ rule: "circuit_breaker_tripped", level: "CRITICAL", title: "Breaker tripped", message: "..." });
 * await manager.shutdown();
 * ```
 */
export class AlertManager implements Alerter {
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly metrics: Pick<TradingMetrics, "alertsRaised"> & DeliveryMetrics;
  private readonly queues: ChannelQueue[];
  private readonly queueByName = new Map<string, ChannelQueue>();
  private readonly outbox: Outbox | undefined;
  private readonly enabled: boolean;
  private readonly repeatIntervalMs: number;
  private readonly storm: { windowMs: number; maxPerWindow: number };
  private readonly newId = createIdSource();
  private readonly newNotificationId = createIdSource();
  private readonly health: HealthRegistry | undefined;

  private readonly byFingerprint = new Map<string, Entry>();
  /** Notifications not yet fanned out (raised during this turn of the event loop), oldest first. */
  private pendingFanOut: Pending[] = [];
  private fanOutScheduled = false;
  private readonly flushFanOutCallback = () => this.flushFanOut();
  /** Set once shutdown has stopped the queues: a notification is fanned out (journaled) at once. */
  private stopped = false;
  /** Notifications some channel still owes, by id, with the channels still owing. */
  private readonly owed = new Map<string, { record: NotificationRecord; channels: string[] }>();
  /** Wall times of recent pages, oldest first (storm window). */
  private readonly pageTimes: number[] = [];
  /** The first {@link SUMMARY_LIST_MAX} alerts collapsed in this storm window (the summary names no more). */
  private stormBuffer: Alert[] = [];
  /** All alerts collapsed in this storm window, and their highest level. */
  private stormCount = 0;
  private stormLevel: AlertLevel = "INFO";
  private stormTimer: TimerHandle | undefined;
  private readonly resendTimers: TimerHandle[] = [];
  private shutdownPromise: Promise<void> | undefined;
  private readonly restartGraceMs: number;
  private readonly lock: OutboxLock | undefined;
  private started = false;
  private warnedNotStarted = false;
  private graceTimer: TimerHandle | undefined;
  /** Journals, synchronously, what was raised in the last turn of a process that exits without shutdown(). */
  private readonly onProcessExit = () => {
    this.stopped = true;
    this.flushFanOut();
    this.outbox?.flushSync();
  };

  /**
   * This run's id (random per process unless given): stamped on every alert it raises, written
   * to the outbox lock, and what `ticktrace monitor status` uses to tell this run's alerts from
   * leftovers of a previous one.
   */
  readonly runId: string;

  /** `service.name` given in the options (channels that label alerts read it from their own options). */
  readonly serviceName: string | undefined;

  constructor(options: AlertManagerOptions) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? createSilentLogger();
    this.metrics = options.metrics ?? createTradingMetrics(options.meter ?? metricsApi.getMeter(METER_NAME));
    this.enabled = options.enabled ?? true;
    this.repeatIntervalMs = positive(options.repeatIntervalMs ?? 3_600_000, "repeatIntervalMs");
    this.storm = options.storm ?? { windowMs: 60_000, maxPerWindow: 10 };
    positive(this.storm.windowMs, "storm.windowMs");
    positive(this.storm.maxPerWindow, "storm.maxPerWindow");
    this.health = options.health;
    this.serviceName = options.serviceName;
    this.restartGraceMs = positive(options.restartGraceMs ?? 300_000, "restartGraceMs");
    this.runId = options.runId ?? randomBytes(4).toString("hex");

    const channels = [...options.channels];
    if (!channels.some((channel) => channel.name === "log"))
      channels.unshift(createLogChannel({ logger: this.logger }));
    const names = new Set<string>();
    for (const channel of channels) {
      if (names.has(channel.name)) {
        throw new TicktraceError(
          "INVALID_ARGUMENT",
          `alert channel names must be unique: "${channel.name}" appears twice`,
        );
      }
      names.add(channel.name);
    }
    const active = this.enabled ? channels : channels.filter((channel) => channel.name === "log");
    const retry: RetryPolicy = { initialDelayMs: 500, maxDelayMs: 60_000, ...options.retry };
    this.queues = active.map(
      (channel) =>
        new ChannelQueue({
          channel,
          clock: this.clock,
          logger: this.logger,
          metrics: this.metrics,
          health: this.health,
          retry,
          defaultTimeoutMs: positive(options.defaultTimeoutMs ?? 5000, "defaultTimeoutMs"),
          maxAgeMs: positive(options.maxAgeMs ?? 24 * 3_600_000, "maxAgeMs"),
          onSettled: (item, outcome) => this.settled(channel.name, item, outcome),
          ...(options.random ? { random: options.random } : {}),
        }),
    );
    for (const queue of this.queues) this.queueByName.set(queue.channel.name, queue);

    if (options.outboxDir !== undefined && this.enabled) {
      this.health?.register("alerts.outbox", { group: "alerts", required: false });
      this.lock = new OutboxLock(options.outboxDir, {
        pid: process.pid,
        run_id: this.runId,
        started_at: isoTimestamp(this.clock.now()),
        ...(options.serviceName !== undefined ? { service: options.serviceName } : {}),
      });
      this.outbox = new Outbox({
        dir: options.outboxDir,
        logger: this.logger,
        fsync: options.fsync ?? true,
        contents: () => this.contents(),
        onHealth: (ok, detail) =>
          this.health?.report(
            "alerts.outbox",
            ok ? { state: "up" } : { state: "degraded", detail: detail ?? "failing" },
          ),
        onWriteError: () => this.metrics.alertOutboxWriteErrors?.add(1),
        // A journal that could not be opened at start: the lock first, then what it held.
        beforeLateOpen: () => this.lock?.acquire(),
        onOpenedLate: (contents) => this.recover(contents),
        ...(options.outboxRetryIntervalMs !== undefined
          ? { retryIntervalMs: options.outboxRetryIntervalMs }
          : {}),
      });
    }
  }

  /**
   * Starts the manager: takes the outbox lock, reads the journal, restores the previous run's
   * firing alerts as leftovers (resolved after `restartGraceMs` unless raised again), re-delivers
   * the notifications it still owed and starts the resend timers. Synchronous (a start-up step,
   * before trading). Raises made before `start()` are delivered from memory and journaled here.
   *
   * Throws {@link OutboxLockedError} when another live process holds the outbox directory. A
   * directory that cannot be written is not an error: it is reported once (log, `/health`
   * `alerts.outbox` degraded, `ticktrace_alert_outbox_write_errors_total`) and delivery runs from
   * memory. Idempotent.
   */
  start(): this {
    if (this.started) return this;
    if (this.outbox !== undefined && this.lock !== undefined) {
      try {
        fs.mkdirSync(this.outbox.dir, { recursive: true });
        this.lock.acquire();
      } catch (error) {
        if (error instanceof OutboxLockedError) throw error;
        // An unwritable directory: open() below fails the same way, reports it and runs from memory.
      }
      this.started = true;
      const early = [...this.owed.values()].map(({ record, channels }) => ({ ...record, ch: [...channels] }));
      this.recover(this.outbox.open());
      for (const record of early) this.outbox.append(record);
    }
    this.started = true;
    // process.exit() or an uncaught exception: no further turn comes for the fan-out or the
    // journal write, so what is still in memory is written synchronously on the way out.
    if (this.outbox !== undefined) process.once("exit", this.onProcessExit);
    for (const queue of this.queues) {
      const interval = queue.channel.resendIntervalMs;
      if (queue.channel.kind === "state" && interval !== undefined) this.scheduleResend(queue, interval);
    }
    return this;
  }

  /**
   * {@inheritDoc Alerter.raise}
   *
   * A raise that dedup absorbs (same fingerprint, same level, within the repeat interval or
   * acknowledged) returns the firing alert as last notified; its new title, message and fields
   * (the input is kept by reference) show in `active()` and the next notification.
   */
  raise(input: RaiseAlertInput): Alert | undefined {
    // Only what the caller must see at once happens here; see the class comment.
    const now = this.clock.now();
    const traceId = input.traceId ?? activeTraceId();
    const fingerprint = fingerprintOf(input.rule, input.labels);
    if (input.transient === true) {
      const alert = this.build(input, fingerprint, now, traceId);
      this.notify("firing", alert, now, undefined, true);
      return this.enabled ? alert : undefined;
    }
    const entry = this.byFingerprint.get(fingerprint);
    if (entry === undefined) return this.fire(input, fingerprint, now, traceId);
    if (entry.leftover) {
      // A previous run's alert: this raise is this run's first, so it notifies (see start()).
      const old = this.current(entry);
      this.supersede(old, now);
      const note = `Fired again after a restart (a previous run raised it at ${old.timestamp}).`;
      return this.fire({ ...input, message: `${input.message}\n${note}` }, fingerprint, now, traceId);
    }
    const previous = entry.alert;
    const level = maxLevel(previous.level, input.level);
    if (
      level === previous.level &&
      (previous.acknowledged || now - entry.lastPagedAtMs < this.repeatIntervalMs)
    ) {
      // Absorbed by dedup: keep the newest text for the next notification, at the cost of two writes.
      entry.update = input;
      entry.updateTraceId = traceId;
      return this.enabled ? previous : undefined;
    }
    entry.update = input;
    entry.updateTraceId = traceId;
    const alert = this.current(entry);
    const updated: Alert = level === alert.level ? alert : { ...alert, level };
    entry.alert = updated;
    entry.lastPagedAtMs = now;
    this.notify(level !== previous.level ? "escalated" : "repeat", updated, now, entry);
    return this.enabled ? entry.alert : undefined;
  }

  /** A new firing alert for a fingerprint with no entry of this run. */
  private fire(
    input: RaiseAlertInput,
    fingerprint: string,
    now: number,
    traceId: string | undefined,
  ): Alert | undefined {
    const alert = this.build(input, fingerprint, now, traceId);
    const created: Entry = {
      alert,
      lastPagedAtMs: now,
      paged: false,
      update: undefined,
      updateTraceId: undefined,
      leftover: false,
    };
    this.byFingerprint.set(fingerprint, created);
    this.notify("firing", alert, now, created);
    return this.enabled ? alert : undefined;
  }

  /**
   * Closes a leftover that this run raised again: the audit log records it as resolved (its
   * successor carries the incident on); pages and Alertmanager only hear of the successor.
   */
  private supersede(old: Alert, now: number): void {
    const closed: Alert = {
      ...old,
      status: "resolved",
      resolvedAt: isoTimestamp(now),
      resolveReason: `raised again after a restart by run ${this.runId}`,
    };
    this.pendingFanOut.push({
      event: "resolved",
      alert: closed,
      atMs: now,
      entry: undefined,
      transient: false,
      auditOnly: true,
    });
    this.scheduleFanOut();
  }

  /** Resolves the leftovers nothing raised again within the grace period. */
  private expireLeftovers(): void {
    this.graceTimer = undefined;
    const now = this.clock.now();
    const seconds = Math.round(this.restartGraceMs / 1000);
    const reason = `not raised again within ${seconds}s after a restart`;
    for (const entry of [...this.byFingerprint.values()]) {
      if (!entry.leftover) continue;
      this.byFingerprint.delete(entry.alert.fingerprint);
      const current = this.current(entry);
      const alert: Alert = {
        ...current,
        message: `${current.message}\nResolved: ${reason}; the run that raised it has ended.`,
        status: "resolved",
        resolvedAt: isoTimestamp(now),
        resolveReason: reason,
      };
      this.notify("resolved", alert, now, entry);
    }
  }

  /** {@inheritDoc Alerter.resolve} */
  resolve(rule: string, labels?: Record<string, string>): Alert | undefined {
    const entry = this.byFingerprint.get(fingerprintOf(rule, labels));
    if (entry === undefined) return undefined;
    const now = this.clock.now();
    this.byFingerprint.delete(entry.alert.fingerprint);
    const alert: Alert = {
      ...this.current(entry),
      status: "resolved",
      resolvedAt: isoTimestamp(now),
    };
    this.notify("resolved", alert, now, entry);
    return this.enabled ? alert : undefined;
  }

  /** {@inheritDoc Alerter.acknowledge} */
  acknowledge(id: string, by?: string): Alert {
    const entry = this.entryById(id);
    if (entry === undefined) {
      throw new TicktraceError(
        "NOT_FOUND",
        `no firing alert has id "${id}"; list them with \`ticktrace monitor status\``,
      );
    }
    const current = this.current(entry);
    if (current.acknowledged) return current;
    const now = this.clock.now();
    entry.alert = {
      ...entry.alert,
      acknowledged: true,
      acknowledgedAt: isoTimestamp(now),
      ...(by !== undefined ? { acknowledgedBy: by } : {}),
    };
    this.notify("acknowledged", entry.alert, now, undefined);
    return entry.alert;
  }

  /** {@inheritDoc Alerter.active} */
  active(): Alert[] {
    return [...this.byFingerprint.values()]
      .map((entry) => this.current(entry))
      .sort((a, b) => (a.timestamp < b.timestamp ? 1 : -1));
  }

  /** Looks up a firing alert by id. */
  get(id: string): Alert | undefined {
    const entry = this.entryById(id);
    return entry && this.current(entry);
  }

  /** Notifications waiting, per channel. */
  depths(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const queue of this.queues) out[queue.channel.name] = queue.depth;
    return out;
  }

  /** Resolves when everything raised so far has been handed to every channel and settled (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.fanOutScheduled || this.queues.some((queue) => queue.depth > 0)) {
      if (this.fanOutScheduled) await new Promise((resolve) => setImmediate(resolve));
      await Promise.all(this.queues.map((queue) => queue.idle()));
      if (this.shutdownPromise) break;
    }
    await this.outbox?.idle();
  }

  /**
   * Resolves when every notification made so far is in the outbox journal (written and, with
   * `fsync`, synced): from then on a crash does not lose it. Without a journal, once fanned out.
   */
  async journaled(): Promise<void> {
    if (this.fanOutScheduled) await new Promise((resolve) => setImmediate(resolve));
    await this.outbox?.idle();
  }

  /**
   * Stops delivery: waits up to `drainMs` (default 2000, real time) for the queues to empty,
   * then abandons what is left (it stays in the outbox for the next start), closes the outbox
   * and the channels. A raise during the drain is delivered if time allows and journaled either
   * way; a raise after it is journaled at once, within the call. Idempotent.
   */
  shutdown(options: { drainMs?: number } = {}): Promise<void> {
    this.shutdownPromise ??= this.doShutdown(options.drainMs ?? 2000);
    return this.shutdownPromise;
  }

  private async doShutdown(drainMs: number): Promise<void> {
    process.removeListener("exit", this.onProcessExit);
    this.flushFanOut();
    let deadline: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(this.queues.map((queue) => queue.idle())),
      new Promise<void>((resolve) => {
        deadline = setTimeout(resolve, drainMs);
        deadline.unref();
      }),
    ]);
    if (deadline) clearTimeout(deadline);
    if (this.stormTimer) this.clock.clearTimeout(this.stormTimer);
    if (this.graceTimer) this.clock.clearTimeout(this.graceTimer);
    for (const timer of this.resendTimers) this.clock.clearTimeout(timer);
    // From here on no fan-out turn is sure to come (the process may exit once this resolves):
    // what was raised during the drain, and anything raised later, is journaled at once for the
    // next start to deliver.
    this.stopped = true;
    this.flushFanOut();
    for (const queue of this.queues) queue.stop();
    await this.outbox?.close();
    this.lock?.release();
    await Promise.all(this.queues.map(async (queue) => queue.channel.shutdown?.()));
  }

  /** The entry's alert with the newest raise folded in (dedup defers this off the hot path). */
  private current(entry: Entry): Alert {
    const input = entry.update;
    if (input === undefined) return entry.alert;
    const traceId = entry.updateTraceId ?? entry.alert.traceId;
    entry.update = undefined;
    entry.updateTraceId = undefined;
    entry.alert = {
      ...entry.alert,
      title: input.title,
      message: input.message,
      fields: input.fields ?? entry.alert.fields,
      ...(traceId !== undefined ? { traceId } : {}),
    };
    return entry.alert;
  }

  private build(
    input: RaiseAlertInput,
    fingerprint: string,
    now: number,
    traceId: string | undefined,
  ): Alert {
    const id = this.newId();
    const timestamp = isoTimestamp(now);
    const labels = input.labels ?? {};
    const fields = input.fields ?? {};
    // Two literals rather than a conditional spread, which costs more than the rest of the record.
    if (traceId === undefined) {
      return {
        id,
        fingerprint,
        rule: input.rule,
        level: input.level,
        title: input.title,
        message: input.message,
        timestamp,
        labels,
        fields,
        status: "firing",
        acknowledged: false,
        runId: this.runId,
      };
    }
    return {
      id,
      fingerprint,
      rule: input.rule,
      level: input.level,
      title: input.title,
      message: input.message,
      timestamp,
      labels,
      fields,
      traceId,
      status: "firing",
      acknowledged: false,
      runId: this.runId,
    };
  }

  /** Queues a notification for the fan-out; the calling thread's only cost besides the alert record. */
  private notify(
    event: AlertEvent,
    alert: Alert,
    now: number,
    entry: Entry | undefined,
    transient = false,
  ): void {
    this.pendingFanOut.push({ event, alert, atMs: now, entry, transient });
    this.scheduleFanOut();
  }

  private scheduleFanOut(): void {
    if (this.stopped) {
      // No fan-out turn may come after shutdown: journal it now (off the hot path: trading has stopped).
      this.flushFanOut();
    } else if (!this.fanOutScheduled) {
      this.fanOutScheduled = true;
      setImmediate(this.flushFanOutCallback);
    }
  }

  /** Storm control: whether one more page fits the window. CRITICAL always pages (and counts). */
  private allowPage(level: AlertLevel, atMs: number): boolean {
    const times = this.pageTimes;
    while (times[0] !== undefined && times[0] <= atMs - this.storm.windowMs) times.shift();
    if (times.length < this.storm.maxPerWindow || level === "CRITICAL") {
      times.push(atMs);
      return true;
    }
    return false;
  }

  /** Holds back a page that storm control refused; one summary pages for them at the end of the window. */
  private collapse(alert: Alert, atMs: number): void {
    // Only what the summary shows is kept, so a long storm does not grow the heap.
    if (this.stormBuffer.length < SUMMARY_LIST_MAX) this.stormBuffer.push(alert);
    this.stormCount += 1;
    this.stormLevel = maxLevel(this.stormLevel, alert.level);
    if (this.stormTimer !== undefined || this.stopped) return;
    const delayMs = Math.max(0, atMs + this.storm.windowMs - this.clock.now());
    this.stormTimer = this.clock.setTimeout(() => this.summarizeStorm(), delayMs);
  }

  private summarizeStorm(): void {
    this.stormTimer = undefined;
    const collapsed = this.stormBuffer;
    const count = this.stormCount;
    const level = this.stormLevel;
    this.stormBuffer = [];
    this.stormCount = 0;
    this.stormLevel = "INFO";
    if (count === 0) return;
    const now = this.clock.now();
    const seconds = Math.round(this.storm.windowMs / 1000);
    const lines = collapsed.slice(0, 10).map((a) => `${a.level} ${a.title}`);
    if (count > 10) lines.push(`... and ${count - 10} more`);
    const summary: Alert = {
      id: this.newId(),
      fingerprint: "alert_storm",
      rule: "alert_storm",
      level,
      title: `Alert storm: ${count} alerts in ${seconds}s collapsed`,
      message: lines.join("\n"),
      timestamp: isoTimestamp(now),
      labels: {},
      fields: { collapsed: count },
      status: "firing",
      acknowledged: false,
      collapsedCount: count,
    };
    this.pendingFanOut.push({
      event: "summary",
      alert: summary,
      atMs: now,
      entry: undefined,
      transient: false,
      collapsed,
    });
    this.flushFanOut();
  }

  /**
   * The fan-out, in the order the notifications were made: ids, storm control, metrics, the
   * outbox journal (appended before any channel is handed the notification) and the channel
   * queues. Runs on the turn after the raise, never on the caller's call (except after shutdown).
   */
  private flushFanOut(): void {
    this.fanOutScheduled = false;
    const batch = this.pendingFanOut;
    if (batch.length === 0) return;
    this.pendingFanOut = [];
    for (const pending of batch) this.fanOut(pending);
  }

  private fanOut(pending: Pending): void {
    const { event, alert, entry } = pending;
    let page: boolean;
    switch (event) {
      case "firing":
      case "repeat":
      case "escalated":
        page = this.allowPage(alert.level, pending.atMs);
        if (entry !== undefined) entry.paged ||= page;
        if (!page) this.collapse(alert, pending.atMs);
        break;
      case "resolved":
        page = entry?.paged ?? false;
        break;
      case "summary":
        page = true;
        break;
      default:
        page = false;
    }
    if (event === "firing" || event === "escalated")
      this.metrics.alertsRaised.add(1, { rule: alert.rule, level: alert.level });
    // No object per notification beyond its journal record, its owed entry and the queue items.
    const ch: string[] = [];
    for (const queue of this.queues) if (wants(queue.channel, pending, page)) ch.push(queue.channel.name);
    if (ch.length === 0) return;
    const id = this.newNotificationId();
    // Two literals rather than a conditional spread (see build()).
    const collapsed = pending.collapsed;
    const record: NotificationRecord =
      collapsed === undefined
        ? { op: "n", id, at: pending.atMs, event, alert, ch }
        : { op: "n", id, at: pending.atMs, event, alert, ch, collapsed };
    this.owed.set(record.id, { record, channels: ch.slice() });
    // Before start() the journal is not open yet: start() journals what is still owed then.
    if (this.started) this.outbox?.append(record);
    else if (this.outbox !== undefined && !this.warnedNotStarted) {
      this.warnedNotStarted = true;
      this.logger.warn(
        "alert raised before AlertManager.start(): it is delivered from memory, and journaled in the outbox only once start() is called",
        { component: "alert" },
      );
    }
    if (this.stopped) {
      if (this.outbox === undefined) {
        // No journal to keep it for the next start: the log is the last resort.
        this.logger.warn(`alert ${event} after shutdown, not delivered: ${alert.title}`, {
          component: "alert",
          alert_id: alert.id,
          rule: alert.rule,
          severity: alert.level,
        });
      }
      return;
    }
    // `ch` lists the wanting queues in queue order (names are unique): walk both in step.
    let next = 0;
    for (const queue of this.queues) {
      if (queue.channel.name !== ch[next]) continue;
      next += 1;
      queue.enqueue(itemOf(record));
    }
  }

  private settled(channel: string, item: QueueItem, outcome: DeliveryOutcome): void {
    if (item.event === "resend") return;
    const owed = this.owed.get(item.notificationId);
    if (owed) {
      // An array, not a Set: a notification goes to a handful of channels, and a Set per
      // notification cost more than the search.
      const index = owed.channels.indexOf(channel);
      if (index !== -1) owed.channels.splice(index, 1);
      if (owed.channels.length === 0) this.owed.delete(item.notificationId);
    }
    if (this.started) this.outbox?.append({ op: "d", id: item.notificationId, ch: channel, outcome });
  }

  /**
   * The entry whose alert has this id. A scan, not a second map: ids are looked up when an
   * operator acknowledges or asks, while a second map cost every new alert a tenth of `raise()`.
   */
  private entryById(id: string): Entry | undefined {
    for (const entry of this.byFingerprint.values()) if (entry.alert.id === id) return entry;
    return undefined;
  }

  /** Re-delivers what a previous run owed and restores the firing alerts. */
  private recover(contents: OutboxContents): void {
    const now = this.clock.now();
    let leftovers = 0;
    const byId = new Map<string, Entry>();
    for (const entry of this.byFingerprint.values()) byId.set(entry.alert.id, entry);
    for (const alert of contents.active) {
      // Our own run's (a journal opened late holds what this run wrote before) or already restored.
      if (alert.runId === this.runId || byId.has(alert.id)) continue;
      if (this.byFingerprint.has(alert.fingerprint)) {
        // Raised again by this run before start(): the leftover is closed at once.
        this.supersede(alert, now);
        continue;
      }
      const entry: Entry = {
        alert,
        lastPagedAtMs: Date.parse(alert.timestamp),
        paged: true,
        update: undefined,
        updateTraceId: undefined,
        leftover: true,
      };
      this.byFingerprint.set(alert.fingerprint, entry);
      byId.set(alert.id, entry);
      leftovers += 1;
    }
    if (leftovers > 0) {
      this.logger.info(
        `alert outbox: ${leftovers} alert(s) still firing when a previous run ended; they are resolved in ${Math.round(this.restartGraceMs / 1000)}s unless this run raises them again`,
        { component: "alert", run_id: this.runId },
      );
      this.graceTimer ??= this.clock.setTimeout(() => this.expireLeftovers(), this.restartGraceMs);
    }
    for (const record of contents.pending) {
      if (this.owed.has(record.id)) continue; // already owed (a journal opened late)
      const entry = byId.get(record.alert.id);
      if (entry && record.event !== "resolved")
        entry.lastPagedAtMs = Math.max(entry.lastPagedAtMs, record.at);
      const channels = record.ch.filter((name) => this.queueByName.has(name));
      if (channels.length === 0) continue;
      const kept = { ...record, ch: channels };
      this.owed.set(kept.id, { record: kept, channels: channels.slice() });
      for (const name of channels) this.queueByName.get(name)?.enqueue(itemOf(kept));
    }
    if (contents.pending.length > 0) {
      this.logger.info(
        `alert outbox: delivering ${contents.pending.length} notification(s) left from a previous run`,
      );
    }
  }

  private contents(): OutboxContents {
    return {
      active: [...this.byFingerprint.values()].map((entry) => this.current(entry)),
      pending: [...this.owed.values()].map(({ record, channels }) => ({ ...record, ch: [...channels] })),
    };
  }

  private scheduleResend(queue: ChannelQueue, intervalMs: number): void {
    const index = this.resendTimers.length;
    const tick = () => {
      if (this.shutdownPromise) return;
      const now = this.clock.now();
      for (const entry of this.byFingerprint.values()) {
        const alert = this.current(entry);
        if (!atLeast(alert.level, queue.channel.minLevel)) continue;
        queue.enqueue({
          notificationId: this.newNotificationId(),
          event: "resend",
          alert,
          createdAtMs: now,
          attempts: 0,
        });
      }
      this.resendTimers[index] = this.clock.setTimeout(tick, intervalMs);
    };
    this.resendTimers.push(this.clock.setTimeout(tick, intervalMs));
  }
}

/**
 * Which notifications a channel gets (see {@link AlertChannel.kind}); `page` is false when storm
 * control collapsed the notification for page channels.
 */
function wants(channel: AlertChannel, notification: Pending, page: boolean): boolean {
  const { event, alert } = notification;
  if (!atLeast(alert.level, channel.minLevel)) return false;
  if (notification.auditOnly === true) return channel.kind === "audit";
  switch (channel.kind ?? "page") {
    case "audit":
      return event !== "repeat" && event !== "summary" && event !== "resend";
    case "state":
      return event === "firing" ? !notification.transient : event === "escalated" || event === "resolved";
    case "page":
      if (event === "acknowledged" || event === "resend") return false;
      if (event === "resolved") return page && channel.sendsResolved !== false;
      return page;
  }
}

function itemOf(record: NotificationRecord): QueueItem {
  // Two literals rather than a conditional spread, once per channel of every notification.
  const collapsed = record.collapsed;
  if (collapsed === undefined)
    return {
      notificationId: record.id,
      event: record.event,
      alert: record.alert,
      createdAtMs: record.at,
      attempts: 0,
    };
  return {
    notificationId: record.id,
    event: record.event,
    alert: record.alert,
    createdAtMs: record.at,
    attempts: 0,
    collapsed,
  };
}

function activeTraceId(): string | undefined {
  const span = trace.getActiveSpan();
  if (span === undefined) return undefined;
  const context = span.spanContext();
  return trace.isSpanContextValid(context) ? context.traceId : undefined;
}

function positive(value: number, option: string): number {
  if (!(value > 0))
    throw new TicktraceError("INVALID_ARGUMENT", `${option} must be greater than 0 (got ${value})`);
  return value;
}
