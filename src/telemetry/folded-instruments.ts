import {
  diag,
  ROOT_CONTEXT,
  type Attributes,
  type Counter,
  type Gauge,
  type Histogram,
  type Meter,
  type MetricOptions,
  type UpDownCounter,
} from "@opentelemetry/api";
import type { HistogramExport, OwnHistogram } from "./histogram-export.js";
import { SeriesTable, type Series } from "./series-table.js";

/**
 * Instruments that record into ticktrace's own per-series storage and are folded into the
 * OpenTelemetry SDK's instruments when a reader collects. A recording costs one `Map` lookup per
 * attribute and an addition instead of the SDK's attribute hashing, context lookup and clock read
 * (a bound handle: the addition alone), and the per-instrument cardinality limit holds for the
 * life of the process, which bounds memory.
 *
 * What is given up: exemplars (the trace a sync recording was made in) are not attached to
 * folded values; the collector's spanmetrics connector provides exemplars for latency.
 */

/** A counter whose hottest callers can hold a handle to one series. */
export interface FoldedCounter extends Counter {
  /** A handle that adds to the series of `attributes` (resolved now, once) with no lookup. */
  bind(attributes?: Attributes): BoundCounter;
}

/** An up-down counter whose hottest callers can hold a handle to one series. */
export interface FoldedUpDownCounter extends UpDownCounter {
  /** A handle that adds to the series of `attributes` (resolved now, once) with no lookup. */
  bind(attributes?: Attributes): BoundCounter;
}

/** A gauge whose hottest callers can hold a handle to one series. */
export interface FoldedGauge extends Gauge {
  /** A handle that sets the series of `attributes` (resolved now, once) with no lookup. */
  bind(attributes?: Attributes): BoundRecorder;
}

/** A histogram whose hottest callers can hold a handle to one series. */
export interface FoldedHistogram extends Histogram {
  /** A handle that records into the series of `attributes` (resolved now, once) with no lookup. */
  bind(attributes?: Attributes): BoundRecorder;
  /** Values dropped because the buffer was full when they came (the fold fell behind). */
  readonly dropped: number;
}

/** One series of a counter or up-down counter, resolved at {@link FoldedCounter.bind}. */
export interface BoundCounter {
  add(value: number): void;
}

/** One series of a gauge or histogram, resolved at `bind`. */
export interface BoundRecorder {
  record(value: number): void;
}

export interface FoldGroupOptions {
  /** Most series per instrument, the `otel.metric.overflow` series included. */
  cardinalityLimit: number;
  /** Values each histogram holds between folds; more are dropped and counted. */
  histogramBufferSize: number;
  /** Longest a histogram value waits for a fold when no reader collects. */
  histogramFoldIntervalMillis: number;
  /**
   * Where histograms are aggregated instead of the SDK's histogram instruments (the runtime's,
   * given to its readers as metric producers). Without it, values are buffered and replayed into
   * the SDK's instruments by the fold.
   */
  histograms?: HistogramExport;
}

/**
 * The name of the observable instrument the fold is registered with. The SDK only runs a batch
 * callback tied to an observable instrument; this one never observes anything, so no reader
 * ever exports it.
 */
export const FOLD_TRIGGER_NAME = "ticktrace.internal.fold";

interface Foldable {
  fold(): void;
}

/**
 * The instruments created on one meter and the fold that feeds them to the SDK: at the start of
 * every collection by any reader (a batch observable callback; what is recorded into the SDK's
 * sync instruments there belongs to the collection that is running), and for histogram buffers
 * also on an unref'd timer, so a buffer drains when no reader collects often. Each value reaches
 * the SDK once; the SDK hands it to every reader, so two readers never double-count.
 */
export class FoldGroup {
  private readonly meter: Meter;
  private readonly options: FoldGroupOptions;
  private readonly all: Foldable[] = [];
  private readonly histograms: FoldedHistogramImpl[] = [];
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;

  constructor(meter: Meter, options: FoldGroupOptions) {
    this.meter = meter;
    this.options = options;
    const trigger = meter.createObservableGauge(FOLD_TRIGGER_NAME, {
      description: "Never observed: runs ticktrace's fold at the start of every collection.",
    });
    meter.addBatchObservableCallback(() => this.fold(), [trigger]);
  }

  counter(name: string, options: MetricOptions): FoldedCounter {
    return this.add(new FoldedSum(this.meter.createCounter(name, options), this.table(name), true, name));
  }

  upDownCounter(name: string, options: MetricOptions): FoldedUpDownCounter {
    return this.add(
      new FoldedSum(this.meter.createUpDownCounter(name, options), this.table(name), false, name),
    );
  }

