import { describe, expect, it } from "vitest";
import {
  InMemoryMetricExporter,
  AggregationTemporality,
  MeterProvider,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import { LATENCY_BUCKETS_SECONDS, METRICS, type MetricDefinition } from "../../src/telemetry/catalogue.js";
import { createTradingMetrics } from "../../src/telemetry/metrics.js";

const definitions = Object.values(METRICS) as MetricDefinition[];

/** Labels that would carry unbounded values (one series per order): never allowed. */
const UNBOUNDED_LABELS = [
  "order_id",
  "trade_id",
  "position_id",
  "user_id",
  "client_order_id",
  "request_id",
  "trace_id",
  "session_id",
];

describe("metric catalogue", () => {
  it("has no duplicate names", () => {
    const names = definitions.map((d) => d.name);
    expect(new Set(names).size).toBe(names.length);
  });

  it.each(definitions.map((d) => [d.name, d] as const))("%s follows the naming conventions", (name, d) => {
    expect(name).toMatch(/^(trading|ticktrace)_[a-z][a-z0-9_]*[a-z0-9]$/);
    expect(d.description.length).toBeGreaterThan(10);
    if (d.kind === "counter") expect(name).toMatch(/_total$/);
    else expect(name).not.toMatch(/_total$/);
    if (d.kind === "histogram") {
      expect(name).toMatch(/_seconds$/);
      expect(d.buckets?.length).toBeGreaterThan(0);
    }
    if (name.endsWith("_seconds")) expect(d.unit).toBe("s");
    if (name.endsWith("_ratio")) {
      expect(d.unit).toBe("1");
      expect(d.kind).toBe("gauge");
    }
    // Units other than s and 1 are curly-brace annotations, which the collector's translation drops,
    // so a series has the same name on /metrics and after OTLP.
    if (d.unit !== "s" && d.unit !== "1") expect(d.unit).toMatch(/^\{[A-Za-z_]+\}$/);
    expect(d.labels.length).toBeLessThanOrEqual(5);
    for (const label of d.labels) {
      expect(label).toMatch(/^[a-z][a-z_]*$/);
      expect(UNBOUNDED_LABELS).not.toContain(label);
    }
    expect(new Set(d.labels).size).toBe(d.labels.length);
  });

  it("latency histograms share the 50 microsecond to 10 second buckets", () => {
    expect(LATENCY_BUCKETS_SECONDS[0]).toBe(0.00005);
    expect(LATENCY_BUCKETS_SECONDS.at(-1)).toBe(10);
    expect([...LATENCY_BUCKETS_SECONDS].sort((a, b) => a - b)).toEqual(LATENCY_BUCKETS_SECONDS);
    for (const name of [
      "trading_exchange_request_duration_seconds",
      "trading_tick_to_trade_duration_seconds",
      "trading_order_execution_duration_seconds",
    ]) {
      expect(definitions.find((d) => d.name === name)?.buckets).toBe(LATENCY_BUCKETS_SECONDS);
    }
  });

  it("covers orders, positions, PnL, latency, workers, risk, exchanges and AI decisions", () => {
    const names = new Set(definitions.map((d) => d.name));
    const required = [
      "trading_orders_placed_total",
      "trading_orders_filled_total",
      "trading_orders_failed_total",
      "trading_orders_rejected_total",
      "trading_orders_active",
      "trading_order_execution_duration_seconds",
      "trading_volume_base_total",
      "trading_volume_quote_total",
      "trading_position_size",
      "trading_positions_open",
      "trading_pnl_realized_usd",
      "trading_pnl_unrealized_usd",
      "trading_pnl_daily_usd",
      "trading_portfolio_value_usd",
      "trading_exposure_ratio",
      "trading_position_duration_seconds",
      "trading_exchange_request_duration_seconds",
      "trading_tick_to_trade_duration_seconds",
      "trading_worker_runs_total",
      "trading_worker_errors_total",
      "trading_worker_duration_seconds",
      "trading_heartbeat_timestamp_seconds",
      "trading_circuit_breaker_active",
      "trading_circuit_breaker_trips_total",
      "trading_risk_limit_breaches_total",
      "trading_exchange_connected",
      "trading_exchange_reconnects_total",
      "trading_exchange_rate_limit_hits_total",
      "trading_agent_sessions_total",
      "trading_llm_requests_total",
      "trading_llm_tokens_total",
      "trading_llm_cost_usd_total",
      "trading_ai_decisions_total",
      "trading_ai_decision_confidence_ratio",
      "trading_policy_validations_total",
      "trading_policy_risk_score_ratio",
    ];
    expect(required.filter((name) => !names.has(name))).toEqual([]);
    // PnL goes down as well as up: gauges, never counters.
    for (const name of ["trading_pnl_realized_usd", "trading_pnl_unrealized_usd", "trading_pnl_daily_usd"]) {
      expect(definitions.find((d) => d.name === name)?.kind).toBe("gauge");
    }
  });

  it("createTradingMetrics creates every instrument with its unit, description and buckets", async () => {
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
    const provider = new MeterProvider({ readers: [reader] });
    const metrics = createTradingMetrics(provider.getMeter("ticktrace"));
    expect(Object.keys(metrics).sort()).toEqual(Object.keys(METRICS).sort());
    for (const [key, definition] of Object.entries(METRICS) as [keyof typeof METRICS, MetricDefinition][]) {
      const instrument = metrics[key] as unknown as Record<
        string,
        (value: number, attributes: object) => void
      >;
      const record = instrument.add ?? instrument.record;
      record!.call(instrument, 1, Object.fromEntries(definition.labels.map((label) => [label, "x"])));
    }
    await reader.forceFlush();
    const exported = exporter.getMetrics()[0]!.scopeMetrics[0]!.metrics;
    expect(exported).toHaveLength(definitions.length);
    for (const metric of exported) {
      const definition = definitions.find((d) => d.name === metric.descriptor.name)!;
      expect(metric.descriptor.unit).toBe(definition.unit);
      expect(metric.descriptor.description).toBe(definition.description);
      if (definition.kind === "histogram") {
        const point = metric.dataPoints[0]!.value as { buckets: { boundaries: number[] } };
        expect(point.buckets.boundaries).toEqual(definition.buckets);
      }
    }
    await provider.shutdown();
  });
});
