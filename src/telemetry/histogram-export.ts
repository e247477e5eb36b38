import { ValueType, type Attributes, type HrTime, type MetricOptions } from "@opentelemetry/api";
import { millisToHrTime } from "@opentelemetry/core";
import { emptyResource } from "@opentelemetry/resources";
import {
  AggregationTemporality,
  DataPointType,
  InstrumentType,
  type CollectionResult,
  type DataPoint,
  type Histogram,
  type HistogramMetricData,
  type IMetricReader,
  type MetricProducer,
} from "@opentelemetry/sdk-metrics";

/**
 * Histograms aggregated in ticktrace's own storage and handed to the metric readers as finished
 * data points, through one `MetricProducer` per reader, instead of one SDK `Histogram.record`
 * per value.
 *
 * Why: the SDK hashes a recording's attributes on every call (`hashAttributes`: sort the keys,
 * `JSON.stringify` them) and allocates on the way; measured on Node 20 (this machine) a
 * `record(value, { symbol, stage })` costs ~850 ns, ~700 of them the hashing. A tick of the
 * reference loop records 13 histogram values (tick duration, tick-to-trade sent and ack per
 * order, execution duration per closed order), so replaying them into the SDK cost ~11 µs of
 * trading-thread CPU per tick, more than the tick itself. Here a value is resolved to its series
 * once (a bound handle, or the series table's lookup) and recorded as a bucket search and five
 * additions on plain numbers.
 *
 * What the readers get is what the SDK's explicit-bucket histogram aggregation would have
 * produced for the same values: the boundaries of the instrument's advice (or the SDK's
 * default), counts, sum, min and max, cumulative or delta as each reader selects for
 * histograms, with the SDK's start times (cumulative: the series' first value; delta: the
 * reader's previous collection for a series it reported then). Not applied: views other than
 * the cardinality limit (ticktrace's series table caps series itself) and exemplars (folded
 * values carry none anyway). The data points arrive in a scope of their own with the meter's
 * name, beside the SDK's scope of the same name.
 */
export class HistogramExport {
  private readonly histograms: OwnHistogram[] = [];
  private readonly producers: ReaderHistogramProducer[] = [];
  private readonly scopeName: string;

  /** `scopeName`: the instrumentation scope the histograms are reported under (the meter's name). */
  constructor(scopeName: string) {
    this.scopeName = scopeName;
  }

  /**
   * A producer for one reader (its `metricProducers` option). Tell it the reader with
   * {@link ReaderHistogramProducer.bind} once the reader exists, so it learns the temporality.
   */
  producer(): ReaderHistogramProducer {
    const producer = new ReaderHistogramProducer(this, this.producers.length);
    this.producers.push(producer);
    return producer;
  }

  /** A histogram aggregated here (one per instrument name). */
  histogram(name: string, options: MetricOptions): OwnHistogram {
    const histogram = new OwnHistogram(name, options);
    this.histograms.push(histogram);
    return histogram;
  }

  /** @internal Moves every histogram's current values into each reader's view, then reports `producer`'s. */
  collect(producer: ReaderHistogramProducer): CollectionResult {
    for (const histogram of this.histograms) histogram.settle(this.producers);
    const now = Date.now();
    const metrics: HistogramMetricData[] = [];
    for (const histogram of this.histograms) {
      const data = histogram.report(producer, now);
      if (data) metrics.push(data);
    }
    producer.lastCollectionMs = now;
    return {
      resourceMetrics: {
        // The reader keeps the SDK producer's resource; this one is not read.
        resource: emptyResource(),
        scopeMetrics: metrics.length > 0 ? [{ scope: { name: this.scopeName }, metrics }] : [],
      },
      errors: [],
    };
  }
}

/** One reader's view of the {@link HistogramExport}: its temporality and its delta state. */
export class ReaderHistogramProducer implements MetricProducer {
  temporality: AggregationTemporality = AggregationTemporality.CUMULATIVE;
  /** When this reader last collected (epoch ms), the start of its next delta interval. */
  lastCollectionMs = 0;

  constructor(
    private readonly owner: HistogramExport,
    /** This reader's index into each series' delta accumulations. */
    readonly index: number,
  ) {}

  /** Takes the reader's temporality for histograms (after the reader is constructed). */
  bind(reader: IMetricReader): void {
    this.temporality = reader.selectAggregationTemporality(InstrumentType.HISTOGRAM);
  }

  collect(): Promise<CollectionResult> {
    return Promise.resolve(this.owner.collect(this));
  }
}

/** One series' values over an interval (or since start), as the SDK's histogram accumulation keeps them. */
class Accumulation {
  readonly counts: number[];
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;
  /** Epoch ms of the first value (the SDK's accumulation start time). */
  startMs: number;
  /** Delta readers: whether this series was in the reader's previous report. */
  reported = false;

  constructor(buckets: number, startMs: number) {
    this.counts = new Array<number>(buckets).fill(0);
    this.startMs = startMs;
  }

  /** Adds `other`'s values (the SDK's `merge`). */
  add(other: Accumulation): void {
    const counts = this.counts;
    const from = other.counts;
    for (let i = 0; i < counts.length; i++) counts[i] = (counts[i] ?? 0) + (from[i] ?? 0);
    this.count += other.count;
    this.sum += other.sum;
    if (other.min < this.min) this.min = other.min;
    if (other.max > this.max) this.max = other.max;
  }

  clear(): void {
    this.counts.fill(0);
    this.count = 0;
    this.sum = 0;
    this.min = Infinity;
    this.max = -Infinity;
  }

