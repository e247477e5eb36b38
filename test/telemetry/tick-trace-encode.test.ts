import { describe, expect, it } from "vitest";
import { unixNanoHalves, unixNanoString } from "../../src/telemetry/tick-trace/otlp-encode.js";
import { toHrTime } from "../../src/telemetry/tick-trace/tick-tracer.js";

describe("tick-trace OTLP timestamps", () => {
  const cases: [number, number][] = [
    [0, 0],
    [0, 999_999_999],
    [1, 0],
    [65_535, 999_999_999],
    [65_536, 1],
    [1_780_315_200, 123_456_789],
    [1_796_160_763, 592_000_003],
    [4_294_967_295, 999_999_999],
  ];
  for (let i = 0; i < 200; i++)
    cases.push([Math.floor(Math.random() * 4_294_967_296), Math.floor(Math.random() * 1e9)]);

  it("fixed64 halves without BigInt equal the BigInt value", () => {
    for (const [s, ns] of cases) {
      const [lo, hi] = unixNanoHalves(s, ns);
      const expected = BigInt(s) * 1_000_000_000n + BigInt(ns);
      expect((BigInt(hi) << 32n) + BigInt(lo), `${s}s ${ns}ns`).toBe(expected);
      expect(lo).toBeLessThan(2 ** 32);
    }
  });

  it("the decimal string equals the BigInt value", () => {
    for (const [s, ns] of cases)
      expect(unixNanoString([s, ns])).toBe(String(BigInt(s) * 1_000_000_000n + BigInt(ns)));
  });

  it("a monotonic reading lands on the wall clock with its sub-microsecond part", () => {
    // Wall clock 1,780,315,200.5 s at monotonic 0; reading 1,000.000125 ms.
    expect(toHrTime(1_780_315_200, 500_000_000, 1_000.000125)).toEqual([1_780_315_201, 500_000_125]);
  });
});
