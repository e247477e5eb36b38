import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { PrometheusExporter, PrometheusSerializer } from "@opentelemetry/exporter-prometheus";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { AggregationType, MeterProvider, type ResourceMetrics } from "@opentelemetry/sdk-metrics";
import { afterEach, describe, expect, it } from "vitest";
import { parseConfigText } from "../../src/config/index.js";
import { METRICS } from "../../src/telemetry/catalogue.js";
import { createTradingMetrics } from "../../src/telemetry/metrics.js";
import { createMetricsHandler, PrometheusTextSerializer } from "../../src/telemetry/prometheus-text.js";
import { metricViews } from "../../src/telemetry/sdk.js";

/** Label values Prometheus makes us escape, and ones it does not. */
const AWKWARD = ["back\\slash", 'quote"d', "new\nline", "tab\there", "ünïcödé €", "", "{}=,", "trailing "];

/** A provider wired like the preload's (Prometheus reader, ticktrace views) with a resource of awkward values. */
function setup() {
  const config = parseConfigText("", { file: "test.yaml", env: {} });
  const reader = new PrometheusExporter({ preventServerStart: true });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({
      "service.name": 'bot "one"',
      "service.instance.id": "host\\1\n",
      "process.pid": 42,
      "host.arch": ["x64", "arm"],
    }),
    readers: [reader],
    views: [
      ...metricViews(config),
      { instrumentName: "exp_histogram", aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } },
    ],
  });
  return { reader, provider };
}

/** Records into every catalogue instrument and a few odd ones, with awkward labels. */
function recordEverything(provider: MeterProvider, round: number): void {
  const metrics = createTradingMetrics(provider.getMeter("ticktrace"));
  const entries = Object.entries(METRICS) as [keyof typeof METRICS, (typeof METRICS)[keyof typeof METRICS]][];
  entries.forEach(([key, definition], index) => {
    const instrument = metrics[key] as unknown as {
      add?: (value: number, attributes?: Record<string, unknown>) => void;
      record?: (value: number, attributes?: Record<string, unknown>) => void;
    };
    const write = (value: number, attributes?: Record<string, unknown>) =>
      definition.kind === "counter" || definition.kind === "updowncounter"
        ? instrument.add!(value, attributes)
        : instrument.record!(value, attributes);
    write(round + index * 0.25);
    AWKWARD.forEach((value, i) => {
      const attributes: Record<string, unknown> = {};
      for (const label of definition.labels) attributes[label] = `${value}${i}`;
      write(definition.kind === "updowncounter" ? -i : (i + 1) * 0.003 * round, attributes);
    });
  });

  const scoped = provider.getMeter("scope.with-version", "1.2.3", {
    schemaUrl: "https://example.com/schema",
  });
  scoped
    .createCounter("dotted.name-with-dash", { unit: "ms", description: "a \\ and\na newline" })
    .add(round, {
      "label.with.dots": "v",
      "label-dash": 1,
      flag: true,
      list: ["a", 'b"', "c\\"],
      nums: [1, 2.5],
    });
  scoped.createCounter("already_total").add(1, { a: "b" });
  scoped.createCounter("9starts_with_digit").add(2);
  scoped.createUpDownCounter("non_monotonic_sum").add(-5, { side: "sell" });
  scoped.createGauge("special_values").record(Number.POSITIVE_INFINITY, { v: "inf" });
  scoped.createGauge("special_values").record(Number.NEGATIVE_INFINITY, { v: "-inf" });
  scoped.createGauge("special_values").record(Number.NaN, { v: "nan" });
  scoped.createGauge("special_values").record(1e-7, { v: "tiny" });
  scoped.createHistogram("exp_histogram").record(3, { a: "b" });
  scoped.createHistogram("no_attributes_histogram", { advice: { explicitBucketBoundaries: [] } }).record(4);
  scoped
    .createHistogram("signed_histogram", { advice: { explicitBucketBoundaries: [-1, 0, 1] } })
    .record(-3, { sign: "neg" });
  const observable = scoped.createObservableGauge("observed", { description: "from a callback" });
  observable.addCallback((result) => {
    result.observe(round, { fresh: `object ${round}` });
    result.observe(7);
  });
  provider.getMeter("empty-meter");
}

async function collect(reader: PrometheusExporter): Promise<ResourceMetrics> {
  const { resourceMetrics, errors } = await reader.collect();
  expect(errors).toEqual([]);
  return resourceMetrics;
}