  gauge(name: string, options: MetricOptions): FoldedGauge {
    return this.add(new FoldedLastValue(this.meter.createGauge(name, options), this.table(name), name));
  }

  histogram(name: string, options: MetricOptions): FoldedHistogram {
    const own = this.options.histograms;
    if (own) return new OwnFoldedHistogram(own.histogram(name, options), this.table(name), name);
    const histogram = new FoldedHistogramImpl(
      this.meter.createHistogram(name, options),
      this.table(name),
      name,
      this.options.histogramBufferSize,
      this,
    );
    this.histograms.push(histogram);
    return this.add(histogram);
  }

  /** Hands everything recorded since the last fold to the SDK instruments. Never throws. */
  fold(): void {
    for (const instrument of this.all) foldSafely(instrument);
  }

  /** @internal A histogram got its first value since its last fold: drain it within the interval. */
  histogramStarted(): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.foldHistograms();
    }, this.options.histogramFoldIntervalMillis);
    this.timer.unref();
  }

  /** @internal A histogram buffer is half full: drain it as soon as the current task ends. */
  histogramFilling(): void {
    if (this.immediate !== undefined) return;
    this.immediate = setImmediate(() => {
      this.immediate = undefined;
      this.foldHistograms();
    });
    this.immediate.unref();
  }

  private foldHistograms(): void {
    for (const histogram of this.histograms) foldSafely(histogram);
  }

  private table(name: string): SeriesTable {
    const limit = this.options.cardinalityLimit;
    return new SeriesTable(limit, () =>
      diag.warn(
        `ticktrace: ${name} reached its cardinality limit of ${limit} series; new attribute sets are recorded ` +
          `under otel.metric.overflow=true. Find the unbounded label (an id, a timestamp) and remove it, ` +
          `or raise telemetry.cardinality_limit.`,
      ),
    );
  }

  private add<T extends Foldable>(instrument: T): T {
    this.all.push(instrument);
    return instrument;
  }
}

/** A fold runs in a collection or on a timer: a failing SDK instrument is reported, never thrown. */
function foldSafely(instrument: Foldable): void {
  try {
    instrument.fold();
  } catch (error) {
    diag.error("ticktrace: folding metric values into the SDK failed", error);
  }
}

/**
 * The bookkeeping counters and gauges share: a series changed since the last fold is queued once,
 * and the fold hands each queued series to the SDK instrument ({@link emit}) and clears it.
 */
abstract class DirtySeries implements Foldable {
  private readonly dirty: Series[] = [];

  protected markDirty(series: Series): void {
    series.dirty = true;
    this.dirty.push(series);
  }

  /** Hands one changed series to the SDK instrument and resets what the next fold should not repeat. */
  protected abstract emit(series: Series): void;

  fold(): void {
    const dirty = this.dirty;
    for (const series of dirty) {
      series.dirty = false;
      this.emit(series);
    }
    dirty.length = 0;
  }
}

/** Counters (monotonic: negative values are dropped, as the SDK drops them) and up-down counters. */
class FoldedSum extends DirtySeries implements FoldedCounter {
  constructor(
    private readonly target: Counter | UpDownCounter,
    private readonly table: SeriesTable,
    private readonly monotonic: boolean,
    private readonly name: string,
  ) {
    super();
  }

  add(value: number, attributes?: Attributes): void {
    if (!this.accepts(value)) return;
    const series = this.table.resolve(attributes);
    series.value += value;
    if (!series.dirty) this.markDirty(series);
  }

  bind(attributes?: Attributes): BoundCounter {
    const series = this.table.resolve(attributes);
    return {
      add: (value) => {
        if (!this.accepts(value)) return;
        series.value += value;
        if (!series.dirty) this.markDirty(series);
      },
    };
  }

  private accepts(value: number): boolean {
    if (typeof value === "number" && !(this.monotonic && value < 0)) return true;
    diag.warn(`ticktrace: ${this.name} takes a non-negative number; ${String(value)} was dropped`);
    return false;
  }

  protected emit(series: Series): void {
    const value = series.value;
    series.value = 0;
    this.target.add(value, series.attributes, ROOT_CONTEXT);
  }
}

/** Gauges: the last value per series since the last fold. */
class FoldedLastValue extends DirtySeries implements FoldedGauge {
  constructor(
    private readonly target: Gauge,
    private readonly table: SeriesTable,
    private readonly name: string,
  ) {
    super();
  }

  record(value: number, attributes?: Attributes): void {
    if (!this.accepts(value)) return;
    const series = this.table.resolve(attributes);
    series.value = value;
    if (!series.dirty) this.markDirty(series);
  }

