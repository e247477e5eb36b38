import type { Attributes } from "@opentelemetry/api";
import { describe, expect, it } from "vitest";
import { HotPathRecorder } from "../../src/telemetry/hot-path.js";
import { TokenBucket } from "../../src/trading/venues/rate-limiter.js";
import { createManualClock } from "../../src/clock.js";
import { createMetricsProbe } from "./helpers.js";

describe("HotPathRecorder", () => {
  it("records nothing into the histogram until folded, then every sample in seconds", async () => {
    const { metrics, points } = createMetricsProbe();
    const hot = new HotPathRecorder({ capacity: 16 });
    const sent = hot.series(metrics.tickToTrade, { symbol: "BTC/USDT", stage: "sent" });
    const ack = hot.series(metrics.tickToTrade, { symbol: "BTC/USDT", stage: "ack" });
    hot.record(sent, 0.2);
    hot.record(sent, 0.3);
    hot.record(ack, 4);
    expect(hot.pending).toBe(3);
    expect(await points("trading_tick_to_trade_duration_seconds")).toEqual([]);
    hot.flush();
    const folded = await points("trading_tick_to_trade_duration_seconds");
    expect(folded).toHaveLength(2);
    const byStage = Object.fromEntries(folded.map((p) => [p.attributes.stage as string, p]));
    expect(byStage.sent).toMatchObject({ value: 2 });
    expect(byStage.sent!.sum).toBeCloseTo(0.0005, 12);
    expect(byStage.ack!.sum).toBeCloseTo(0.004, 12);
    expect(hot.pending).toBe(0);
  });

  it("drops and counts samples when the folder falls a whole buffer behind, and wraps around", async () => {
    const { metrics, points } = createMetricsProbe();
    const hot = new HotPathRecorder({ capacity: 4 });
    const s = hot.series(metrics.tickDuration, { strategy: "mm-1" });
    for (let i = 0; i < 6; i++) hot.record(s, 1);
    expect(hot.dropped).toBe(2);
    hot.flush();
    for (let i = 0; i < 3; i++) hot.record(s, 1);
    await hot.shutdown();
    const [point] = await points("trading_tick_duration_seconds");
    expect(point!.value).toBe(7);
    await hot.shutdown(); // idempotent
  });

  it("sums counter increments as they come: no buffer slot, none dropped, one add per fold", async () => {
    const { metrics, points } = createMetricsProbe();
    const adds: number[] = [];
    const counter = {
      add: (value: number, attributes?: Attributes) => {
        adds.push(value);
        metrics.ordersPlaced.add(value, attributes);
      },
    };
    const hot = new HotPathRecorder({ capacity: 4 });
    const placed = hot.counterSeries(counter, {
      exchange: "sim",
      symbol: "BTC/USDT",
      side: "buy",
      type: "limit",
    });
    const s = hot.series(metrics.tickDuration, { strategy: "mm-1" });
    for (let i = 0; i < 10; i++) hot.record(placed, 1);
    hot.record(s, 1);
    expect(hot.pending).toBe(1);
    expect(hot.dropped).toBe(0);
    hot.flush();
    hot.flush(); // nothing new: no add of 0
    expect(adds).toEqual([10]);
    expect((await points("trading_orders_placed_total"))[0]!.value).toBe(10);
    expect((await points("trading_tick_duration_seconds"))[0]!.value).toBe(1);
  });

  it("validates its options by name", () => {
    expect(() => new HotPathRecorder({ flushIntervalMillis: 0 })).toThrow(
      "flushIntervalMillis must be greater than 0",
    );
  });
});

describe("TokenBucket", () => {
  it("lets a second's burst through, then spaces calls, and honours a pause", () => {
    const clock = createManualClock();
    const bucket = new TokenBucket({ ratePerSecond: 2, clock });
    expect(bucket.reserve()).toBe(0);
    expect(bucket.reserve()).toBe(0);
    expect(bucket.reserve()).toBeCloseTo(500, 6);
    clock.advance(2_000);
    bucket.pauseUntil(clock.monotonicMs() + 1_000);
    expect(bucket.reserve()).toBeCloseTo(1_000, 6);
    expect(bucket.pausedForMs()).toBeCloseTo(1_000, 6);
  });
});
