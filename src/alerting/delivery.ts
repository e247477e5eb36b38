import type { Attributes, Counter, Gauge, Histogram } from "@opentelemetry/api";
import type { Clock, TimerHandle } from "../clock.js";
import { describeError, redact, TicktraceError } from "../errors.js";
import type { HealthRegistry } from "../health/registry.js";
import type { Logger } from "../logging/logger.js";
import type { Alert, AlertChannel, AlertEvent } from "../alert-model/types.js";
import { backoffDelayMs } from "../retry/backoff.js";

/** One notification waiting for one channel. */
export interface QueueItem {
  readonly notificationId: string;
  readonly event: AlertEvent;
  readonly alert: Alert;
  /** Epoch ms the notification was created; delivery latency and `max_age_ms` count from here. */
  readonly createdAtMs: number;
  readonly collapsed?: readonly Alert[];
  attempts: number;
}

export type DeliveryOutcome = "delivered" | "failed" | "dropped";

/** The instruments the delivery side records into. */
export interface DeliveryMetrics {
  readonly alertNotifications: Counter;
  readonly alertDeliveryDuration: Histogram;
  readonly alertOutboxDepth: Gauge;
  /** Failed outbox journal writes (absent in metrics objects made before it existed). */
  readonly alertOutboxWriteErrors?: Counter;
}

export interface RetryPolicy {
  /** First retry delay; doubles per attempt (default 500). */
  initialDelayMs: number;
  /** Cap on the retry delay (default 60 000). */
  maxDelayMs: number;
}

export interface ChannelQueueOptions {
  channel: AlertChannel;
  clock: Clock;
  logger: Logger;
  metrics: DeliveryMetrics;
  health: HealthRegistry | undefined;
  retry: RetryPolicy;
  /** Per-attempt timeout when the channel names none. */
  defaultTimeoutMs: number;
  /** Give up on a notification this long after it was created. */
  maxAgeMs: number;
  /** Told once per item when the channel is done with it. */
  onSettled: (item: QueueItem, outcome: DeliveryOutcome) => void;
  /** Random source for jitter (tests pin it). */
  random?: () => number;
}

/** Health component name of a channel. */
export function healthComponentName(channel: string): string {
  return `alerts.${channel}`;
}

/** Normalizes anything a channel threw into a {@link TicktraceError}. */
export function toDeliveryError(error: unknown, channel: string): TicktraceError {
  if (error instanceof TicktraceError) return error;
  return new TicktraceError("UNREACHABLE", `alert channel ${channel} failed: ${describeError(error)}`, {
    cause: error,
  });
}

/**
 * One channel's delivery queue: one attempt in flight at a time, in order, each bounded by the
 * channel's timeout (the attempt is abandoned at the timeout even if the channel ignores the
 * signal). Retryable failures back off (or wait the remote's `retry_after`); a slow or dead
 * channel holds only its own queue. Never throws.
 */
