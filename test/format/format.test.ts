import { describe, expect, it } from "vitest";
import { formatAgo, formatDuration } from "../../src/format/duration.js";
import { formatNumber } from "../../src/format/number.js";

describe("formatDuration", () => {
  it("seconds, minutes, hours with minutes, days with hours", () => {
    expect([0, 44_600, 90_000, 3_600_000, 3_900_000, 49 * 3_600_000, -5].map(formatDuration)).toEqual([
      "0s",
      "45s",
      "1m",
      "1h",
      "1h 5m",
      "2d 1h",
      "0s",
    ]);
    expect(formatAgo(120_000)).toBe("2m ago");
  });
});

describe("formatNumber", () => {
  it("drops trailing zeros by default; fixed and grouped for money; no sign on a rounded zero", () => {
    expect(formatNumber(12.5)).toBe("12.5");
    expect(formatNumber(1 / 3)).toBe("0.3333");
    expect(formatNumber(-1234.5678, { decimals: 1 })).toBe("-1234.6");
    expect(formatNumber(12345.6, { decimals: 2, fixed: true, grouping: true })).toBe("12,345.60");
    expect(formatNumber(-1_000_000, { decimals: 2, fixed: true, grouping: true })).toBe("-1,000,000.00");
    expect(formatNumber(-0.00001, { decimals: 2, fixed: true })).toBe("0.00");
    expect(formatNumber(Number.NaN)).toBe("NaN");
  });
});
