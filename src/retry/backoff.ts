/** Exponential backoff with jitter: the alert channels' retries and the exchange stream's reconnects. */
export interface BackoffPolicy {
  /** The first delay; doubles per attempt. */
  initialDelayMs: number;
  /** Cap on the delay before jitter. */
  maxDelayMs: number;
  /**
   * How much of the delay jitter may take off (default 0.5: a delay lands in [50%, 100%] of
   * the doubled one), so clients that failed together do not retry together.
   */
  jitter?: number;
}

/** The delay before retry `attempt` (1-based): `initialDelayMs * 2^(attempt-1)`, capped, then jittered. */
export function backoffDelayMs(
  attempt: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.max(0, attempt - 1));
  const jitter = policy.jitter ?? 0.5;
  return Math.round(base * (1 - jitter + jitter * random()));
}