describe("PrometheusTextSerializer", () => {
  it("renders every catalogue instrument kind and awkward labels exactly as the upstream PrometheusSerializer", async () => {
    const { reader, provider } = setup();
    const ours = new PrometheusTextSerializer();
    const upstream = new PrometheusSerializer();
    for (let round = 1; round <= 3; round++) {
      recordEverything(provider, round);
      const collected = await collect(reader);
      // The second and third rounds hit the label cache for every series already seen.
      expect(ours.serialize(collected)).toBe(upstream.serialize(collected));
    }
    const text = ours.serialize(await collect(reader));
    expect(text).toContain(
      'label_with_dots="v",label_dash="1",flag="true",list="[\\"a\\",\\"b\\\\\\"\\",\\"c\\\\\\\\\\"]"',
    );
    expect(text).toContain("# TYPE dotted_name_with_dash_total counter");
    expect(text).toContain("# UNIT dotted_name_with_dash_total ms");
    expect(text).toContain("_9starts_with_digit_total{");
    expect(text).toContain('trading_exchange_request_duration_seconds_bucket{exchange="quote\\"d1"');
    await provider.shutdown();
  });

  it("renders an empty collection as upstream does", async () => {
    const { reader, provider } = setup();
    const collected = await collect(reader);
    expect(new PrometheusTextSerializer().serialize(collected)).toBe(
      new PrometheusSerializer().serialize(collected),
    );
    await provider.shutdown();
  });

  it("renders a series seen before from its cached labels, and a new series of the same instrument fresh", async () => {
    const { reader, provider } = setup();
    const counter = provider.getMeter("m").createCounter("c");
    counter.add(1, { symbol: "BTC/USDT" });
    const serializer = new PrometheusTextSerializer();
    serializer.serialize(await collect(reader));
    counter.add(1, { symbol: "ETH/USDT" });
    expect(serializer.serialize(await collect(reader))).toContain(
      'c_total{symbol="BTC/USDT",otel_scope_name="m"} 1\nc_total{symbol="ETH/USDT",otel_scope_name="m"} 1\n',
    );
    await provider.shutdown();
  });

  it("keeps the labels an attributes object had when first rendered (the one documented difference from upstream)", async () => {
    const { reader, provider } = setup();
    const attributes = { symbol: "BTC/USDT" };
    provider.getMeter("m").createGauge("g").record(1, attributes);
    const serializer = new PrometheusTextSerializer();
    serializer.serialize(await collect(reader));
    // Never do this: the SDK has already keyed the series by the hash of the original labels.
    attributes.symbol = "mutated";
    const collected = await collect(reader);
    expect(serializer.serialize(collected)).toContain('g{symbol="BTC/USDT",otel_scope_name="m"} 1\n');
    expect(new PrometheusSerializer().serialize(collected)).toContain(
      'g{symbol="mutated",otel_scope_name="m"} 1\n',
    );
    await provider.shutdown();
  });
});

describe("createMetricsHandler", () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  it("answers 200 text/plain with the collected exposition", async () => {
    const { reader, provider } = setup();
    recordEverything(provider, 1);
    server = createServer(createMetricsHandler(reader));
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
    const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/plain");
    const body = await response.text();
    expect(body).toContain("# TYPE trading_orders_placed_total counter\n");
    expect(body.startsWith("# HELP target_info Target metadata\n")).toBe(true);
    await provider.shutdown();
  });

  it("answers with the failure text when the reader cannot collect", async () => {
    const reader = new PrometheusExporter({ preventServerStart: true });
    server = createServer(createMetricsHandler(reader));
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
    const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(
      "# failed to export metrics: Error: MetricReader is not bound to a MetricProducer",
    );
  });
});

describe("one family per name across instrumentation scopes", () => {
  it("regression: http and undici both recording http.client.request.duration gave a second HELP line", async () => {
    const reader = new PrometheusExporter({ preventServerStart: true });
    const provider = new MeterProvider({ readers: [reader] });
    for (const scope of ["@opentelemetry/instrumentation-http", "@opentelemetry/instrumentation-undici"]) {
      provider
        .getMeter(scope)
        .createHistogram("http.client.request.duration", { unit: "s", description: "client requests" })
        .record(0.01, { "http.request.method": "GET" });
    }
    // same name, another type: left out rather than served as a second family
    provider.getMeter("other").createGauge("http.client.request.duration").record(7);
    const { resourceMetrics } = await reader.collect();
    const text = new PrometheusTextSerializer().serialize(resourceMetrics);
    expect(text.match(/^# HELP http_client_request_duration /gm)).toHaveLength(1);
    expect(text.match(/^# TYPE http_client_request_duration histogram$/gm)).toHaveLength(1);
    expect(text.match(/^http_client_request_duration_count\{[^}]*\} 1$/gm)).toHaveLength(2);
    expect(text).not.toMatch(/^http_client_request_duration\{[^}]*otel_scope_name="other"/m);
    await provider.shutdown();
  });
});