  point(boundaries: number[], attributes: Attributes, startMs: number, end: HrTime): DataPoint<Histogram> {
    return {
      attributes,
      startTime: millisToHrTime(startMs),
      endTime: end,
      value: {
        buckets: { boundaries, counts: [...this.counts] },
        count: this.count,
        sum: this.sum,
        min: this.min,
        max: this.max,
      },
    };
  }
}

/** The SDK's default explicit bucket boundaries (`HistogramAggregation`). */
const SDK_DEFAULT_BOUNDARIES = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000];

/**
 * One histogram instrument's series. Values go into the current interval's accumulation of
 * their series; a collection by any reader moves the current values into the cumulative
 * accumulation and into every delta reader's, so each value is counted once per reader.
 */
export class OwnHistogram {
  private readonly name: string;
  private readonly description: string;
  private readonly unit: string;
  private readonly valueType: ValueType;
  private readonly boundaries: number[];
  private readonly buckets: number;
  /** By series index: values since the last collection by any reader. */
  private readonly current: (Accumulation | undefined)[] = [];
  /** By series index: every value since start (cumulative readers). */
  private readonly total: (Accumulation | undefined)[] = [];
  /** By reader index, then series index: values not yet reported to that delta reader. */
  private readonly pending: (Accumulation | undefined)[][] = [];
  private readonly attributes: (Attributes | undefined)[] = [];
  /** Series with values in {@link current}. */
  private readonly dirty: number[] = [];

  constructor(name: string, options: MetricOptions) {
    this.name = name;
    this.description = options.description ?? "";
    this.unit = options.unit ?? "";
    this.valueType = options.valueType ?? ValueType.DOUBLE;
    // As the SDK's ExplicitBucketHistogramAggregation takes them: sorted, without infinities.
    const advised = options.advice?.explicitBucketBoundaries;
    const sorted = (advised ? [...advised] : [...SDK_DEFAULT_BOUNDARIES]).sort((a, b) => a - b);
    const from = sorted.lastIndexOf(-Infinity) + 1;
    const to = sorted.indexOf(Infinity);
    this.boundaries = sorted.slice(from, to === -1 ? undefined : to);
    this.buckets = this.boundaries.length + 1;
  }

  /**
   * Records `value` (not negative, a number: the caller checks) into series `index`, whose
   * attributes are `attributes`. No allocation after the series' first value.
   */
  record(index: number, attributes: Attributes, value: number): void {
    let acc = this.current[index];
    if (acc === undefined) {
      acc = new Accumulation(this.buckets, 0);
      this.current[index] = acc;
      this.attributes[index] = attributes;
    }
    if (acc.count === 0) {
      // The interval's first value of this series: the SDK's accumulation start time.
      acc.startMs = Date.now();
      this.dirty.push(index);
    }
    acc.count++;
    acc.sum += value;
    if (value < acc.min) acc.min = value;
    if (value > acc.max) acc.max = value;
    // The SDK's binarySearchUB: the first boundary >= value (buckets are upper-inclusive).
    const boundaries = this.boundaries;
    let lo = 0;
    let hi = boundaries.length - 1;
    let bucket = boundaries.length;
    while (hi >= lo) {
      const mid = (lo + hi) >> 1;
      if ((boundaries[mid] ?? 0) < value) lo = mid + 1;
      else {
        bucket = mid;
        hi = mid - 1;
      }
    }
    acc.counts[bucket] = (acc.counts[bucket] ?? 0) + 1;
  }

  /** @internal Moves the current values into the cumulative and every delta reader's accumulations. */
  settle(producers: readonly ReaderHistogramProducer[]): void {
    while (this.pending.length < producers.length) this.pending.push([]);
    for (const index of this.dirty) {
      const acc = this.current[index];
      if (acc === undefined || acc.count === 0) continue;
      this.into(this.total, index, acc);
      for (const producer of producers) {
        if (producer.temporality === AggregationTemporality.DELTA)
          this.into(this.pending[producer.index] ?? [], index, acc);
      }
      acc.clear();
    }
    this.dirty.length = 0;
  }

  /** Adds `acc` to series `index` of `target`; an empty accumulation starts at `acc`'s start. */
  private into(target: (Accumulation | undefined)[], index: number, acc: Accumulation): void {
    let into = target[index];
    if (into === undefined) {
      into = new Accumulation(this.buckets, acc.startMs);
      target[index] = into;
    } else if (into.count === 0) {
      into.startMs = acc.startMs;
    }
    into.add(acc);
  }

  /** @internal The metric for `producer`'s reader, or undefined when it has no data point. */
  report(producer: ReaderHistogramProducer, nowMs: number): HistogramMetricData | undefined {
    const end = millisToHrTime(nowMs);
    const points: DataPoint<Histogram>[] = [];
    const delta = producer.temporality === AggregationTemporality.DELTA;
    const source = delta ? (this.pending[producer.index] ?? []) : this.total;
    for (let index = 0; index < source.length; index++) {
      const acc = source[index];
      const attributes = this.attributes[index];
      if (acc === undefined || attributes === undefined) continue;
      if (!delta) {
        if (acc.count > 0) points.push(acc.point(this.boundaries, attributes, acc.startMs, end));
        continue;
      }
      if (acc.count === 0) {
        acc.reported = false;
        continue;
      }
      // The SDK's delta start: the previous collection for a series reported then, else its first value.
      const startMs = acc.reported ? producer.lastCollectionMs : acc.startMs;
      points.push(acc.point(this.boundaries, attributes, startMs, end));
      acc.clear();
      acc.reported = true;
    }
    if (points.length === 0) return undefined;
    return {
      descriptor: {
        name: this.name,
        description: this.description,
        unit: this.unit,
        valueType: this.valueType,
      },
      aggregationTemporality: delta ? AggregationTemporality.DELTA : AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.HISTOGRAM,
      dataPoints: points,
    };
  }
}
