import type { Attributes, Histogram, Meter, MetricOptions } from "@opentelemetry/api";
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import {
  MeterProvider,
  MetricReader,
  type DataPoint,
  type Histogram as HistogramPoint,
} from "@opentelemetry/sdk-metrics";
import { afterEach, describe, expect, it } from "vitest";
import { parseConfigText } from "../../src/config/index.js";
import { TicktraceError } from "../../src/errors.js";
import { FOLD_TRIGGER_NAME } from "../../src/telemetry/folded-instruments.js";
import { createTradingMetrics, type TradingMetricsOptions } from "../../src/telemetry/metrics.js";
import { metricViews } from "../../src/telemetry/sdk.js";
import { startRuntimeWith } from "../../src/runtime/start.js";
import { captureLogger } from "../logging/capture.js";
import { sourceModules } from "../runtime/source-modules.js";

/** A pull reader whose collections the test triggers (an OTLP push reader, minus the network). */
class InMemoryReader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }

  /** Data points of metric `name` in one collection. */
  async points(name: string): Promise<DataPoint<number | HistogramPoint>[]> {
    const { resourceMetrics } = await this.collect();
    return resourceMetrics.scopeMetrics
      .flatMap((scope) => scope.metrics)
      .filter((metric) => metric.descriptor.name === name)
      .flatMap((metric) => metric.dataPoints as DataPoint<number | HistogramPoint>[]);
  }
}

const providers: MeterProvider[] = [];
afterEach(async () => {
  await Promise.all(providers.splice(0).map((provider) => provider.shutdown()));
});

/** The catalogue on a provider wired like the preload's (Prometheus reader, ticktrace views), plus an in-memory reader. */
function setup(options: TradingMetricsOptions & { yaml?: string } = {}) {
  const { yaml = "", ...metricsOptions } = options;
  const config = parseConfigText(yaml, { file: "test.yaml", env: {} });
  const prometheus = new PrometheusExporter({ preventServerStart: true });
  const push = new InMemoryReader();
  const provider = new MeterProvider({ readers: [prometheus, push], views: metricViews(config) });
  providers.push(provider);
  const metrics = createTradingMetrics(provider.getMeter("ticktrace"), {
    cardinalityLimit: config.telemetry.cardinality_limit,
    ...metricsOptions,
  });
  return { prometheus, push, metrics };
}

/** What `/metrics` would serve, through the exporter's own request handler. */
function scrape(prometheus: PrometheusExporter): Promise<string> {
  return new Promise((resolve) => {
    const response = { statusCode: 0, setHeader: () => undefined, end: (text: string) => resolve(text) };
    prometheus.getMetricsRequestHandler({} as never, response as never);
  });
}

