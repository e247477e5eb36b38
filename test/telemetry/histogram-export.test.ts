import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import {
  AggregationTemporality,
  MeterProvider,
  MetricReader,
  type DataPoint,
  type Histogram as HistogramPoint,
  type MetricData,
  type MetricProducer,
} from "@opentelemetry/sdk-metrics";
import { afterEach, describe, expect, it } from "vitest";
import { METRICS } from "../../src/telemetry/catalogue.js";
import { HistogramExport } from "../../src/telemetry/histogram-export.js";
import { createTradingMetrics } from "../../src/telemetry/metrics.js";

/** A reader whose collections the test triggers, with the temporality it asks for. */
class Reader extends MetricReader {
  constructor(temporality: AggregationTemporality, producer?: MetricProducer) {
    super({
      aggregationTemporalitySelector: () => temporality,
      ...(producer ? { metricProducers: [producer] } : {}),
    });
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }

  async metric(name: string): Promise<MetricData | undefined> {
    const { resourceMetrics } = await this.collect();
    return resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === name);
  }
}

const providers: MeterProvider[] = [];
afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.shutdown()));
});

const NAME = METRICS.tickToTrade.name;
const BTC = { symbol: "BTC/USDT", stage: "sent" };
const ETH = { symbol: "ETH/USDT", stage: "sent" };

/** The same values through the SDK's own histogram (the reference) and through the export. */
function both(temporality: AggregationTemporality) {
  const sdkReader = new Reader(temporality);
  const sdk = new MeterProvider({ readers: [sdkReader] });
  const reference = sdk.getMeter("ticktrace").createHistogram(NAME, {
    description: METRICS.tickToTrade.description,
    unit: METRICS.tickToTrade.unit,
    advice: { explicitBucketBoundaries: [...METRICS.tickToTrade.buckets] },
  });
  const histograms = new HistogramExport("ticktrace");
  const producer = histograms.producer();
  const ownReader = new Reader(temporality, producer);
  producer.bind(ownReader);
  const own = new MeterProvider({ readers: [ownReader] });
  providers.push(sdk, own);
  const metrics = createTradingMetrics(own.getMeter("ticktrace"), { histograms });
  const btc = metrics.tickToTrade.bind(BTC);
  return {
    record: (value: number, attributes: typeof BTC) => {
      reference.record(value, attributes);
      if (attributes === BTC) btc.record(value);
      else metrics.tickToTrade.record(value, attributes);
    },
    sdkReader,
    ownReader,
  };
}

/** A metric without its times: what must be equal between the two paths. */
function timeless(metric: MetricData | undefined) {
  if (!metric) return undefined;
  return {
    descriptor: {
      name: metric.descriptor.name,
      description: metric.descriptor.description,
      unit: metric.descriptor.unit,
      valueType: metric.descriptor.valueType,
    },
    temporality: metric.aggregationTemporality,
    dataPointType: metric.dataPointType,
    points: (metric.dataPoints as DataPoint<HistogramPoint>[])
      .map((p) => ({ attributes: p.attributes, value: p.value }))
      .sort((a, b) => String(a.attributes.symbol).localeCompare(String(b.attributes.symbol))),
  };
}

