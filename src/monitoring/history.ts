import type { MonitoringSnapshot } from "./snapshot.js";

/**
 * Two kinds of history:
 *
 * - {@link CounterWindow}: an in-memory ring of the snapshot's cumulative counters, sampled at
 *   most once per `sampleSpacingMs`, so rules can ask "how much did this counter grow over the
 *   last N ms" in O(log n) without keeping every tick.
 * - {@link aggregateSnapshots}: min/max/avg/last per numeric field per time window, over the
 *   snapshots persisted to disk (what `ticktrace monitor metrics` shows).
 */

/** The cumulative counters of a snapshot that rules diff over a window. */
export const COUNTER_FIELDS = [
  "orders_placed",
  "orders_rejected",
  "provider_errors",
  "llm_cost_usd",
] as const;
export type CounterField = (typeof COUNTER_FIELDS)[number];

/** Reads the counters of a snapshot, in {@link COUNTER_FIELDS} order (absent sections read 0). */
export function countersOf(snapshot: MonitoringSnapshot): Record<CounterField, number> {
  return {
    orders_placed: snapshot.orders.placed_total,
    orders_rejected: snapshot.orders.rejected_total,
    provider_errors: snapshot.sentiment?.provider_errors_total ?? 0,
    llm_cost_usd: snapshot.llm?.cost_usd_total ?? 0,
  };
}

export interface CounterWindowOptions {
  /** Samples closer together than this are not kept (the newest value is still used). Default 1000. */
  sampleSpacingMs?: number;
  /** Samples older than this are dropped. Set it to the longest rule window. */
  maxAgeMs: number;
}

/**
 * A ring of counter samples. Pure data: the caller supplies every timestamp.
 *
 * The growth over a window is `current - baseline`, where the baseline is the last sample at or
 * before the window start; when the history does not reach that far back, the process's own
 * start (all counters 0) is the baseline if it lies within the window, else the oldest sample.
 */
export class CounterWindow {
  private readonly spacingMs: number;
  private readonly maxAgeMs: number;
  private readonly capacity: number;
  private readonly times: Float64Array;
  private readonly values: Record<CounterField, Float64Array>;
  private head = 0;
  private size = 0;

  constructor(options: CounterWindowOptions) {
    this.spacingMs = options.sampleSpacingMs ?? 1_000;
    if (!(this.spacingMs > 0)) throw new RangeError("sampleSpacingMs must be greater than 0");
    if (!(options.maxAgeMs > 0)) throw new RangeError("maxAgeMs must be greater than 0");
    this.maxAgeMs = options.maxAgeMs;
    this.capacity = Math.ceil(this.maxAgeMs / this.spacingMs) + 2;
    this.times = new Float64Array(this.capacity);
    this.values = Object.fromEntries(
      COUNTER_FIELDS.map((field) => [field, new Float64Array(this.capacity)]),
    ) as Record<CounterField, Float64Array>;
  }

  /** Number of samples held. */
  get length(): number {
    return this.size;
  }

  /** Adds a sample at `atMs` unless the previous one is closer than the spacing. */
  add(atMs: number, counters: Record<CounterField, number>): void {
    if (this.size > 0 && atMs - this.timeAt(this.size - 1) < this.spacingMs) return;
    // Drop samples that fell out of the longest window (keep one before it as a baseline).
    while (this.size > 1 && this.timeAt(1) <= atMs - this.maxAgeMs) this.dropOldest();
    if (this.size === this.capacity) this.dropOldest();
    const slot = (this.head + this.size) % this.capacity;
    this.times[slot] = atMs;
    for (const field of COUNTER_FIELDS) this.values[field][slot] = counters[field];
    this.size++;
  }

  /**
   * How much `field` grew over the `windowMs` before `nowMs`, given its `current` value.
   * `uptimeMs` (process age) lets a young process count from zero. A counter that went
   * backwards (a restart) counts from zero too.
   */
  growth(field: CounterField, current: number, nowMs: number, windowMs: number, uptimeMs: number): number {
    const start = nowMs - windowMs;
    let baseline: number;
    if (uptimeMs <= windowMs) {
      baseline = 0;
    } else {
      const index = this.lastIndexAtOrBefore(start);
      if (index >= 0) baseline = this.valueAt(field, index);
      else if (this.size > 0) baseline = this.valueAt(field, 0);
      else return 0;
    }
    return current >= baseline ? current - baseline : current;
  }

