import { getEventListeners } from "node:events";
import type { Attributes, Counter, Gauge, Histogram } from "@opentelemetry/api";
import type { Clock, TimerHandle } from "../clock.js";
import { describeError, redact, TicktraceError } from "../errors.js";
import type { HealthRegistry } from "../health/registry.js";
import type { Logger } from "../logging/logger.js";
import type { Alert, AlertChannel, AlertEvent, DeliveryContext } from "../alert-model/types.js";
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
 *
 * An attempt allocates almost nothing: the queue has one timeout timer, armed when an attempt
 * starts and none is pending and re-armed when it fires early for a later attempt, instead of a
 * timer per attempt; and one `AbortController`, whose signal the next attempt is handed again
 * while it is not aborted and nothing listens on it any more. A channel that listens on the
 * signal past its attempt (fetch does, until its request is garbage-collected) gets a fresh
 * controller for its next attempt; one that ignores the signal (log, JSONL) never costs one.
 * Creating an `AbortSignal` costs about 3 us on Node 20, more than a whole `raise()`.
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
  /** The controller the next attempt is handed (see the class comment), made when first needed. */
  private controller: AbortController | undefined;
  private attemptSeq = 0;
  /** The attempt in flight and when (monotonic ms) it times out. */
  private currentItem: QueueItem | undefined;
  private currentTimeoutMs = 0;
  private deadlineMs = 0;
  /** The queue's one timeout timer and when (monotonic ms) it falls due. */
  private timeoutTimer: TimerHandle | undefined;
  private timeoutDueMs = 0;
  private readonly onTimeoutTimer = () => this.checkTimeout();
  private depthRecordScheduled = false;
  private readonly depthAttributes: Attributes;
  /** Metric attributes, made once (a record would otherwise allocate them per delivery). */
  private readonly channelAttributes: Attributes;
  private readonly outcomeAttributes: Readonly<Record<DeliveryOutcome | "retry", Attributes>>;
  private readonly healthName: string;

  constructor(options: ChannelQueueOptions) {
    this.options = options;
    this.channel = options.channel;
    const channel = options.channel.name;
    this.depthAttributes = { channel };
    this.channelAttributes = { channel };
    this.outcomeAttributes = {
      delivered: { channel, outcome: "delivered" },
      failed: { channel, outcome: "failed" },
      dropped: { channel, outcome: "dropped" },
      retry: { channel, outcome: "retry" },
    };
    this.random = options.random ?? Math.random;
    this.healthName = healthComponentName(channel);
    options.health?.register(this.healthName, { group: "alerts", required: false });
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
    const { clock } = this.options;
    if (this.retryTimer) clock.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (this.timeoutTimer) clock.clearTimeout(this.timeoutTimer);
    this.timeoutTimer = undefined;
    if (this.inFlight) this.controller?.abort();
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
    const timeoutMs = this.channel.timeoutMs ?? this.options.defaultTimeoutMs;
    // One attempt in flight per queue: a sequence number tells a late answer (after the timeout
    // gave up on it) from the current attempt's, so no promise race or timeout promise is made.
    const seq = ++this.attemptSeq;
    this.currentItem = item;
    this.currentTimeoutMs = timeoutMs;
    this.armTimeout(timeoutMs);
    const signal = this.signal();
    const context: DeliveryContext =
      item.collapsed === undefined
        ? {
            event: item.event,
            notificationId: item.notificationId,
            attempt: item.attempts,
            createdAtMs: item.createdAtMs,
          }
        : {
            event: item.event,
            notificationId: item.notificationId,
            attempt: item.attempts,
            createdAtMs: item.createdAtMs,
            collapsed: item.collapsed,
          };
    let attempt: Promise<void>;
    try {
      attempt = this.channel.send(item.alert, signal, context);
    } catch (error) {
      attempt = Promise.reject(toDeliveryError(error, this.channel.name)); // thrown, not rejected
    }
    attempt.then(
      () => {
        if (seq === this.attemptSeq && this.inFlight) this.finish(item, undefined);
      },
      (error: unknown) => {
        if (seq === this.attemptSeq && this.inFlight) this.finish(item, error);
      },
    );
  }

  /**
   * The signal for the attempt about to start: the last attempt's again unless it was aborted or
   * something still listens on it (a listener left behind would hear a later attempt's timeout).
   */
  private signal(): AbortSignal {
    const current = this.controller;
    if (
      current !== undefined &&
      !current.signal.aborted &&
      getEventListeners(current.signal, "abort").length === 0
    )
      return current.signal;
    const fresh = new AbortController();
    this.controller = fresh;
    return fresh.signal;
  }

  /** Sets the attempt's deadline; the queue's one timer is (re)armed only when it would fire too late. */
  private armTimeout(timeoutMs: number): void {
    const { clock } = this.options;
    const now = clock.monotonicMs();
    this.deadlineMs = now + timeoutMs;
    if (this.timeoutTimer !== undefined) {
      if (this.timeoutDueMs <= this.deadlineMs) return; // fires first and re-arms for this attempt
      clock.clearTimeout(this.timeoutTimer);
    }
    this.timeoutDueMs = this.deadlineMs;
    this.timeoutTimer = clock.setTimeout(this.onTimeoutTimer, timeoutMs);
  }

  /** The timeout timer fired: time out the attempt in flight if its deadline passed, else wait on for it. */
  private checkTimeout(): void {
    this.timeoutTimer = undefined;
    if (this.stopped || !this.inFlight) return;
    const { clock } = this.options;
    const remainingMs = this.deadlineMs - clock.monotonicMs();
    if (remainingMs > 0) {
      this.timeoutDueMs = this.deadlineMs;
      this.timeoutTimer = clock.setTimeout(this.onTimeoutTimer, remainingMs);
      return;
    }
    const item = this.currentItem;
    if (item === undefined) return;
    // The attempt is given up: a late answer is ignored (sequence number) and the next attempt
    // gets a fresh signal, since this one is aborted.
    this.controller?.abort();
    this.finish(
      item,
      new TicktraceError(
        "TIMEOUT",
        `alert channel ${this.channel.name} did not answer within ${this.currentTimeoutMs} ms`,
      ),
    );
  }

  private finish(item: QueueItem, error: unknown): void {
    // The timeout timer stays armed: it finds nothing in flight (or a later attempt) when it fires.
    this.inFlight = false;
    this.currentItem = undefined;
    if (this.stopped) return;
    const name = this.channel.name;
    const { metrics, clock, logger } = this.options;
    if (error === undefined) {
      this.items.shift();
      metrics.alertNotifications.add(1, this.outcomeAttributes.delivered);
      metrics.alertDeliveryDuration.record(
        Math.max(0, clock.now() - item.createdAtMs) / 1000,
        this.channelAttributes,
      );
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
      metrics.alertNotifications.add(1, this.outcomeAttributes.retry);
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
    metrics.alertNotifications.add(1, this.outcomeAttributes[outcome]);
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
    // Recorded at once: a delivery settles in its own promise callback, and a microtask per
    // delivery (queueMicrotask makes an async resource each) cost more than the record.
    if (!this.depthRecordScheduled) this.recordDepthNow();
    if (outcome === "delivered") this.reportHealth();
    this.pump();
  }

  /** Records the depth gauge once per event-loop callback, however many items a fan-out batch added. */
  private recordDepth(): void {
    if (this.depthRecordScheduled) return;
    this.depthRecordScheduled = true;
    queueMicrotask(this.recordDepthDeferred);
  }

  private readonly recordDepthDeferred = () => {
    this.depthRecordScheduled = false;
    this.recordDepthNow();
  };

  private recordDepthNow(): void {
    try {
      this.options.metrics.alertOutboxDepth.record(this.items.length, this.depthAttributes);
    } catch {
      // A metrics failure must not surface from a microtask or a promise callback (it would
      // crash the process).
    }
  }

  private reportHealth(failureDetail?: string): void {
    const health = this.options.health;
    if (!health) return;
    const fields = { pending: this.items.length, kind: this.channel.kind ?? "page" };
    health.report(
      this.healthName,
      failureDetail === undefined
        ? { state: "up", fields }
        : { state: "degraded", detail: failureDetail, fields },
    );
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
