import type { Attributes, Histogram } from "@opentelemetry/api";

export interface HotPathRecorderOptions {
  /** Slots in the ring buffer (rounded up to a power of two). Default 8192. */
  capacity?: number;
  /** How often the buffer is folded into the histograms. Default 1000 ms. */
  flushIntervalMillis?: number;
}

/** A handle for one histogram series (a histogram plus fixed attributes). */
export type HotPathSeries = number;

/**
 * Timing for the trading hot path at next to no cost: the tick writes a series index and a
 * duration into preallocated typed arrays (no allocation, no OpenTelemetry call, no lock), and
 * the durations are folded into their histograms off the tick path, on an unref'd timer and at
 * shutdown. When the buffer is full (the folder fell behind by `capacity` samples), new samples
 * are dropped and counted in {@link dropped}, rather than slowing the tick.
 *
 * ```ts
 * const hot = new HotPathRecorder();
 * const sent = hot.series(metrics.tickToTrade, { symbol: "BTC/USDT", stage: "sent" });
 * hot.start();
 * // in the tick:
 * const t0 = performance.now(); ... hot.record(sent, performance.now() - t0);
 * ```
 */
export class HotPathRecorder {
  private readonly mask: number;
  private readonly seriesIndex: Uint16Array;
  private readonly durationsMs: Float64Array;
  private readonly histograms: Histogram[] = [];
  private readonly attributes: Attributes[] = [];
  private readonly flushIntervalMillis: number;
  private writeAt = 0;
  private readAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private droppedCount = 0;
  private stopped = false;

  constructor(options: HotPathRecorderOptions = {}) {
    const wanted = options.capacity ?? 8192;
    if (!(wanted >= 2)) throw new RangeError("capacity must be at least 2");
    const flushIntervalMillis = options.flushIntervalMillis ?? 1000;
    if (!(flushIntervalMillis > 0)) throw new RangeError("flushIntervalMillis must be greater than 0");
    const capacity = 2 ** Math.ceil(Math.log2(wanted));
    this.mask = capacity - 1;
    this.seriesIndex = new Uint16Array(capacity);
    this.durationsMs = new Float64Array(capacity);
    this.flushIntervalMillis = flushIntervalMillis;
  }

  /** Registers a histogram series; call at setup, not on the hot path. */
  series(histogram: Histogram, attributes: Attributes): HotPathSeries {
    if (this.histograms.length >= 65_535) throw new RangeError("too many hot-path series (at most 65535)");
    this.histograms.push(histogram);
    this.attributes.push(attributes);
    return this.histograms.length - 1;
  }

  /** Hot path: stores one duration (milliseconds) for `series`. Constant time, no allocation. */
  record(series: HotPathSeries, durationMs: number): void {
    if (this.writeAt - this.readAt > this.mask) {
      this.droppedCount++;
      return;
    }
    const slot = this.writeAt & this.mask;
    this.seriesIndex[slot] = series;
    this.durationsMs[slot] = durationMs;
    this.writeAt++;
  }

  /** Samples dropped because the buffer was full. */
  get dropped(): number {
    return this.droppedCount;
  }

  /** Samples written but not yet folded. */
  get pending(): number {
    return this.writeAt - this.readAt;
  }

  /** Folds every pending sample into its histogram (in seconds). Off the hot path. */
  flush(): void {
    const end = this.writeAt;
    for (let i = this.readAt; i < end; i++) {
      const slot = i & this.mask;
      const series = this.seriesIndex[slot]!;
      this.histograms[series]!.record(this.durationsMs[slot]! / 1000, this.attributes[series]);
    }
    this.readAt = end;
  }

  /** Starts folding on an unref'd timer. */
  start(): void {
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => {
      try {
        this.flush();
      } catch {
        // A background fold never throws; a broken histogram must not stop the timer.
      }
    }, this.flushIntervalMillis);
    this.timer.unref();
  }

  /** Idempotent: stops the timer and folds what is left. */
  shutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.stopped = true;
    this.flush();
    return Promise.resolve();
  }
}
