import { systemClock, type Clock } from "../../clock.js";

export interface TokenBucketOptions {
  /** Sustained rate; also the burst size (one second's worth). */
  ratePerSecond: number;
  clock?: Clock;
}

/**
 * A token bucket that hands out send slots. {@link reserve} never blocks: it takes a slot and
 * says how long the caller must wait for it (0 on the fast path). A 429's retry-after pauses the
 * bucket with {@link pauseUntil}, so no call is sent before the exchange said it may be.
 */
export class TokenBucket {
  private readonly ratePerMs: number;
  private readonly capacity: number;
  private readonly clock: Clock;
  private tokens: number;
  private lastRefillMs: number;
  private pausedUntilMs = 0;

  constructor(options: TokenBucketOptions) {
    if (!(options.ratePerSecond > 0)) throw new RangeError("ratePerSecond must be greater than 0");
    this.ratePerMs = options.ratePerSecond / 1000;
    this.capacity = options.ratePerSecond;
    this.clock = options.clock ?? systemClock;
    this.tokens = this.capacity;
    this.lastRefillMs = this.clock.monotonicMs();
  }

  /** Takes one slot; returns the milliseconds to wait before using it. */
  reserve(): number {
    const now = this.clock.monotonicMs();
    this.tokens = Math.min(this.capacity, this.tokens + (now - this.lastRefillMs) * this.ratePerMs);
    this.lastRefillMs = now;
    this.tokens -= 1;
    const tokenWait = this.tokens >= 0 ? 0 : -this.tokens / this.ratePerMs;
    return Math.max(tokenWait, this.pausedUntilMs - now);
  }

  /** No slot is usable before `monotonicMs` (a retry-after from the exchange). */
  pauseUntil(monotonicMs: number): void {
    this.pausedUntilMs = Math.max(this.pausedUntilMs, monotonicMs);
  }

  /** Milliseconds until the pause ends (0 when not paused). */
  pausedForMs(): number {
    return Math.max(0, this.pausedUntilMs - this.clock.monotonicMs());
  }
}
