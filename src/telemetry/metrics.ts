import { metrics as metricsApi, type Meter } from "@opentelemetry/api";
import { TicktraceError } from "../errors.js";
import { METRICS, type MetricDefinition } from "./catalogue.js";
import {
  FoldGroup,
  type FoldGroupOptions,
  type FoldedCounter,
  type FoldedGauge,
  type FoldedHistogram,
  type FoldedUpDownCounter,
} from "./folded-instruments.js";
import type { HistogramExport } from "./histogram-export.js";

/** The meter name every ticktrace instrument is created under. */
export const METER_NAME = "ticktrace";

/** The SDK's default cardinality limit, so an unconfigured caller gets the same cap as the SDK. */
export const DEFAULT_CARDINALITY_LIMIT = 2000;

/**
 * The instrument of one catalogue entry, by its kind: a counter, up-down counter, gauge or
 * histogram, each with `bind(attributes)` for a hot path.
 */
export type Instrument<D extends MetricDefinition> = D["kind"] extends "counter"
  ? FoldedCounter
  : D["kind"] extends "updowncounter"
    ? FoldedUpDownCounter
    : D["kind"] extends "gauge"
      ? FoldedGauge
      : FoldedHistogram;

/** Options for {@link createTradingMetrics}. */
export interface TradingMetricsOptions {
  /**
   * Most series per instrument for the life of the process, the `otel.metric.overflow` series
   * included (as the SDK counts it). Pass `telemetry.cardinality_limit`, which also sets the SDK
   * views' limit. Default 2000.
   */
  cardinalityLimit?: number;
  /** Histogram values held between folds, per histogram; more are dropped and counted. Default 8192. */
  histogramBufferSize?: number;
  /** Longest a histogram value waits for a fold when no reader collects. Default 1000 ms. */
  histogramFoldIntervalMillis?: number;
  /**
   * Aggregate histograms here, in ticktrace's own storage, instead of replaying each value into
   * the SDK's histogram (about 850 ns a value on Node 20, most of it the SDK hashing the
   * attributes); the readers collect them through its producers. The runtime passes its own
   * (`TelemetrySdk.histograms`); the buffer options above do not apply then.
   */
  histograms?: HistogramExport;
}

/**
 * One instrument per catalogue entry, keyed as in {@link METRICS}. Each is the OpenTelemetry API
 * instrument (`add(value, attributes)` / `record(value, attributes)`) plus `bind(attributes)`,
 * a handle to one series for the hottest paths (like prom-client's `labels()`).
 */
export type TradingMetrics = { readonly [K in keyof typeof METRICS]: Instrument<(typeof METRICS)[K]> };

/**
 * The catalogue instruments already created on each meter, by options: a second caller on the
 * same meter (a library component falling back to `createTradingMetrics()`) shares the storage
 * and the cardinality cap of the first, as the SDK hands out one instrument per name, instead of
 * registering another fold that would live as long as the meter.
 */
const created = new WeakMap<
  Meter,
  { key: string; histograms: HistogramExport | undefined; metrics: TradingMetrics }[]
>();

/**
 * Creates every catalogue instrument on `meter` (default: the global meter `ticktrace`, which the
 * preload wires to `/metrics` and OTLP). A user's bot records into the same series:
 *
 * ```ts
 * const m = createTradingMetrics();
 * m.ordersPlaced.add(1, { exchange: "binance", symbol: "BTC/USDT", side: "buy", type: "limit" });
 * const btcBuys = m.ordersPlaced.bind({ exchange: "binance", symbol: "BTC/USDT", side: "buy", type: "limit" });
 * btcBuys.add(1); // no lookup at all
 * ```
 *
 * Recordings are kept per series in ticktrace's own storage and folded into the SDK instruments
 * at the start of every collection (a `/metrics` scrape, an OTLP push), so a read never sees
 * stale values and each value is counted once however many readers there are. A recording costs
 * one `Map` lookup per attribute, whether the attributes object is reused or built per call (as
 * long as one call site writes its keys in one order; another order costs the SDK's own hashing
 * once more per call). At most `cardinalityLimit` series exist per instrument
 * for the life of the process; later attribute sets share the `otel.metric.overflow` series.
 *
 * Called again on the same meter, it returns the same instruments: without options, those
 * created first on that meter (the runtime's, under the preload); with options, those created
 * with the same options.
 *
 * Trade-offs: the trace context of a recording is not kept, so folded values carry no
 * exemplars (the collector's spanmetrics connector provides exemplars for latency); histogram
 * values wait in a bounded buffer (see {@link TradingMetricsOptions.histogramBufferSize}).
 *
 * @throws TicktraceError `INVALID_ARGUMENT` when an option is out of range.
 */
export function createTradingMetrics(
  meter: Meter = metricsApi.getMeter(METER_NAME),
  options: TradingMetricsOptions = {},
): TradingMetrics {
  const resolved: FoldGroupOptions = {
    cardinalityLimit: integerOption(
      "cardinalityLimit",
      options.cardinalityLimit,
      DEFAULT_CARDINALITY_LIMIT,
      1,
    ),
    histogramBufferSize: integerOption("histogramBufferSize", options.histogramBufferSize, 8192, 2),
    histogramFoldIntervalMillis: integerOption(
      "histogramFoldIntervalMillis",
      options.histogramFoldIntervalMillis,
      1000,
      1,
    ),
  };
  const key = `${resolved.cardinalityLimit}/${resolved.histogramBufferSize}/${resolved.histogramFoldIntervalMillis}`;
  const onMeter = created.get(meter) ?? [];
  const unconfigured = Object.values(options).every((value) => value === undefined);
  const existing = unconfigured
    ? onMeter[0]
    : onMeter.find((entry) => entry.key === key && entry.histograms === options.histograms);
  if (existing) return existing.metrics;

  const group = new FoldGroup(
    meter,
    options.histograms ? { ...resolved, histograms: options.histograms } : resolved,
  );
  const out: Record<string, unknown> = {};
  for (const [name, definition] of Object.entries(METRICS) as [string, MetricDefinition][]) {
    out[name] = createInstrument(group, definition);
  }
  const metrics = out as TradingMetrics;
  onMeter.push({ key, histograms: options.histograms, metrics });
  created.set(meter, onMeter);
  return metrics;
}

function integerOption(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (Number.isInteger(value) && value >= min) return value;
  throw new TicktraceError(
    "INVALID_ARGUMENT",
    `createTradingMetrics: ${name} must be an integer of at least ${min} (got ${String(value)}); ` +
      `pass a valid value or leave it unset for the default`,
  );
}

function createInstrument(group: FoldGroup, definition: MetricDefinition) {
  const options = { description: definition.description, unit: definition.unit };
  switch (definition.kind) {
    case "counter":
      return group.counter(definition.name, options);
    case "updowncounter":
      return group.upDownCounter(definition.name, options);
    case "gauge":
      return group.gauge(definition.name, options);
    case "histogram":
      return group.histogram(definition.name, {
        ...options,
        advice: { explicitBucketBoundaries: [...(definition.buckets ?? [])] },
      });
  }
}