/** `/metrics` lines of one metric (exact name, so `_bucket` lines of another metric do not match). */
function lines(body: string, name: string): string[] {
  return body.split("\n").filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `));
}

function lineValue(line: string): number {
  return Number(line.slice(line.lastIndexOf(" ") + 1));
}

const BTC_BUY = { exchange: "sim", symbol: "BTC/USDT", side: "buy", type: "limit" };

describe("catalogue instruments fold into the SDK at collection", () => {
  it("values recorded before a scrape are on /metrics in that same scrape", async () => {
    const { prometheus, metrics } = setup();
    metrics.ordersPlaced.add(2, BTC_BUY);
    metrics.ordersPlaced.add(3, BTC_BUY);
    metrics.pnlRealized.record(-12.5, { symbol: "BTC/USDT", strategy: "mm" });
    metrics.exchangeRequestDuration.record(0.003, { exchange: "sim", operation: "place_order" });
    const body = await scrape(prometheus);
    expect(body).toContain(
      'trading_orders_placed_total{exchange="sim",symbol="BTC/USDT",side="buy",type="limit",otel_scope_name="ticktrace"} 5',
    );
    expect(body).toContain(
      'trading_pnl_realized_usd{symbol="BTC/USDT",strategy="mm",otel_scope_name="ticktrace"} -12.5',
    );
    expect(body).toContain(
      'trading_exchange_request_duration_seconds_count{exchange="sim",operation="place_order",otel_scope_name="ticktrace"} 1',
    );
    // The instrument the fold hangs on observes nothing, so no reader exports it.
    expect(body).not.toContain(FOLD_TRIGGER_NAME.replace(/\./g, "_"));
  });

  it("two readers (Prometheus pull and a push reader) each see every value exactly once", async () => {
    const { prometheus, push, metrics } = setup();
    metrics.ordersPlaced.add(1, BTC_BUY);
    expect((await push.points("trading_orders_placed_total"))[0]?.value).toBe(1);
    metrics.ordersPlaced.add(10, BTC_BUY);
    expect(lines(await scrape(prometheus), "trading_orders_placed_total").map(lineValue)).toEqual([11]);
    metrics.ordersPlaced.add(100, BTC_BUY);
    expect((await push.points("trading_orders_placed_total"))[0]?.value).toBe(111);
    expect(lines(await scrape(prometheus), "trading_orders_placed_total").map(lineValue)).toEqual([111]);
    // Collections with nothing new change nothing.
    expect((await push.points("trading_orders_placed_total"))[0]?.value).toBe(111);
    expect(lines(await scrape(prometheus), "trading_orders_placed_total").map(lineValue)).toEqual([111]);
  });

  it("an up-down counter goes down and a gauge keeps its last value", async () => {
    const { push, metrics } = setup();
    const active = { exchange: "sim", symbol: "BTC/USDT", side: "buy" };
    metrics.ordersActive.add(1, active);
    metrics.ordersActive.add(1, active);
    metrics.ordersActive.add(-1, active);
    const position = { exchange: "sim", symbol: "BTC/USDT" };
    metrics.positionSize.record(1, position);
    metrics.positionSize.record(-3, position);
    expect((await push.points("trading_orders_active"))[0]?.value).toBe(1);
    expect((await push.points("trading_position_size"))[0]?.value).toBe(-3);
    metrics.positionSize.record(7, position);
    metrics.ordersActive.add(-1, active);
    expect((await push.points("trading_position_size"))[0]?.value).toBe(7);
    expect((await push.points("trading_orders_active"))[0]?.value).toBe(0);
  });

  it("histogram buckets, count and sum are what the SDK would have recorded", async () => {
    const { prometheus, push, metrics } = setup();
    const attrs = { exchange: "sim", operation: "place_order" };
    for (const seconds of [0.00004, 0.003, 0.003, 12]) metrics.exchangeRequestDuration.record(seconds, attrs);
    const [point] = await push.points("trading_exchange_request_duration_seconds");
    const value = point!.value as HistogramPoint;
    expect(value.count).toBe(4);
    expect(value.sum).toBeCloseTo(12.00604, 10);
    expect(value.min).toBe(0.00004);
    expect(value.max).toBe(12);
    const body = await scrape(prometheus);
    const bucket = (le: string) =>
      `trading_exchange_request_duration_seconds_bucket{exchange="sim",operation="place_order",otel_scope_name="ticktrace",le="${le}"}`;
    expect(body).toContain(`${bucket("0.00005")} 1`);
    expect(body).toContain(`${bucket("0.0025")} 1`);
    expect(body).toContain(`${bucket("0.005")} 3`);
    expect(body).toContain(`${bucket("10")} 3`);
    expect(body).toContain(`${bucket("+Inf")} 4`);
  });

  it("negative counter and histogram values are dropped, as the SDK drops them", async () => {
    const { push, metrics } = setup();
    metrics.ordersPlaced.add(-1, BTC_BUY);
    metrics.ordersPlaced.add(2, BTC_BUY);
    metrics.tickDuration.record(-0.1, { strategy: "mm" });
    metrics.tickDuration.record(0.1, { strategy: "mm" });
    expect((await push.points("trading_orders_placed_total"))[0]?.value).toBe(2);
    expect(((await push.points("trading_tick_duration_seconds"))[0]?.value as HistogramPoint).count).toBe(1);
  });
});

describe("series lookup", () => {
  it("a reused attributes object and fresh equal objects (any key order) are one series", async () => {
    const { push, metrics } = setup();
    for (let i = 0; i < 5; i++) metrics.ordersPlaced.add(1, BTC_BUY);
    for (let i = 0; i < 5; i++)
      metrics.ordersPlaced.add(1, { type: "limit", side: "buy", symbol: "BTC/USDT", exchange: "sim" });
    const points = await push.points("trading_orders_placed_total");
    expect(points).toHaveLength(1);
    expect(points[0]!.value).toBe(10);
    expect(points[0]!.attributes).toEqual(BTC_BUY);
  });

  it("regression: an attributes object mutated between calls is counted under its new values", async () => {
    const { push, metrics } = setup();
    const attrs: Attributes = { exchange: "sim", symbol: "BTC/USDT", side: "buy", type: "limit" };
    // Reused a few times, then changed in place (a cache keyed by the object would miscount it).
    for (let i = 0; i < 3; i++) metrics.ordersPlaced.add(1, attrs);
    attrs.symbol = "ETH/USDT";
    metrics.ordersPlaced.add(1, attrs);
    attrs.venue = "extra";
    metrics.ordersPlaced.add(1, attrs);
    const bySymbol = (await push.points("trading_orders_placed_total")).map((p) => [p.attributes, p.value]);
    expect(bySymbol).toEqual([
      [{ exchange: "sim", symbol: "BTC/USDT", side: "buy", type: "limit" }, 3],
      [{ exchange: "sim", symbol: "ETH/USDT", side: "buy", type: "limit" }, 1],
      [{ exchange: "sim", symbol: "ETH/USDT", side: "buy", type: "limit", venue: "extra" }, 1],
    ]);
  });

  it("values that print alike but differ in type are two series, as in the SDK", async () => {
    const { push, metrics } = setup();
    for (let i = 0; i < 3; i++) {
      metrics.llmTokens.add(1, { provider: "p", model: "m", type: 1 });
      metrics.llmTokens.add(1, { provider: "p", model: "m", type: "1" });
    }
    const points = await push.points("trading_llm_tokens_total");
    expect(points.map((p) => [p.attributes.type, p.value])).toEqual([
      [1, 3],
      ["1", 3],
    ]);
  });

  it("a set that is a prefix of another, and a set with an array value, are series of their own", async () => {
    const { push, metrics } = setup();
    for (let i = 0; i < 2; i++) {
      metrics.llmRequests.add(1, { provider: "p" });
      metrics.llmRequests.add(1, { provider: "p", model: "m" });
      metrics.llmRequests.add(1, { provider: "p", model: ["m", "n"] });
    }
    metrics.llmRequests.add(1, {});
    const points = await push.points("trading_llm_requests_total");
    expect(points.map((p) => [p.attributes, p.value])).toEqual([
      [{ provider: "p" }, 2],
      [{ provider: "p", model: "m" }, 2],
      [{ provider: "p", model: ["m", "n"] }, 2],
      [{}, 1],
    ]);
  });

  it("no attributes and an empty object are the same series", async () => {
    const { push, metrics } = setup();
    metrics.heartbeat.record(1);
    metrics.heartbeat.record(2, {});
    const points = await push.points("trading_heartbeat_timestamp_seconds");
    expect(points.map((p) => [p.attributes, p.value])).toEqual([[{}, 2]]);
  });

  it("bound handles record into the same series as add/record", async () => {
    const { push, metrics } = setup();
    const placed = metrics.ordersPlaced.bind(BTC_BUY);
    placed.add(1);
    placed.add(2);
    metrics.ordersPlaced.add(4, { ...BTC_BUY });
    const position = metrics.positionSize.bind({ exchange: "sim", symbol: "BTC/USDT" });
    position.record(5);
    const latency = metrics.tickToTrade.bind({ symbol: "BTC/USDT", stage: "sent" });
    latency.record(0.001);
    latency.record(0.002);
    expect((await push.points("trading_orders_placed_total")).map((p) => p.value)).toEqual([7]);
    expect((await push.points("trading_position_size")).map((p) => p.value)).toEqual([5]);
    const [tick] = await push.points("trading_tick_to_trade_duration_seconds");
    expect((tick!.value as HistogramPoint).count).toBe(2);
    expect(tick!.attributes).toEqual({ symbol: "BTC/USDT", stage: "sent" });
  });
});

describe("cardinality limit", () => {
  it("past the limit, new attribute sets share the otel.metric.overflow series and nothing is lost", async () => {
    const { push, metrics } = setup({ cardinalityLimit: 5 });
    for (let i = 0; i < 100; i++) metrics.ordersFailed.add(1, { exchange: "sim", reason: `r${i}` });
    const points = await push.points("trading_orders_failed_total");
    expect(points).toHaveLength(5);
    expect(points.map((p) => p.attributes.reason ?? p.attributes["otel.metric.overflow"])).toEqual([
      "r0",
      "r1",
      "r2",
      "r3",
      true,
    ]);
    expect(points.reduce((sum, p) => sum + (p.value as number), 0)).toBe(100);
    // A set that got a series keeps it; a set that overflowed stays in the overflow series.
    metrics.ordersFailed.add(1, { exchange: "sim", reason: "r0" });
    metrics.ordersFailed.add(1, { exchange: "sim", reason: "r50" });
    const after = await push.points("trading_orders_failed_total");
    expect(after.find((p) => p.attributes.reason === "r0")?.value).toBe(2);
    expect(after.find((p) => p.attributes["otel.metric.overflow"] === true)?.value).toBe(97);
  });

  it("a flood in chunks with collections between them stays at the limit on /metrics (the SDK alone grew per collection)", async () => {
    const { prometheus, push, metrics } = setup({ yaml: "telemetry:\n  cardinality_limit: 100\n" });
    let symbol = 0;
    for (let chunk = 0; chunk < 10; chunk++) {
      for (let i = 0; i < 1000; i++) metrics.ordersPlaced.add(1, { ...BTC_BUY, symbol: `S${symbol++}/USDT` });
      // Both readers collect between chunks, as a scrape and an OTLP push would.
      await scrape(prometheus);
      await push.collect();
    }
    const series = lines(await scrape(prometheus), "trading_orders_placed_total");
    expect(series).toHaveLength(100);
    expect(series.filter((line) => line.includes('otel_metric_overflow="true"'))).toHaveLength(1);
    expect(series.reduce((sum, line) => sum + lineValue(line), 0)).toBe(10_000);
    const pushed = await push.points("trading_orders_placed_total");
    expect(pushed).toHaveLength(100);
    expect(pushed.reduce((sum, p) => sum + (p.value as number), 0)).toBe(10_000);
  });

  it("gauges and histograms are capped the same way", async () => {
    const { push, metrics } = setup({ cardinalityLimit: 3 });
    for (let i = 0; i < 10; i++) {
      metrics.positionSize.record(i, { exchange: "sim", symbol: `S${i}` });
      metrics.positionDuration.record(i, { symbol: `S${i}`, side: "long" });
    }
    const gauges = await push.points("trading_position_size");
    expect(gauges.map((p) => [p.attributes.symbol ?? "overflow", p.value])).toEqual([
      ["S0", 0],
      ["S1", 1],
      ["overflow", 9],
    ]);
    const histograms = await push.points("trading_position_duration_seconds");
    expect(
      histograms.map((p) => [p.attributes.symbol ?? "overflow", (p.value as HistogramPoint).count]),
    ).toEqual([
      ["S0", 1],
      ["S1", 1],
      ["overflow", 8],
    ]);
  });
});

describe("the runtime", () => {
  it("caps its catalogue instruments at telemetry.cardinality_limit across scrapes", async () => {
    const { entries, logger } = captureLogger();
    const runtime = await startRuntimeWith(
      parseConfigText(
        "health:\n  port: 0\ntelemetry:\n  cardinality_limit: 10\n  shutdown_timeout_ms: 1000\n" +
          "  otlp:\n    endpoint: http://127.0.0.1:9\n  traces:\n    enabled: false\n  logs:\n    enabled: false\n",
        { file: "test.yaml", env: {} },
      ),
      { logger, modules: sourceModules },
    );
    try {
      let body = "";
      for (let chunk = 0; chunk < 5; chunk++) {
        for (let i = 0; i < 20; i++)
          runtime.metrics.ordersFailed.add(1, { exchange: "sim", reason: `c${chunk}-${i}` });
        body = await (await fetch(`${runtime.healthUrl}/metrics`)).text();
      }
      const series = lines(body, "trading_orders_failed_total");
      expect(series).toHaveLength(10);
      expect(series.reduce((sum, line) => sum + lineValue(line), 0)).toBe(100);
    } finally {
      await runtime.shutdown();
    }
    expect(entries().filter((line) => line.level === "error")).toEqual([]);
  });
});

describe("histogram buffer", () => {
  it("is bounded: values past its size in one task are dropped and counted, and it drains without a collection", async () => {
    const { push, metrics } = setup({ histogramBufferSize: 4, histogramFoldIntervalMillis: 10_000 });
    const attrs = { strategy: "mm" };
    for (let i = 0; i < 6; i++) metrics.tickDuration.record(0.001, attrs);
    expect(metrics.tickDuration.dropped).toBe(2);
    // Half full scheduled a fold for when this task ends, well before the 10 s interval.
    await new Promise((resolve) => setImmediate(resolve));
    for (let i = 0; i < 4; i++) metrics.tickDuration.record(0.001, attrs);
    expect(metrics.tickDuration.dropped).toBe(2);
    expect(((await push.points("trading_tick_duration_seconds"))[0]!.value as HistogramPoint).count).toBe(8);
  });

  it("a lone value is folded on the timer when no reader collects", async () => {
    const provider = new MeterProvider();
    providers.push(provider);
    const meter = provider.getMeter("ticktrace");
    // The meter, with its histograms' record calls (what the fold hands the SDK) written down.
    const folded: number[] = [];
    const watched = Object.assign(Object.create(meter) as Meter, {
      createHistogram: (name: string, options?: MetricOptions): Histogram => {
        const histogram = meter.createHistogram(name, options);
        return {
          record: (value, attributes) => {
            folded.push(value);
            histogram.record(value, attributes);
          },
        };
      },
    });
    const metrics = createTradingMetrics(watched, { histogramFoldIntervalMillis: 5 });
    metrics.tickDuration.record(0.001, { strategy: "mm" });
    expect(folded).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(folded).toEqual([0.001]);
  });
});

describe("one storage per meter", () => {
  it("a second call on a meter returns the first call's instruments (no options) or those with the same options", () => {
    const meter = new MeterProvider().getMeter("ticktrace");
    const first = createTradingMetrics(meter, { cardinalityLimit: 50 });
    expect(createTradingMetrics(meter)).toBe(first);
    expect(createTradingMetrics(meter, { cardinalityLimit: 50 })).toBe(first);
    const other = createTradingMetrics(meter, { cardinalityLimit: 60 });
    expect(other).not.toBe(first);
    expect(createTradingMetrics(meter, { cardinalityLimit: 60 })).toBe(other);
    expect(createTradingMetrics(new MeterProvider().getMeter("ticktrace"))).not.toBe(first);
  });
});

describe("options", () => {
  it("an out-of-range option is refused with a message naming it", () => {
    const meter = new MeterProvider().getMeter("ticktrace");
    expect(() => createTradingMetrics(meter, { cardinalityLimit: 0 })).toThrow(TicktraceError);
    expect(() => createTradingMetrics(meter, { cardinalityLimit: 0 })).toThrow(
      "createTradingMetrics: cardinalityLimit must be an integer of at least 1 (got 0); pass a valid value or leave it unset for the default",
    );
    expect(() => createTradingMetrics(meter, { histogramBufferSize: 1.5 })).toThrow(
      "createTradingMetrics: histogramBufferSize must be an integer of at least 2 (got 1.5); pass a valid value or leave it unset for the default",
    );
  });
});