  private lastIndexAtOrBefore(t: number): number {
    let lo = 0;
    let hi = this.size - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.timeAt(mid) <= t) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  private timeAt(index: number): number {
    return this.times[(this.head + index) % this.capacity] ?? 0;
  }

  private valueAt(field: CounterField, index: number): number {
    return this.values[field][(this.head + index) % this.capacity] ?? 0;
  }

  private dropOldest(): void {
    this.head = (this.head + 1) % this.capacity;
    this.size--;
  }
}

/** A snapshot with its time in epoch milliseconds. */
export interface TimedSnapshot {
  readonly timeMs: number;
  readonly snapshot: MonitoringSnapshot;
}

/** min/max/avg/last of one numeric field within one window. */
export interface FieldAggregate {
  min: number;
  max: number;
  avg: number;
  last: number;
  count: number;
}

/** One time window of {@link aggregateSnapshots}. */
export interface AggregateWindow {
  /** ISO-8601 start (inclusive) and end (exclusive) of the window. */
  start: string;
  end: string;
  /** Snapshots in the window. */
  snapshots: number;
  /** Per dotted field path (`pnl.daily`, `risk.circuit_breaker_active`). */
  fields: Record<string, FieldAggregate>;
}

/**
 * Every numeric field of a snapshot by dotted path; booleans read as 0/1 (so the share of time
 * the breaker was active is an average), arrays by their length (`positions.symbols`).
 */
export function numericFields(snapshot: MonitoringSnapshot): Record<string, number> {
  const out: Record<string, number> = {};
  const walk = (node: unknown, prefix: string): void => {
    if (typeof node === "number" && Number.isFinite(node)) out[prefix] = node;
    else if (typeof node === "boolean") out[prefix] = node ? 1 : 0;
    else if (Array.isArray(node)) out[prefix] = node.length;
    else if (node !== null && typeof node === "object") {
      for (const [key, value] of Object.entries(node)) walk(value, prefix === "" ? key : `${prefix}.${key}`);
    }
  };
  walk(snapshot, "");
  return out;
}

export interface AggregateOptions {
  /** Window length; windows are aligned to multiples of it since the epoch. Omitted: one window over everything. */
  windowMs?: number;
  /** Only these fields (dotted paths); default all. */
  fields?: readonly string[];
}

/** Buckets snapshots into aligned windows and aggregates each numeric field. Input order does not matter. */
export function aggregateSnapshots(
  snapshots: readonly TimedSnapshot[],
  options: AggregateOptions = {},
): AggregateWindow[] {
  const { windowMs } = options;
  if (windowMs !== undefined && !(windowMs > 0 && Number.isFinite(windowMs)))
    throw new RangeError("windowMs must be a finite number greater than 0");
  const wanted = options.fields ? new Set(options.fields) : undefined;
  const sorted = [...snapshots].sort((a, b) => a.timeMs - b.timeMs);
  const first = sorted[0]?.timeMs ?? 0;
  const last = sorted[sorted.length - 1]?.timeMs ?? 0;
  const bounds = (timeMs: number): [number, number] =>
    windowMs === undefined
      ? [first, last + 1]
      : [Math.floor(timeMs / windowMs) * windowMs, Math.floor(timeMs / windowMs) * windowMs + windowMs];
  const windows = new Map<
    number,
    { end: number; snapshots: number; fields: Record<string, FieldAggregate & { sum: number }> }
  >();
  for (const { timeMs, snapshot } of sorted) {
    const [start, end] = bounds(timeMs);
    let window = windows.get(start);
    if (!window) windows.set(start, (window = { end, snapshots: 0, fields: {} }));
    window.snapshots++;
    for (const [path, value] of Object.entries(numericFields(snapshot))) {
      if (wanted && !wanted.has(path)) continue;
      const agg = window.fields[path];
      if (!agg) {
        window.fields[path] = { min: value, max: value, avg: value, last: value, count: 1, sum: value };
        continue;
      }
      agg.min = Math.min(agg.min, value);
      agg.max = Math.max(agg.max, value);
      agg.sum += value;
      agg.count++;
      agg.last = value;
    }
  }
  return [...windows.entries()].map(([start, window]) => ({
    start: new Date(start).toISOString(),
    end: new Date(window.end).toISOString(),
    snapshots: window.snapshots,
    fields: Object.fromEntries(
      Object.entries(window.fields).map(([path, { sum, ...agg }]) => [
        path,
        { ...agg, avg: sum / agg.count },
      ]),
    ),
  }));
}
