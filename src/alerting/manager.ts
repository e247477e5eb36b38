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
import { atLeast, createIdSource, fingerprintOf, maxLevel } from "./model.js";
import { Outbox, type NotificationRecord, type OutboxContents } from "./outbox.js";
import type { Alert, AlertChannel, AlertEvent, AlertLevel, Alerter, RaiseAlertInput } from "./types.js";

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
}

interface Entry {
  alert: Alert;
  /** Wall time of the last page notification (firing, repeat, escalated), for the repeat interval. */
  lastPagedAtMs: number;
  /** Whether a page channel was (or is being) told: only then is a resolve paged. */
  paged: boolean;
  /** The newest raise absorbed by dedup, folded in by `current()` when the alert is next needed. */
  update?: RaiseAlertInput | undefined;
  updateTraceId?: string | undefined;
}

interface Notification {
  id: string;
  event: AlertEvent;
  alert: Alert;
  createdAtMs: number;
  /** False when storm control collapsed it for page channels. */
  page: boolean;
  /** An event alert (never active): state channels, which mirror active alerts, skip it. */
  transient?: boolean;
  collapsed?: Alert[];
}

/** Storm summaries name at most this many of the collapsed alerts. */
const SUMMARY_LIST_MAX = 20;

/**
 * The alert manager (seed 001 section 3.1): raises, deduplicates, collapses storms, tracks the
 * lifecycle firing -> acknowledged -> resolved, and delivers to every channel through a durable
 * outbox with one queue per channel.
 *
 * `raise` is a synchronous enqueue of constant cost: it updates the in-memory state and queues a
 * notification; fan-out, the outbox write and the metrics happen on the next turn of the event
 * loop, delivery in the background. A slow or dead channel delays only its own queue.
 *
 * ```ts
 * const manager = new AlertManager({ channels: [telegram], outboxDir: "data/alerts-outbox", logger });
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
  private readonly byId = new Map<string, Entry>();
  /** Notifications not yet fanned out (raised during this turn of the event loop). */
  private pendingFanOut: Notification[] = [];
  private fanOutScheduled = false;
  /** Notifications some channel still owes, by id, with the channels still owing. */
  private readonly owed = new Map<string, { record: NotificationRecord; channels: Set<string> }>();
  /** Wall times of recent pages, oldest first (storm window). */
  private readonly pageTimes: number[] = [];
  private stormBuffer: Alert[] = [];
  private stormTimer: TimerHandle | undefined;
  private readonly resendTimers: TimerHandle[] = [];
  private shutdownPromise: Promise<void> | undefined;
  private lastIsoMs = Number.NaN;
  private lastIso = "";

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
      });
      this.recover(this.outbox.open());
    }
    for (const queue of this.queues) {
      const interval = queue.channel.resendIntervalMs;
      if (queue.channel.kind === "state" && interval !== undefined) this.scheduleResend(queue, interval);
    }
  }

  /**
   * {@inheritDoc Alerter.raise}
   *
   * A raise that dedup absorbs (same fingerprint, same level, within the repeat interval or
   * acknowledged) returns the firing alert as last notified; its new title, message and fields
   * (the input is kept by reference) show in `active()` and the next notification.
   */
  raise(input: RaiseAlertInput): Alert | undefined {
    const now = this.clock.now();
    const traceId = input.traceId ?? activeTraceId();
    if (input.transient === true) {
      const alert = this.build(input, fingerprintOf(input.rule, input.labels), now, traceId);
      this.notify("firing", alert, now, this.allowPage(alert.level, now), true);
      return this.enabled ? alert : undefined;
    }
    const fingerprint = fingerprintOf(input.rule, input.labels);
    const entry = this.byFingerprint.get(fingerprint);
    if (entry === undefined) {
      const alert = this.build(input, fingerprint, now, traceId);
      const page = this.allowPage(alert.level, now);
      const created: Entry = { alert, lastPagedAtMs: now, paged: page };
      this.byFingerprint.set(fingerprint, created);
      this.byId.set(alert.id, created);
      this.notify("firing", alert, now, page);
      return this.enabled ? alert : undefined;
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
    const page = this.allowPage(level, now);
    entry.lastPagedAtMs = now;
    entry.paged ||= page;
    this.notify(level !== previous.level ? "escalated" : "repeat", updated, now, page);
    return this.enabled ? entry.alert : undefined;
  }

  /** {@inheritDoc Alerter.resolve} */
  resolve(rule: string, labels?: Record<string, string>): Alert | undefined {
    const entry = this.byFingerprint.get(fingerprintOf(rule, labels));
    if (entry === undefined) return undefined;
    const now = this.clock.now();
    this.byFingerprint.delete(entry.alert.fingerprint);
    this.byId.delete(entry.alert.id);
    const alert: Alert = {
      ...this.current(entry),
      status: "resolved",
      resolvedAt: new Date(now).toISOString(),
    };
    this.notify("resolved", alert, now, entry.paged);
    return this.enabled ? alert : undefined;
  }

  /** {@inheritDoc Alerter.acknowledge} */
  acknowledge(id: string, by?: string): Alert {
    const entry = this.byId.get(id);
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
      acknowledgedAt: new Date(now).toISOString(),
      ...(by !== undefined ? { acknowledgedBy: by } : {}),
    };
    this.notify("acknowledged", entry.alert, now, false);
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
    const entry = this.byId.get(id);
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
   * Stops delivery: waits up to `drainMs` (default 2000, real time) for the queues to empty,
   * then abandons what is left (it stays in the outbox for the next start), closes the outbox
   * and the channels. Idempotent.
   */
  shutdown(options: { drainMs?: number } = {}): Promise<void> {
    this.shutdownPromise ??= this.doShutdown(options.drainMs ?? 2000);
    return this.shutdownPromise;
  }

  private async doShutdown(drainMs: number): Promise<void> {
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
    for (const timer of this.resendTimers) this.clock.clearTimeout(timer);
    for (const queue of this.queues) queue.stop();
    await this.outbox?.close();
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
    return {
      id: this.newId(),
      fingerprint,
      rule: input.rule,
      level: input.level,
      title: input.title,
      message: input.message,
      timestamp: this.iso(now),
      labels: input.labels ?? {},
      fields: input.fields ?? {},
      ...(traceId !== undefined ? { traceId } : {}),
      status: "firing",
      acknowledged: false,
    };
  }

  /** ISO text of an epoch ms, cached for bursts within one millisecond. */
  private iso(ms: number): string {
    if (ms !== this.lastIsoMs) {
      this.lastIsoMs = ms;
      this.lastIso = new Date(ms).toISOString();
    }
    return this.lastIso;
  }

  /** Storm control: whether one more page fits the window. CRITICAL always pages (and counts). */
  private allowPage(level: AlertLevel, now: number): boolean {
    const times = this.pageTimes;
    while (times.length > 0 && times[0]! <= now - this.storm.windowMs) times.shift();
    if (times.length < this.storm.maxPerWindow || level === "CRITICAL") {
      times.push(now);
      return true;
    }
    return false;
  }

  private notify(event: AlertEvent, alert: Alert, now: number, page: boolean, transient = false): void {
    this.pendingFanOut.push({
      id: this.newNotificationId(),
      event,
      alert,
      createdAtMs: now,
      page,
      transient,
    });
    if (!page && (event === "firing" || event === "repeat" || event === "escalated")) this.collapse(alert);
    if (!this.fanOutScheduled) {
      this.fanOutScheduled = true;
      // Fan-out runs on the next turn so that raise() stays a constant-cost enqueue.
      setImmediate(() => this.flushFanOut());
    }
  }

  private collapse(alert: Alert): void {
    this.stormBuffer.push(alert);
    if (this.stormTimer !== undefined) return;
    this.stormTimer = this.clock.setTimeout(() => {
      this.stormTimer = undefined;
      const collapsed = this.stormBuffer;
      this.stormBuffer = [];
      if (collapsed.length === 0) return;
      const now = this.clock.now();
      const level = collapsed.reduce<AlertLevel>((acc, a) => maxLevel(acc, a.level), "INFO");
      const seconds = Math.round(this.storm.windowMs / 1000);
      const lines = collapsed.slice(0, 10).map((a) => `${a.level} ${a.title}`);
      if (collapsed.length > 10) lines.push(`... and ${collapsed.length - 10} more`);
      const summary: Alert = {
        id: this.newId(),
        fingerprint: "alert_storm",
        rule: "alert_storm",
        level,
        title: `Alert storm: ${collapsed.length} alerts in ${seconds}s collapsed`,
        message: lines.join("\n"),
        timestamp: new Date(now).toISOString(),
        labels: {},
        fields: { collapsed: collapsed.length },
        status: "firing",
        acknowledged: false,
        collapsedCount: collapsed.length,
      };
      this.pendingFanOut.push({
        id: this.newNotificationId(),
        event: "summary",
        alert: summary,
        createdAtMs: now,
        page: true,
        collapsed: collapsed.slice(0, SUMMARY_LIST_MAX),
      });
      this.flushFanOut();
    }, this.storm.windowMs);
  }

  /** Hands queued notifications to the outbox and the channel queues. */
  private flushFanOut(): void {
    this.fanOutScheduled = false;
    const batch = this.pendingFanOut;
    if (batch.length === 0) return;
    this.pendingFanOut = [];
    for (const notification of batch) {
      const { alert, event } = notification;
      if (event === "firing" || event === "escalated")
        this.metrics.alertsRaised.add(1, { rule: alert.rule, level: alert.level });
      const targets: ChannelQueue[] = [];
      for (const queue of this.queues) if (wants(queue.channel, notification)) targets.push(queue);
      if (targets.length === 0) continue;
      const record: NotificationRecord = {
        op: "n",
        id: notification.id,
        at: notification.createdAtMs,
        event,
        alert,
        ch: targets.map((queue) => queue.channel.name),
        ...(notification.collapsed ? { collapsed: notification.collapsed } : {}),
      };
      this.owed.set(record.id, { record, channels: new Set(record.ch) });
      this.outbox?.append(record);
      for (const queue of targets) queue.enqueue(itemOf(record));
    }
  }

  private settled(channel: string, item: QueueItem, outcome: DeliveryOutcome): void {
    if (item.event === "resend") return;
    const owed = this.owed.get(item.notificationId);
    if (owed) {
      owed.channels.delete(channel);
      if (owed.channels.size === 0) this.owed.delete(item.notificationId);
    }
    this.outbox?.append({ op: "d", id: item.notificationId, ch: channel, outcome });
  }

  /** Re-delivers what a previous run owed and restores the firing alerts. */
  private recover(contents: OutboxContents): void {
    for (const alert of contents.active) {
      const entry: Entry = { alert, lastPagedAtMs: Date.parse(alert.timestamp), paged: true };
      this.byFingerprint.set(alert.fingerprint, entry);
      this.byId.set(alert.id, entry);
    }
    for (const record of contents.pending) {
      const entry = this.byId.get(record.alert.id);
      if (entry && record.event !== "resolved")
        entry.lastPagedAtMs = Math.max(entry.lastPagedAtMs, record.at);
      const channels = record.ch.filter((name) => this.queueByName.has(name));
      if (channels.length === 0) continue;
      const kept = { ...record, ch: channels };
      this.owed.set(kept.id, { record: kept, channels: new Set(channels) });
      for (const name of channels) this.queueByName.get(name)!.enqueue(itemOf(kept));
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

/** Which notifications a channel gets (see {@link AlertChannel.kind}). */
function wants(channel: AlertChannel, notification: Notification): boolean {
  const { event, alert } = notification;
  if (!atLeast(alert.level, channel.minLevel)) return false;
  switch (channel.kind ?? "page") {
    case "audit":
      return event !== "repeat" && event !== "summary" && event !== "resend";
    case "state":
      return event === "firing" ? !notification.transient : event === "escalated" || event === "resolved";
    case "page":
      if (event === "acknowledged" || event === "resend") return false;
      if (event === "resolved") return notification.page && channel.sendsResolved !== false;
      return notification.page;
  }
}

function itemOf(record: NotificationRecord): QueueItem {
  return {
    notificationId: record.id,
    event: record.event,
    alert: record.alert,
    createdAtMs: record.at,
    attempts: 0,
    ...(record.collapsed ? { collapsed: record.collapsed } : {}),
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
