import { describe, expect, it } from "vitest";
import { createManualClock, type Clock, type ManualClock } from "../../src/clock.js";
import { ChannelQueue, type DeliveryOutcome, type QueueItem } from "../../src/alerting/delivery.js";
import { createSilentLogger } from "../../src/logging/logger.js";
import type { AlertChannel } from "../../src/alert-model/types.js";
import { createTestMetrics, settle, testAlert } from "./helpers.js";

const ALERT = testAlert({ fingerprint: "rule", rule: "rule" });

/** Epoch ms the manual clock starts at: the items' creation time, so none is past `maxAgeMs`. */
const START_MS = Date.UTC(2026, 0, 1);

function item(n: number): QueueItem {
  return { notificationId: `n-${n}`, event: "firing", alert: ALERT, createdAtMs: START_MS, attempts: 0 };
}

/** A manual clock that counts the timers set on it. */
function countingClock(): { clock: ManualClock; timersSet: () => number } {
  const clock = createManualClock(START_MS);
  let count = 0;
  const setTimeout: Clock["setTimeout"] = (fn, ms) => {
    count++;
    return clock.setTimeout(fn, ms);
  };
  return { clock: { ...clock, setTimeout }, timersSet: () => count };
}

/** A channel that answers each attempt with `answer(attempt, signal)` and keeps every signal it was handed. */
function scriptedChannel(answer: (attempt: number, signal: AbortSignal) => Promise<void>) {
  const signals: AbortSignal[] = [];
  const channel: AlertChannel = {
    name: "scripted",
    minLevel: "INFO",
    timeoutMs: 5000,
    send(_alert, signal) {
      signals.push(signal);
      return answer(signals.length, signal);
    },
  };
  return { channel, signals };
}

function queueFor(channel: AlertChannel, clock: Clock) {
  const settled: { id: string; outcome: DeliveryOutcome }[] = [];
  const queue = new ChannelQueue({
    channel,
    clock,
    logger: createSilentLogger(),
    metrics: createTestMetrics().metrics,
    health: undefined,
    retry: { initialDelayMs: 100, maxDelayMs: 100 },
    defaultTimeoutMs: 5000,
    maxAgeMs: 3_600_000,
    onSettled: (settledItem, outcome) => settled.push({ id: settledItem.notificationId, outcome }),
    random: () => 1,
  });
  return { queue, settled };
}

describe("ChannelQueue attempts", () => {
  it("hands a channel that ignores the signal the same signal every attempt and arms one timeout timer", async () => {
    const { clock, timersSet } = countingClock();
    const { channel, signals } = scriptedChannel(() => Promise.resolve());
    const { queue, settled } = queueFor(channel, clock);
    for (let n = 0; n < 50; n++) queue.enqueue(item(n));
    await queue.idle();
    expect(settled).toHaveLength(50);
    expect(new Set(signals).size).toBe(1);
    expect(signals[0]?.aborted).toBe(false);
    expect(timersSet()).toBe(1);
    queue.stop();
  });

  it("gives a fresh signal after an attempt that left a listener on it, and reuses one whose listener was removed", async () => {
    const clock = createManualClock(START_MS);
    const { channel, signals } = scriptedChannel((attempt, signal) => {
      const onAbort = () => undefined;
      signal.addEventListener("abort", onAbort);
      // Odd attempts clean up after themselves; even ones leave their listener behind (as fetch does).
      if (attempt % 2 === 1) signal.removeEventListener("abort", onAbort);
      return Promise.resolve();
    });
    const { queue } = queueFor(channel, clock);
    for (let n = 0; n < 4; n++) queue.enqueue(item(n));
    await queue.idle();
    expect(signals).toHaveLength(4);
    expect(signals[1]).toBe(signals[0]); // attempt 1 removed its listener
    expect(signals[2]).not.toBe(signals[1]); // attempt 2 left one
    expect(signals[3]).toBe(signals[2]);
    expect(signals.some((signal) => signal.aborted)).toBe(false);
    queue.stop();
  });

  it("times an attempt out at its own deadline when the queue's timer was armed by an earlier attempt", async () => {
    const clock = createManualClock(START_MS);
    let release: (() => void) | undefined;
    const { channel, signals } = scriptedChannel((attempt) =>
      attempt === 1 ? Promise.resolve() : new Promise<void>((resolve) => (release = resolve)),
    );
    const { queue, settled } = queueFor(channel, clock);
    queue.enqueue(item(1)); // armed the timer for t=5000, answered at once
    await settle();
    clock.advance(3000);
    queue.enqueue(item(2)); // hangs (ignoring the signal); its deadline is t=8000
    await settle();
    clock.advance(2000); // t=5000: the timer fires, finds the attempt within its time and waits on
    await settle();
    expect(signals[1]?.aborted).toBe(false);
    clock.advance(2999);
    await settle();
    expect(signals[1]?.aborted).toBe(false);
    clock.advance(1); // t=8000
    await settle();
    expect(signals[1]?.aborted).toBe(true);
    expect(settled.map((s) => s.id)).toEqual(["n-1"]);

    // The late answer of the abandoned attempt is ignored; the retry gets a signal of its own.
    release?.();
    await settle();
    expect(settled.map((s) => s.id)).toEqual(["n-1"]);
    clock.advance(100);
    await settle();
    expect(signals).toHaveLength(3);
    expect(signals[2]).not.toBe(signals[1]);
    expect(signals[2]?.aborted).toBe(false);
    release?.(); // the retry (attempt 3) hangs too; let it answer
    await settle();
    expect(settled).toEqual([
      { id: "n-1", outcome: "delivered" },
      { id: "n-2", outcome: "delivered" },
    ]);
    queue.stop();
  });

  it("stop() aborts the attempt in flight", async () => {
    const clock = createManualClock(START_MS);
    const { channel, signals } = scriptedChannel(() => new Promise<void>(() => undefined));
    const { queue } = queueFor(channel, clock);
    queue.enqueue(item(1));
    await settle();
    expect(signals[0]?.aborted).toBe(false);
    queue.stop();
    expect(signals[0]?.aborted).toBe(true);
  });
});
