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
  /** Position in {@link SeriesTable.series}. */
  readonly index: number;
  /** Sum since the last fold (counters), or the last value (gauges). */
  value = 0;
  /** Recorded on since the last fold. */
  dirty = false;

  constructor(attributes: Attributes, index: number) {
    this.attributes = attributes;
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
 * Lookup: by the attribute values in the object's own key order, one `Map` lookup per attribute
 * (a {@link ValueTrie}; it reads the values on every call, so an object reused or mutated between
 * calls is always counted under what it holds now); else by the key the SDK uses (sorted keys,
 * `JSON.stringify`), so two attribute sets are one series here exactly when they are one series
 * in the SDK. (A `WeakMap` from the caller's object was measured too: its lookup plus the check
 * that the object was not changed cost more than the trie.)
 */
export class SeriesTable {
  /** Every series, the overflow series included once it exists. */
  readonly series: Series[] = [];
  private readonly limit: number;
  private readonly onOverflow: () => void;
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
    // Room for every admitted set of up to four attributes, or fewer sets in more than one key order.
    this.byValues = new ValueTrie(4 * limit);
  }

  /** Series that have their own attribute set (the overflow series not counted). */
  get size(): number {
    return this.byKey.size;
  }

  /** The series for `attributes`: the overflow series when the table is full and the set is new. */
  resolve(attributes: Attributes | undefined): Series {
    const attrs = attributes ?? NO_ATTRIBUTES;
    let series = this.byValues.find(attrs);
    if (series === undefined) {
      series = this.resolveByCanonicalKey(attrs);
      // Turned-away sets stay out of the trie, so a flood cannot grow it.
      if (series !== this.overflowSeries) this.byValues.insert(attrs, series);
    }
    return series;
  }

  private resolveByCanonicalKey(attrs: Attributes): Series {
    const key = attributesKey(attrs);
    let series = this.byKey.get(key);
    if (series === undefined) {
      if (this.byKey.size >= this.limit - 1) return this.overflow();
      series = new Series(copyAttributes(attrs), this.series.length);
      this.series.push(series);
      this.byKey.set(key, series);
    }
    return series;
  }

  private overflow(): Series {
    if (this.overflowSeries === undefined) {
      this.overflowSeries = new Series(OVERFLOW_ATTRIBUTES, this.series.length);
      this.series.push(this.overflowSeries);
      this.onOverflow();
    }
    return this.overflowSeries;
  }
}

/** One step of a {@link ValueTrie}: the key read here, and the nodes for each of its values. */
class TrieNode {
  /** The attribute key this node reads; set by the first attribute set inserted through it. */
  name: string | undefined = undefined;
  /** Created with the first child: most nodes are where a set ends. */
  next: Map<AttributeValue | undefined, TrieNode> | undefined = undefined;
  /** The series whose attribute set ends here. */
  series: Series | undefined = undefined;
}

/**
 * Attribute sets in their own key order, one `Map` lookup per attribute (values are `Map` keys,
 * so `1` and `"1"` stay apart as they do in the SDK): a fresh object built by the same code every
 * call is found without sorting or building a string. A node reads one key, fixed by the first
 * set inserted through it; a set written in another key order is not found here and takes the
 * canonical key. Holds at most `maxNodes` nodes; past that, sets are simply not inserted (and
 * are found by the canonical key instead).
 */
class ValueTrie {
  private readonly root = new TrieNode();
  private nodes = 1;

  constructor(private readonly maxNodes: number) {}

  find(attrs: Attributes): Series | undefined {
    let node = this.root;
    for (const name in attrs) {
      if (node.name !== name) return undefined;
      const next = node.next?.get(attrs[name]);
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
      // A plain-JS caller's null is typed out but possible: it is a scalar here.
      if (typeof value === "object" && (value as unknown) !== null) return;
      if (node.name === undefined) node.name = name;
      else if (node.name !== name) return;
      const children = (node.next ??= new Map<AttributeValue | undefined, TrieNode>());
      let next = children.get(value);
      if (next === undefined) {
        if (this.nodes >= this.maxNodes) return;
        next = new TrieNode();
        children.set(value, next);
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
function copyAttributes(attrs: Attributes): Attributes {
  const copy: Record<string, AttributeValue | undefined> = {};
  for (const key of Object.keys(attrs)) {
    const value = attrs[key];
    copy[key] = Array.isArray(value) ? (Object.freeze([...value]) as AttributeValue) : value;
  }
  return Object.freeze(copy);
}