  bind(attributes?: Attributes): BoundRecorder {
    const series = this.table.resolve(attributes);
    return {
      record: (value) => {
        if (!this.accepts(value)) return;
        series.value = value;
        if (!series.dirty) this.markDirty(series);
      },
    };
  }

  private accepts(value: number): boolean {
    if (typeof value === "number") return true;
    diag.warn(`ticktrace: ${this.name} takes a number; ${String(value)} was dropped`);
    return false;
  }

  protected emit(series: Series): void {
    this.target.record(series.value, series.attributes, ROOT_CONTEXT);
  }
}

/**
 * Histograms: each value goes into a preallocated buffer (series index and value) that the fold
 * replays into the SDK histogram, so buckets, sum, min and max are exactly the SDK's. The buffer
 * never grows: when it is full the value is dropped and counted in {@link dropped}.
 */
class FoldedHistogramImpl implements FoldedHistogram, Foldable {
  private seriesOf: Uint32Array | undefined;
  private values: Float64Array | undefined;
  private length = 0;
  private droppedCount = 0;

  constructor(
    private readonly target: Histogram,
    private readonly table: SeriesTable,
    private readonly name: string,
    private readonly capacity: number,
    private readonly group: FoldGroup,
  ) {}

  get dropped(): number {
    return this.droppedCount;
  }

  record(value: number, attributes?: Attributes): void {
    if (!this.accepts(value)) return;
    this.push(this.table.resolve(attributes).index, value);
  }

  bind(attributes?: Attributes): BoundRecorder {
    const index = this.table.resolve(attributes).index;
    return {
      record: (value) => {
        if (this.accepts(value)) this.push(index, value);
      },
    };
  }

  private accepts(value: number): boolean {
    return acceptsHistogramValue(this.name, value);
  }

  private push(index: number, value: number): void {
    const at = this.length;
    if (at >= this.capacity) {
      this.droppedCount++;
      return;
    }
    // Allocated on first use: most processes never record into most catalogue histograms.
    const values = (this.values ??= new Float64Array(this.capacity));
    const seriesOf = (this.seriesOf ??= new Uint32Array(this.capacity));
    values[at] = value;
    seriesOf[at] = index;
    this.length = at + 1;
    if (at === 0) this.group.histogramStarted();
    else if (at === this.capacity >> 1) this.group.histogramFilling();
  }

  fold(): void {
    const { values, seriesOf } = this;
    if (values === undefined || seriesOf === undefined) return;
    const series = this.table.series;
    const end = this.length;
    // Emptied before the replay: should the SDK throw midway, the rest is lost, never replayed twice.
    this.length = 0;
    // Each value costs the SDK about 0.9 us here (Node 20), most of it hashing the attribute set
    // (sorted keys, JSON) to find the series: the SDK has no bound instruments, so that is paid
    // per value. The context is given (the fold's own, nothing a value was recorded in), which
    // spares the SDK a context lookup per value; it uses it for nothing else.
    for (let i = 0; i < end; i++) {
      const at = series[seriesOf[i] ?? 0];
      if (at) this.target.record(values[i] ?? 0, at.attributes, ROOT_CONTEXT);
    }
  }
}

/**
 * Histograms aggregated by a {@link HistogramExport}: a value is recorded into its series'
 * buckets at once (no buffer, no fold, no SDK call), and readers collect the finished data points.
 */
class OwnFoldedHistogram implements FoldedHistogram {
  constructor(
    private readonly target: OwnHistogram,
    private readonly table: SeriesTable,
    private readonly name: string,
  ) {}

  /** Always 0: nothing is buffered. */
  readonly dropped = 0;

  record(value: number, attributes?: Attributes): void {
    if (!this.accepts(value)) return;
    const series = this.table.resolve(attributes);
    this.target.record(series.index, series.attributes, value);
  }

  bind(attributes?: Attributes): BoundRecorder {
    const series = this.table.resolve(attributes);
    const target = this.target;
    return {
      record: (value) => {
        if (this.accepts(value)) target.record(series.index, series.attributes, value);
      },
    };
  }

  private accepts(value: number): boolean {
    return acceptsHistogramValue(this.name, value);
  }
}

/**
 * Whether histogram `name` takes `value`: a non-negative number. NaN is left out without a
 * warning, as the SDK's accumulation ignores it; anything else is dropped with one.
 */
function acceptsHistogramValue(name: string, value: number): boolean {
  if (typeof value === "number" && value >= 0) return true;
  if (Number.isNaN(value)) return false;
  diag.warn(`ticktrace: ${name} takes a non-negative number; ${String(value)} was dropped`);
  return false;
}