export class ChannelQueue {
  readonly channel: AlertChannel;
  private readonly options: ChannelQueueOptions;
  private readonly items: QueueItem[] = [];
  private readonly random: () => number;
  private inFlight = false;
  private retryTimer: TimerHandle | undefined;
  private failingSince: number | undefined;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];
  private currentAbort: AbortController | undefined;
  private attemptSeq = 0;
  private depthRecordScheduled = false;
  private readonly depthAttributes: Attributes;

  constructor(options: ChannelQueueOptions) {
    this.options = options;
    this.channel = options.channel;
    this.depthAttributes = { channel: options.channel.name };
    this.random = options.random ?? Math.random;
    options.health?.register(healthComponentName(this.channel.name), { group: "alerts", required: false });
    this.reportHealth();
  }

  get depth(): number {
    return this.items.length;
  }

  /** Items still owed, oldest first (for compaction). */
  pending(): readonly QueueItem[] {
    return this.items;
  }

  enqueue(item: QueueItem): void {
    if (this.stopped) return;
    this.items.push(item);
    this.recordDepth();
    this.pump();
  }

  /** Resolves once the queue is empty (or the queue was stopped). */
  async idle(): Promise<void> {
    if (this.items.length === 0 || this.stopped) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops retries and abandons the attempt in flight; what is owed stays in the outbox. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.retryTimer) this.options.clock.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.currentAbort?.abort();
    this.wakeIdle();
  }

  private pump(): void {
    if (this.stopped || this.inFlight || this.retryTimer !== undefined) return;
    const item = this.items[0];
    if (!item) {
      this.wakeIdle();
      return;
    }
    this.inFlight = true;
    item.attempts += 1;
    const { clock } = this.options;
    const timeoutMs = this.channel.timeoutMs ?? this.options.defaultTimeoutMs;
    // One attempt in flight per queue: a sequence number tells a late answer (after the timeout
    // gave up on it) from the current attempt's, so no promise race or timeout promise is made.
    const seq = ++this.attemptSeq;
    const abort = new AbortController();
    this.currentAbort = abort;
    const timer = clock.setTimeout(() => {
      if (seq !== this.attemptSeq || !this.inFlight) return;
      abort.abort();
      this.finish(
        item,
        undefined,
        new TicktraceError(
          "TIMEOUT",
          `alert channel ${this.channel.name} did not answer within ${timeoutMs} ms`,
        ),
      );
    }, timeoutMs);
    let attempt: Promise<void>;
    try {
      attempt = this.channel.send(item.alert, abort.signal, {
        event: item.event,
        notificationId: item.notificationId,
        attempt: item.attempts,
        createdAtMs: item.createdAtMs,
        ...(item.collapsed ? { collapsed: item.collapsed } : {}),
      });
    } catch (error) {
      attempt = Promise.reject(toDeliveryError(error, this.channel.name)); // thrown, not rejected
    }
    attempt.then(
      () => {
        if (seq === this.attemptSeq && this.inFlight) this.finish(item, timer, undefined);
      },
      (error: unknown) => {
        if (seq === this.attemptSeq && this.inFlight) this.finish(item, timer, error);
      },
    );
  }

  private finish(item: QueueItem, timer: TimerHandle | undefined, error: unknown): void {
    if (timer) this.options.clock.clearTimeout(timer);
    this.inFlight = false;
    this.currentAbort = undefined;
    if (this.stopped) return;
    const name = this.channel.name;
    const { metrics, clock, logger } = this.options;
    if (error === undefined) {
      this.items.shift();
      metrics.alertNotifications.add(1, { channel: name, outcome: "delivered" });
      metrics.alertDeliveryDuration.record(Math.max(0, clock.now() - item.createdAtMs) / 1000, {
        channel: name,
      });
      if (this.failingSince !== undefined) {
        logger.info(`alert channel ${name} delivers again`, { channel: name });
        this.failingSince = undefined;
      }
      this.settle(item, "delivered");
      return;
    }
    const failure = toDeliveryError(error, name);
    const detail = redact(failure.message, this.channel.secrets ?? []);
    const expired = clock.now() - item.createdAtMs >= this.options.maxAgeMs;
    if (failure.retryable && !expired) {
      metrics.alertNotifications.add(1, { channel: name, outcome: "retry" });
      if (this.failingSince === undefined) {
        this.failingSince = clock.now();
        logger.warn(`alert channel ${name} failed, retrying: ${detail}`, {
          channel: name,
          code: failure.code,
        });
      }
      const delay =
        failure.retryAfterSeconds !== undefined
          ? Math.max(0, failure.retryAfterSeconds * 1000)
          : backoffDelayMs(item.attempts, this.options.retry, this.random);
      this.reportHealth(detail);
      this.retryTimer = clock.setTimeout(() => {
        this.retryTimer = undefined;
        this.pump();
      }, delay);
      return;
    }
    this.items.shift();
    const outcome: DeliveryOutcome = expired ? "dropped" : "failed";
    metrics.alertNotifications.add(1, { channel: name, outcome });
    // The log is the fallback: the alert itself is written out so it is not lost silently.
    logger.error(`alert channel ${name} gave up on an alert (${outcome}): ${detail}`, {
      channel: name,
      code: failure.code,
      alert_id: item.alert.id,
      rule: item.alert.rule,
      severity: item.alert.level,
      title: item.alert.title,
      event: item.event,
    });
    this.reportHealth(detail);
    this.settle(item, outcome);
  }

  private settle(item: QueueItem, outcome: DeliveryOutcome): void {
    this.options.onSettled(item, outcome);
    this.recordDepth();
    if (outcome === "delivered") this.reportHealth();
    this.pump();
  }

  /** Records the depth gauge once per event-loop callback, however many items a fan-out batch added. */
  private recordDepth(): void {
    if (this.depthRecordScheduled) return;
    this.depthRecordScheduled = true;
    queueMicrotask(() => {
      this.depthRecordScheduled = false;
      try {
        this.options.metrics.alertOutboxDepth.record(this.items.length, this.depthAttributes);
      } catch {
        // A metrics failure must not surface from a microtask (it would crash the process).
      }
    });
  }

  private reportHealth(failureDetail?: string): void {
    const health = this.options.health;
    if (!health) return;
    health.report(healthComponentName(this.channel.name), {
      state: failureDetail === undefined ? "up" : "degraded",
      ...(failureDetail === undefined ? {} : { detail: failureDetail }),
      fields: { pending: this.items.length, kind: this.channel.kind ?? "page" },
    });
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
