import type { Attributes, AttributeValue } from "@opentelemetry/api";

/**
 * The attribute set every measurement past the cardinality limit is recorded under: the
 * OpenTelemetry SDK's own convention, so a query for `otel_metric_overflow="true"` finds both.
 */
export const OVERFLOW_ATTRIBUTES: Attributes = Object.freeze({ "otel.metric.overflow": true });

/** One attribute set of one instrument, and what has been recorded on it since the last fold. */
export class Series {
  /** A frozen copy of the attributes, taken when the series was created; what the SDK is given. */
  readonly attributes: Attributes;
  /** Own keys of {@link attributes}, to tell a reused object that gained a key. */
  readonly keyCount: number;
  /** Position in {@link SeriesTable.series}. */
  readonly index: number;
  /** Sum since the last fold (counters), or the last value (gauges). */
  value = 0;
  /** Recorded on since the last fold. */
  dirty = false;
  /**
   * The last attributes object that resolved here by key: seen twice in a row, the object is
   * being reused and goes into the identity cache (a one-off object never does).
   */
  lastSeen: Attributes | undefined = undefined;

  constructor(attributes: Attributes, keyCount: number, index: number) {
    this.attributes = attributes;
    this.keyCount = keyCount;
    this.index = index;
  }
}

const NO_ATTRIBUTES: Attributes = Object.freeze({});

/**
 * The series of one instrument, at most `limit` of them for the life of the table: the first
 * `limit - 1` distinct attribute sets get a series each and every later one shares the
 * {@link OVERFLOW_ATTRIBUTES} series, counted within the limit as the SDK counts it. Nothing is
 * ever evicted, so memory is bounded by the limit however many attribute sets are seen (the
 * SDK's own limit applies per collection interval while its cumulative state keeps every series).
 *
 * Lookup, cheapest first: an attributes object seen before is found by identity (a `WeakMap`),
 * and counts only once its keys and values compare equal to the series' copy, so an object
 * mutated between calls is never miscounted; a fresh object by its values in its own key order
 * (a trie of `Map`s); else by the key the SDK uses (sorted keys, `JSON.stringify`), so two
 * attribute sets are one series here exactly when they are one series in the SDK.
 */
export class SeriesTable {
  /** Every series, the overflow series included once it exists. */
  readonly series: Series[] = [];
  private readonly limit: number;
  private readonly onOverflow: () => void;
  private readonly byObject = new WeakMap<Attributes, Series>();
  private readonly byKey = new Map<string, Series>();
  private readonly byValues: ValueTrie;
  private overflowSeries: Series | undefined;

  /**
   * @param limit most series, the overflow series included (an integer of at least 1).
   * @param onOverflow called once, when the first attribute set is turned away.
   */
  constructor(limit: number, onOverflow: () => void = () => undefined) {
    this.limit = limit;
    this.onOverflow = onOverflow;
    this.byValues = new ValueTrie(4 * limit);
  }

  /** Series that have their own attribute set (the overflow series not counted). */
  get size(): number {
    return this.byKey.size;
  }

  /** The series for `attributes`: the overflow series when the table is full and the set is new. */
  resolve(attributes: Attributes | undefined): Series {
    const attrs = attributes ?? NO_ATTRIBUTES;
    const known = this.byObject.get(attrs);
    if (known !== undefined && unchanged(attrs, known)) return known;
    return this.resolveByKey(attrs);
  }

  private resolveByKey(attrs: Attributes): Series {
    let series = this.byValues.find(attrs);
    if (series === undefined) {
      series = this.resolveByCanonicalKey(attrs);
      if (series === this.overflowSeries) return series;
      this.byValues.insert(attrs, series);
    }
    if (series.lastSeen === attrs) this.byObject.set(attrs, series);
    else series.lastSeen = attrs;
    return series;
  }

  private resolveByCanonicalKey(attrs: Attributes): Series {
    const key = attributesKey(attrs);
    let series = this.byKey.get(key);
    if (series === undefined) {
      if (this.byKey.size >= this.limit - 1) return this.overflow();
      const copy = copyAttributes(attrs);
      series = new Series(copy.attributes, copy.keyCount, this.series.length);
      this.series.push(series);
      this.byKey.set(key, series);
    }
    return series;
  }

  private overflow(): Series {
    if (this.overflowSeries === undefined) {
      this.overflowSeries = new Series(OVERFLOW_ATTRIBUTES, 1, this.series.length);
      this.series.push(this.overflowSeries);
      this.onOverflow();
    }
    return this.overflowSeries;
  }
}

/** Whether `attrs` still holds exactly the keys and values `series` was created with. */
function unchanged(attrs: Attributes, series: Series): boolean {
  const copy = series.attributes;
  let count = 0;
  for (const key in attrs) {
    if (attrs[key] !== copy[key]) return false;
    count++;
  }
  return count === series.keyCount;
}

/** One step of a {@link ValueTrie}: the key read here, and the nodes for each of its values. */
class TrieNode {
  /** The attribute key this node reads; set by the first attribute set inserted through it. */
  name: string | undefined = undefined;
  readonly next = new Map<AttributeValue | undefined, TrieNode>();
  /** The series whose attribute set ends here. */
  series: Series | undefined = undefined;
}

/**
 * Attribute sets in their own key order, one `Map` lookup per attribute (values are `Map` keys,
 * so `1` and `"1"` stay apart as they do in the SDK): a fresh object built by the same code every
 * call is found without sorting or building a string. A node reads one key, fixed by the first
 * set inserted through it; a set written in another key order is not found here and takes the
 * canonical key. Holds at most `maxNodes` nodes; past that, sets are simply not inserted.
 */
class ValueTrie {
  private readonly root = new TrieNode();
  private nodes = 1;

  constructor(private readonly maxNodes: number) {}

  find(attrs: Attributes): Series | undefined {
    let node = this.root;
    for (const name in attrs) {
      if (node.name !== name) return undefined;
      const next = node.next.get(attrs[name]);
      if (next === undefined) return undefined;
      node = next;
    }
    return node.series;
  }

  insert(attrs: Attributes, series: Series): void {
    let node = this.root;
    for (const name in attrs) {
      const value = attrs[name];
      // Arrays would be keyed by identity: leave them to the canonical key.
      if (typeof value === "object" && value !== null) return;
      if (node.name === undefined) node.name = name;
      else if (node.name !== name) return;
      let next = node.next.get(value);
      if (next === undefined) {
        if (this.nodes >= this.maxNodes) return;
        next = new TrieNode();
        node.next.set(value, next);
        this.nodes++;
      }
      node = next;
    }
    node.series = series;
  }
}

/** The SDK's attribute hash (`hashAttributes` in sdk-metrics): sorted keys, then `JSON.stringify`. */
export function attributesKey(attrs: Attributes): string {
  const keys = Object.keys(attrs);
  if (keys.length === 0) return "";
  keys.sort();
  return JSON.stringify(keys.map((key) => [key, attrs[key]]));
}

/** A frozen copy (arrays copied too), so later changes to the caller's object cannot reach the SDK. */
function copyAttributes(attrs: Attributes): { attributes: Attributes; keyCount: number } {
  const copy: Record<string, AttributeValue | undefined> = {};
  let keyCount = 0;
  for (const key of Object.keys(attrs)) {
    const value = attrs[key];
    copy[key] = Array.isArray(value) ? (Object.freeze([...value]) as AttributeValue) : value;
    keyCount++;
  }
  return { attributes: Object.freeze(copy), keyCount };
}
