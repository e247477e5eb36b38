import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import { describe, expect, it } from "vitest";
import { parseConfigText } from "../../src/config/index.js";
import { LATENCY_BUCKETS_SECONDS } from "../../src/telemetry/catalogue.js";
import { createTradingMetrics } from "../../src/telemetry/metrics.js";
import { metricViews } from "../../src/telemetry/sdk.js";

/** A meter provider wired like the preload's: Prometheus reader, ticktrace views. */
function setup(yaml = "") {
  const config = parseConfigText(yaml, { file: "test.yaml", env: {} });
  const prometheus = new PrometheusExporter({ preventServerStart: true });
  const provider = new MeterProvider({ readers: [prometheus], views: metricViews(config) });
  const metrics = createTradingMetrics(provider.getMeter("ticktrace"));
  return { prometheus, provider, metrics };
}

/** What `/metrics` would serve, through the exporter's own request handler. */
async function scrape(prometheus: PrometheusExporter): Promise<string> {
  return new Promise((resolve) => {
    let body = "";
    const response = {
      statusCode: 0,
      setHeader: () => undefined,
      end: (text: string) => {
        body = text;
        resolve(body);
      },
    };
    prometheus.getMetricsRequestHandler({} as never, response as never);
  });
}

describe("views on the Prometheus exposition", () => {
  it("latency histograms resolve 50 microseconds to 10 seconds", async () => {
    const { prometheus, provider, metrics } = setup();
    metrics.exchangeRequestDuration.record(0.00004, { exchange: "sim", operation: "place_order" });
    metrics.exchangeRequestDuration.record(0.003, { exchange: "sim", operation: "place_order" });
    metrics.exchangeRequestDuration.record(12, { exchange: "sim", operation: "place_order" });
    const body = await scrape(prometheus);
    const bucketLines = body
      .split("\n")
      .filter((line) => line.startsWith("trading_exchange_request_duration_seconds_bucket"));
    const bounds = bucketLines.map((line) => /le="([^"]+)"/.exec(line)![1]);
    expect(bounds).toEqual([...LATENCY_BUCKETS_SECONDS.map(String), "+Inf"]);
    expect(body).toContain(
      'trading_exchange_request_duration_seconds_bucket{exchange="sim",operation="place_order",otel_scope_name="ticktrace",le="0.00005"} 1',
    );
    expect(body).toContain(
      'trading_exchange_request_duration_seconds_bucket{exchange="sim",operation="place_order",otel_scope_name="ticktrace",le="0.005"} 2',
    );
    expect(body).toContain(
      'trading_exchange_request_duration_seconds_bucket{exchange="sim",operation="place_order",otel_scope_name="ticktrace",le="10"} 2',
    );
    expect(body).toContain(
      'trading_exchange_request_duration_seconds_bucket{exchange="sim",operation="place_order",otel_scope_name="ticktrace",le="+Inf"} 3',
    );
    expect(body).toContain(
      'trading_exchange_request_duration_seconds_count{exchange="sim",operation="place_order",otel_scope_name="ticktrace"} 3',
    );
    await provider.shutdown();
  });

  it("series names on /metrics are the catalogue names, with no suffix added", async () => {
    const { prometheus, provider, metrics } = setup();
    metrics.ordersPlaced.add(1, { exchange: "sim", symbol: "BTC/USDT", side: "buy", type: "limit" });
    metrics.pnlRealized.record(-12.5, { symbol: "BTC/USDT", strategy: "mm" });
    metrics.exposure.record(0.4, {});
    const body = await scrape(prometheus);
    expect(body).toContain(
      'trading_orders_placed_total{exchange="sim",symbol="BTC/USDT",side="buy",type="limit",otel_scope_name="ticktrace"} 1',
    );
    expect(body).toContain(
      'trading_pnl_realized_usd{symbol="BTC/USDT",strategy="mm",otel_scope_name="ticktrace"} -12.5',
    );
    expect(body).toContain('trading_exposure_ratio{otel_scope_name="ticktrace"} 0.4');
    await provider.shutdown();
  });

  it("a runaway label of 1,000,000 distinct values is capped: bounded series, an overflow series, bounded memory", async () => {
    const { prometheus, provider, metrics } = setup("telemetry:\n  cardinality_limit: 1000\n");
    globalThis.gc?.();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 1_000_000; i++) {
      metrics.ordersFailed.add(1, { exchange: "sim", reason: `order-${i}` });
    }
    const after = process.memoryUsage().heapUsed;
    const body = await scrape(prometheus);
    const series = body.split("\n").filter((line) => line.startsWith("trading_orders_failed_total{"));
    expect(series).toHaveLength(1000);
    const overflow = series.find((line) => line.includes('otel_metric_overflow="true"'));
    expect(overflow).toBeDefined();
    const total = series.reduce((sum, line) => sum + Number(line.split(" ").pop()), 0);
    expect(total).toBe(1_000_000);
    // 1,000,000 kept series would take hundreds of MB; the capped ones take a few.
    expect(after - before).toBeLessThan(64 * 1024 * 1024);
    await provider.shutdown();
  });
});
