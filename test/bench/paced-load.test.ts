import { describe, expect, it } from "vitest";
import { intervalNsFor, lastDueIndex, summarizeLatencies } from "../../bench/paced-load.js";

describe("paced load scheduling", () => {
  it("spaces 1,000 req/s 1 ms apart and 3 req/s at the rounded ns", () => {
    expect(intervalNsFor(1_000)).toBe(1_000_000n);
    expect(intervalNsFor(3)).toBe(333_333_333n);
  });

  it("rejects a rate that is not positive, naming the option", () => {
    expect(() => intervalNsFor(0)).toThrow("paced load: rate must be greater than 0 (got 0)");
  });

  it("counts every request due by now, so a late turn catches up instead of skipping", () => {
    const interval = 1_000_000n;
    expect(lastDueIndex(-1n, interval)).toBe(-1);
    expect(lastDueIndex(0n, interval)).toBe(0);
    expect(lastDueIndex(999_999n, interval)).toBe(0);
    expect(lastDueIndex(1_000_000n, interval)).toBe(1);
    // A turn 7.5 ms late finds requests 0..7 due.
    expect(lastDueIndex(7_500_000n, interval)).toBe(7);
  });
});

describe("paced load latency summary", () => {
  it("keeps sub-millisecond resolution (no 1 ms rounding)", () => {
    const summary = summarizeLatencies([150_000, 250_000, 350_000]);
    expect(summary.p50).toBeCloseTo(0.25, 9);
    expect(summary.max).toBeCloseTo(0.35, 9);
  });

  it("interpolates p99 between the two largest samples", () => {
    const ns = Array.from({ length: 101 }, (_, i) => i * 1_000_000);
    const summary = summarizeLatencies(ns);
    expect(summary.p50).toBe(50);
    expect(summary.p99).toBe(99);
    expect(summary.max).toBe(100);
  });

  it("reports NaN for no samples", () => {
    expect(summarizeLatencies([])).toEqual({ p50: Number.NaN, p99: Number.NaN, max: Number.NaN });
  });
});
