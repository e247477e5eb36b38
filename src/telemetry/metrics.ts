import {
  metrics as metricsApi,
  type Attributes,
  type Counter,
  type Gauge,
  type Histogram,
  type Meter,
  type UpDownCounter,
} from "@opentelemetry/api";
import { METRICS, type MetricDefinition } from "./catalogue.js";

/** The meter name every ticktrace instrument is created under. */
export const METER_NAME = "ticktrace";

type Instrument<D extends MetricDefinition> = D["kind"] extends "counter"
  ? Counter<Attributes>
  : D["kind"] extends "updowncounter"
    ? UpDownCounter<Attributes>
    : D["kind"] extends "gauge"
      ? Gauge<Attributes>
      : Histogram<Attributes>;

/** Options for {@link createTradingMetrics}. */
export interface TradingMetricsOptions {
  /** Most series per instrument, the `otel.metric.overflow` series included. Default 2000. */
  cardinalityLimit?: number;
}

/** One instrument per catalogue entry, keyed as in {@link METRICS}. */
export type TradingMetrics = { readonly [K in keyof typeof METRICS]: Instrument<(typeof METRICS)[K]> };

/**
 * Creates every catalogue instrument on `meter` (default: the global meter `ticktrace`, which the
 * preload wires to `/metrics` and OTLP). A user's bot records into the same series:
 *
 * ```ts
 * const m = createTradingMetrics();
 * m.ordersPlaced.add(1, { exchange: "binance", symbol: "BTC/USDT", side: "buy", type: "limit" });
 * ```
 */
export function createTradingMetrics(
  meter: Meter = metricsApi.getMeter(METER_NAME),
  // Accepted now so callers can pass `telemetry.cardinality_limit`; the series storage that applies it follows.
  _options: TradingMetricsOptions = {},
): TradingMetrics {
  const out: Record<string, unknown> = {};
  for (const [key, definition] of Object.entries(METRICS) as [string, MetricDefinition][]) {
    out[key] = createInstrument(meter, definition);
  }
  return out as TradingMetrics;
}

function createInstrument(meter: Meter, definition: MetricDefinition) {
  const options = { description: definition.description, unit: definition.unit };
  switch (definition.kind) {
    case "counter":
      return meter.createCounter(definition.name, options);
    case "updowncounter":
      return meter.createUpDownCounter(definition.name, options);
    case "gauge":
      return meter.createGauge(definition.name, options);
    case "histogram":
      return meter.createHistogram(definition.name, {
        ...options,
        advice: { explicitBucketBoundaries: [...(definition.buckets ?? [])] },
      });
  }
}
