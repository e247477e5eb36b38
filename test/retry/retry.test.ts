import { describe, expect, it } from "vitest";
import { backoffDelayMs } from "../../src/retry/backoff.js";
import { parseRetryAfter } from "../../src/retry/retry-after.js";

describe("backoffDelayMs", () => {
  const policy = { initialDelayMs: 500, maxDelayMs: 4_000 };
  it("doubles per attempt up to the cap; jitter takes at most its share off", () => {
    expect([1, 2, 3, 4, 5].map((n) => backoffDelayMs(n, policy, () => 1))).toEqual([
      500, 1000, 2000, 4000, 4000,
    ]);
    expect(backoffDelayMs(2, policy, () => 0)).toBe(500);
    expect(backoffDelayMs(2, { ...policy, jitter: 0.25 }, () => 0)).toBe(750);
    expect(backoffDelayMs(0, policy, () => 1)).toBe(500);
  });
});

describe("parseRetryAfter", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");
  it("reads delay-seconds and HTTP dates; absent or unreadable is undefined, never negative", () => {
    expect(parseRetryAfter("3", now)).toBe(3);
    expect(parseRetryAfter(" 1.5 ", now)).toBe(1.5);
    expect(parseRetryAfter(2, now)).toBe(2);
    expect(parseRetryAfter("-4", now)).toBe(0);
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:10 GMT", now)).toBe(10);
    expect(parseRetryAfter("Wed, 31 Dec 2025 23:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter("", now)).toBeUndefined();
    expect(parseRetryAfter("soon", now)).toBeUndefined();
  });
});