describe("histograms aggregated by ticktrace (HistogramExport)", () => {
  const values = [0.00004, 0.003, 0.003, 0.0001, 0.05, 12, 0, 0.00025];

  it("cumulative: the data points the SDK's own histogram produces for the same values", async () => {
    const { record, sdkReader, ownReader } = both(AggregationTemporality.CUMULATIVE);
    values.forEach((v, i) => record(v, i % 3 === 0 ? ETH : BTC));
    const first = timeless(await ownReader.metric(NAME));
    expect(first).toEqual(timeless(await sdkReader.metric(NAME)));
    expect(first?.points.map((p) => p.value.count)).toEqual([5, 3]);
    // Later values add to what was reported; a series without new values is still reported.
    record(0.002, BTC);
    record(NaN, BTC);
    const second = timeless(await ownReader.metric(NAME));
    expect(second).toEqual(timeless(await sdkReader.metric(NAME)));
    expect(second?.points.map((p) => p.value.count)).toEqual([6, 3]);
  });

  it("delta: each collection holds the values since the last one, as the SDK's does", async () => {
    const { record, sdkReader, ownReader } = both(AggregationTemporality.DELTA);
    values.forEach((v, i) => record(v, i % 3 === 0 ? ETH : BTC));
    const firstOwn = await ownReader.metric(NAME);
    expect(timeless(firstOwn)).toEqual(timeless(await sdkReader.metric(NAME)));
    record(0.002, BTC);
    const secondOwn = await ownReader.metric(NAME);
    expect(timeless(secondOwn)).toEqual(timeless(await sdkReader.metric(NAME)));
    expect(timeless(secondOwn)?.points.map((p) => [p.attributes.symbol, p.value.count])).toEqual([
      ["BTC/USDT", 1],
    ]);
    // A series reported before starts its next interval at the previous collection.
    const [again] = secondOwn!.dataPoints;
    const [before] = firstOwn!.dataPoints.filter((p) => p.attributes.symbol === "BTC/USDT");
    expect(again!.startTime).toEqual(before!.endTime);
    // Nothing new: no metric at all, as from the SDK.
    expect(await ownReader.metric(NAME)).toBeUndefined();
    expect(await sdkReader.metric(NAME)).toBeUndefined();
  });

  it("two readers each get every value once: a cumulative /metrics and a delta push", async () => {
    const histograms = new HistogramExport("ticktrace");
    const pull = histograms.producer();
    const prometheus = new PrometheusExporter({ preventServerStart: true, metricProducers: [pull] });
    pull.bind(prometheus);
    const pushProducer = histograms.producer();
    const push = new Reader(AggregationTemporality.DELTA, pushProducer);
    pushProducer.bind(push);
    const provider = new MeterProvider({ readers: [prometheus, push] });
    providers.push(provider);
    const metrics = createTradingMetrics(provider.getMeter("ticktrace"), { histograms });
    const attrs = { exchange: "sim", operation: "place_order" };
    for (const seconds of [0.00004, 0.003, 0.003, 12]) metrics.exchangeRequestDuration.record(seconds, attrs);
    const pushed = await push.metric("trading_exchange_request_duration_seconds");
    expect((pushed?.dataPoints[0]?.value as HistogramPoint).count).toBe(4);
    metrics.exchangeRequestDuration.record(0.003, attrs);
    const body = await new Promise<string>((resolve) => {
      const response = { statusCode: 0, setHeader: () => undefined, end: (text: string) => resolve(text) };
      prometheus.getMetricsRequestHandler({} as never, response as never);
    });
    const bucket = (le: string) =>
      `trading_exchange_request_duration_seconds_bucket{exchange="sim",operation="place_order",otel_scope_name="ticktrace",le="${le}"}`;
    expect(body).toContain(`${bucket("0.00005")} 1`);
    expect(body).toContain(`${bucket("0.005")} 4`);
    expect(body).toContain(`${bucket("+Inf")} 5`);
    expect(body).toContain(
      `trading_exchange_request_duration_seconds_count{exchange="sim",operation="place_order",otel_scope_name="ticktrace"} 5`,
    );
    const pushedAgain = await push.metric("trading_exchange_request_duration_seconds");
    expect((pushedAgain?.dataPoints[0]?.value as HistogramPoint).count).toBe(1);
  });

  it("negative values are dropped, as the SDK drops them", async () => {
    const { record, sdkReader, ownReader } = both(AggregationTemporality.CUMULATIVE);
    record(-1, BTC);
    expect(await ownReader.metric(NAME)).toBeUndefined();
    record(0.001, BTC);
    record(-0.5, ETH);
    const own = timeless(await ownReader.metric(NAME));
    expect(own).toEqual(timeless(await sdkReader.metric(NAME)));
    expect(own?.points.map((p) => p.value.count)).toEqual([1]);
  });
});
