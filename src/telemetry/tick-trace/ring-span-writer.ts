import { TraceFlags, type Attributes, type SpanContext } from "@opentelemetry/api";
import type { Clock } from "../../clock.js";
import { RandomPool, takeRootIds, traceIdRatioBound, traceIdRatioValue } from "./ids.js";
import type { InternTable } from "./ring-tick-tracer.js";
import * as layout from "./ring.js";
import { putUtf8, RecordCursor, type TickRing } from "./ring.js";
import { EpochBase, type StageKind } from "./tick-tracer.js";

// Layout offsets as module-local constants (see ring-tick-tracer.ts: an import's member would be
// a property load per access under tsx/esbuild).
const {
  CONTROL_DROPPED_SPANS,
  F_CHILD,
  F_ERROR,
  F_PARENT,
  F_RAW_ATTRIBUTES,
  F_URL,
  H_EPOCH_NS,
  H_EPOCH_S,
  H_PARENT_ID,
  H_ROOT_ID,
  H_TRACE_ID,
  HEADER_WORDS,
  S_END,
  S_EXTRA_VALUE,
  S_FLAGS,
  S_KIND,
  S_START,
  S_STATUS_MESSAGE,
  S_URL,
  SPAN_WORDS,
} = layout;

/** OTLP `Span.kind` CLIENT. */
export const SPAN_KIND_CLIENT = 3;

const SAMPLED: number = TraceFlags.SAMPLED;

/**
 * A span's ids as {@link RingSpanWriter.assign} chose them at the span's start, kept by the
 * span's owner (a ccxt call) until its tree is written: the trace id and span id as the ring's
 * words and as hex (for the span context instrumentations parent onto), and the parent's span
 * id when there is one.
 */
export interface RingSpanIds {
  sampled: boolean;
  traceId: string;
  spanId: string;
  t0: number;
  t1: number;
  t2: number;
  t3: number;
  s0: number;
  s1: number;
  hasParent: boolean;
  p0: number;
  p1: number;
}

/** A KeyValue's `key` field, encoded once per attribute name (names under 128 bytes). */
export function attributeKey(name: string): Uint8Array {
  const bytes = Buffer.from(name, "utf8");
  if (bytes.length > 127) throw new RangeError(`attribute key too long: ${name}`);
  const field = new Uint8Array(bytes.length + 2);
  field[0] = 0x0a;
  field[1] = bytes.length;
  field.set(bytes, 2);
  return field;
}

function varintSize(value: number): number {
  let size = 1;
  for (let v = value; v > 0x7f; v = Math.floor(v / 128)) size++;
  return size;
}

/** A 32-bit word whose little-endian bytes are the 8 hex digits at `at` of `hex`. */
function wordOfHex(hex: string, at: number): number {
  const be = parseInt(hex.slice(at, at + 8), 16);
  return (((be & 0xff) << 24) | ((be & 0xff00) << 8) | ((be >>> 8) & 0xff00) | (be >>> 24)) >>> 0;
}

export interface RingSpanWriterOptions {
  ring: TickRing;
  interns: InternTable;
  clock: Clock;
  /** The root sampler's ratio (`telemetry.traces.sampling_ratio`), applied as the SDK's TraceIdRatioBased sampler does. */
  samplingRatio: number;
}

/**
 * Finished client-call span trees into a ring of their own, read and exported by the tick-trace
 * exporter worker: one record per tree, written in one go when the call ends (`begin`, `record`
 * and its attributes for each span, `commit`), so calls that overlap never hold a record open.
 * Record 0 is the call (its id chosen at the call's start, since the call's context carries
 * it; its parent, if any, in the header); the other records are its children, whose ids the
 * worker chooses. Attributes that are not interned with the span's kind are written as encoded
 * protobuf into the record's byte area. A full ring drops the tree and counts it in the ring's
 * dropped-ticks counter; nothing waits. Not for `http/json` export (the worker copies the
 * encoded attributes into protobuf only).
 */
export class RingSpanWriter {
  private readonly ring: TickRing;
  private readonly words: Uint32Array;
  private readonly floats: Float64Array;
  private readonly bytes: Uint8Array;
  private readonly interns: InternTable;
  private readonly ids = new RandomPool();
  private readonly epoch: EpochBase;
  private readonly upperBound: number;
  private readonly stringEnd: number;
  private readonly scratch = new Float64Array(1);
  private readonly scratchBytes = new Uint8Array(this.scratch.buffer);
  private readonly cursor: RecordCursor;
  /** Word offset of the ring record being written (a call's span tree). */
  private recordAt = 0;
  private next = 0;
  private end = 0;
  private stringBase = 0;
  private bytesUsed = 0;
  /** Word offset of the span record being written, or -1 when it did not fit (its attributes are skipped). */
  private spanAt = -1;
  /** Byte offset (in the string area) where the record's encoded attributes began, or -1. */
  private rawAt = -1;
  /** Whether record 0 has a parent (the header's), and whether record 0 is written yet. */
  private rootHasParent = false;
  private rootWritten = false;

  constructor(options: RingSpanWriterOptions) {
    this.ring = options.ring;
    this.words = options.ring.words;
    this.floats = options.ring.floats;
    this.bytes = options.ring.bytes;
    this.interns = options.interns;
    this.epoch = new EpochBase(options.clock);
    this.upperBound = traceIdRatioBound(options.samplingRatio);
    this.stringEnd = options.ring.sizing.stringBytes;
    this.cursor = new RecordCursor(options.ring);
  }

  /** A CLIENT span kind: its name and fixed attributes, sent to the worker once. */
  kind(name: string, attributes: Attributes | undefined): StageKind {
    return this.interns.kind(name, attributes, undefined, SPAN_KIND_CLIENT);
  }

  /**
   * Chooses the ids of a span starting under `parent` (a valid span context, or undefined for a
   * root), and whether it is sampled: the parent's flag, or for a root the SDK's
   * `TraceIdRatioBased` decision on the new trace id. `parentIds`: the parent's own
   * {@link RingSpanIds} when it has them (no hex to parse).
   */
  assign(target: RingSpanIds, parent: SpanContext | undefined, parentIds?: RingSpanIds): void {
    const ids = this.ids;
    if (parent === undefined) {
      const at = takeRootIds(ids);
      const pool = ids.words;
      const t0 = pool[at] ?? 0;
      const t1 = pool[at + 1] ?? 0;
      const t2 = pool[at + 2] ?? 0;
      const t3 = pool[at + 3] ?? 0;
      target.t0 = t0;
      target.t1 = t1;
      target.t2 = t2;
      target.t3 = t3;
      target.s0 = pool[at + 4] ?? 0;
      target.s1 = pool[at + 5] ?? 0;
      target.hasParent = false;
      target.traceId = ids.hex.slice(at * 8, at * 8 + 32);
      target.spanId = ids.hex.slice(at * 8 + 32, at * 8 + 48);
      target.sampled = traceIdRatioValue(t0, t1, t2, t3) < this.upperBound;
      return;
    }
    let at = ids.take(2);
    let pool = ids.words;
    if (((pool[at] ?? 0) | (pool[at + 1] ?? 0)) === 0) {
      at = ids.take(2);
      pool = ids.words;
    }
    target.s0 = pool[at] ?? 0;
    target.s1 = pool[at + 1] ?? 0;
    target.spanId = ids.hex.slice(at * 8, at * 8 + 16);
    target.traceId = parent.traceId;
    target.hasParent = true;
    target.sampled = (parent.traceFlags & SAMPLED) === SAMPLED;
    if (!target.sampled) return;
    if (parentIds !== undefined) {
      target.t0 = parentIds.t0;
      target.t1 = parentIds.t1;
      target.t2 = parentIds.t2;
      target.t3 = parentIds.t3;
      target.p0 = parentIds.s0;
      target.p1 = parentIds.s1;
      return;
    }
    const traceId = parent.traceId;
    target.t0 = wordOfHex(traceId, 0);
    target.t1 = wordOfHex(traceId, 8);
    target.t2 = wordOfHex(traceId, 16);
    target.t3 = wordOfHex(traceId, 24);
    target.p0 = wordOfHex(parent.spanId, 0);
    target.p1 = wordOfHex(parent.spanId, 8);
  }

  /**
   * Claims room for a record for the tree of `span` (`spans` spans in all) and writes its header; false
   * (the spans counted as dropped) when the ring is full. `nowMs`: the monotonic time now (the
   * record's wall-clock offset is re-read at most once a second). `under`: record 0 is not `span` itself
   * but a child of it (an attempt that ended after its call was written), with an id of its own.
   */
  begin(span: RingSpanIds, spans: number, nowMs: number, under = false): boolean {
    const ring = this.ring;
    const recordAt = this.cursor.open();
    if (recordAt === -1) {
      Atomics.add(ring.control, CONTROL_DROPPED_SPANS, spans);
      return false;
    }
    this.recordAt = recordAt;
    this.next = recordAt + HEADER_WORDS;
    this.end = recordAt + HEADER_WORDS + ring.sizing.maxSpans * SPAN_WORDS;
    this.bytesUsed = 0;
    this.stringBase = ring.openStringArea(recordAt);
    this.spanAt = -1;
    this.rawAt = -1;
    this.epoch.refresh(nowMs);
    const words = this.words;
    words[recordAt + H_TRACE_ID] = span.t0;
    words[recordAt + H_TRACE_ID + 1] = span.t1;
    words[recordAt + H_TRACE_ID + 2] = span.t2;
    words[recordAt + H_TRACE_ID + 3] = span.t3;
    if (under) {
      let at = this.ids.take(2);
      let pool = this.ids.words;
      if (((pool[at] ?? 0) | (pool[at + 1] ?? 0)) === 0) {
        at = this.ids.take(2);
        pool = this.ids.words;
      }
      words[recordAt + H_ROOT_ID] = pool[at] ?? 0;
      words[recordAt + H_ROOT_ID + 1] = pool[at + 1] ?? 0;
      words[recordAt + H_PARENT_ID] = span.s0;
      words[recordAt + H_PARENT_ID + 1] = span.s1;
    } else {
      words[recordAt + H_ROOT_ID] = span.s0;
      words[recordAt + H_ROOT_ID + 1] = span.s1;
      words[recordAt + H_PARENT_ID] = span.p0;
      words[recordAt + H_PARENT_ID + 1] = span.p1;
    }
    this.rootHasParent = under || span.hasParent;
    this.rootWritten = false;
    this.floats[(recordAt + H_EPOCH_S) >> 1] = this.epoch.s;
    this.floats[(recordAt + H_EPOCH_NS) >> 1] = this.epoch.ns;
    return true;
  }

  /**
   * Starts the next span record (the first is the record's root, the others its children), with
   * monotonic start and end in milliseconds. Attributes and status written next belong to it.
   */
  span(kind: StageKind, startMs: number, endMs: number): void {
    this.closeRaw();
    const at = this.next;
    if (at >= this.end) {
      this.spanAt = -1;
      Atomics.add(this.ring.control, CONTROL_DROPPED_SPANS, 1);
      return;
    }
    this.next = at + SPAN_WORDS;
    this.spanAt = at;
    const words = this.words;
    words[at + S_KIND] = kind.id;
    words[at + S_FLAGS] = this.rootWritten ? F_CHILD : this.rootHasParent ? F_PARENT : 0;
    this.rootWritten = true;
    this.floats[(at + S_START) >> 1] = startMs;
    this.floats[(at + S_END) >> 1] = endMs;
  }

  /** A string attribute of the current span (skipped when the record's byte area is full). */
  string(key: Uint8Array, value: string): void {
    if (this.spanAt === -1) return;
    // One pass for ASCII (URLs, symbols, class names): the lengths assume one byte per
    // character, and a character that is not ASCII starts the field again with its UTF-8 length.
    if (this.put(key, value, value.length, true)) return;
    this.put(key, value, Buffer.byteLength(value, "utf8"), false);
  }

  /** Writes a string attribute of `n` bytes; false when `ascii` was assumed and is not so. */
  private put(key: Uint8Array, value: string, n: number, ascii: boolean): boolean {
    const anyLength = 1 + varintSize(n) + n;
    const kvLength = key.length + 1 + varintSize(anyLength) + anyLength;
    const p0 = this.open(1 + varintSize(kvLength) + kvLength);
    if (p0 === -1) return true; // no room: the attribute is left out
    const b = this.bytes;
    let p = this.putField(p0, key, kvLength, anyLength);
    b[p++] = 0x0a; // AnyValue.string_value
    p = putVarint(b, p, n);
    if (ascii) {
      for (let i = 0; i < n; i++) {
        const c = value.charCodeAt(i);
        if (c >= 0x80) return false;
        b[p + i] = c;
      }
    } else {
      putUtf8(b, p, value, n);
    }
    this.bytesUsed = p + n - this.stringBase;
    return true;
  }

  /**
   * A number attribute of the current span, encoded as the SDK's OTLP exporters encode one: an
   * integer as `int_value`, anything else as `double_value`.
   */
  number(key: Uint8Array, value: number): void {
    if (this.spanAt === -1) return;
    const integer = Number.isSafeInteger(value) && value >= 0;
    const anyLength = integer ? 1 + varintSize(value) : 9;
    const kvLength = key.length + 1 + varintSize(anyLength) + anyLength;
    const p0 = this.open(1 + varintSize(kvLength) + kvLength);
    if (p0 === -1) return;
    const b = this.bytes;
    let p = this.putField(p0, key, kvLength, anyLength);
    if (integer) {
      b[p++] = 0x18; // AnyValue.int_value
      p = putVarint(b, p, value);
    } else {
      b[p++] = 0x21; // AnyValue.double_value
      this.scratch[0] = value;
      for (let i = 0; i < 8; i++) b[p + i] = this.scratchBytes[i] ?? 0;
      p += 8;
    }
    this.bytesUsed = p - this.stringBase;
  }

  /**
   * The current span's request URL as it was sent, after its other attributes: the worker
   * redacts it and adds it as `url.full`. A URL that does not fit is left out, never cut (a
   * cut could end inside a signature the redaction would then not recognise).
   */
  url(value: string): void {
    const at = this.spanAt;
    if (at === -1) return;
    this.closeRaw();
    const start = this.bytesUsed;
    const n = Buffer.byteLength(value, "utf8");
    if (start + n > this.stringEnd) return;
    putUtf8(this.bytes, this.stringBase + start, value, n);
    const words = this.words;
    words[at + S_URL] = start;
    words[at + S_URL + 1] = n;
    words[at + S_FLAGS] = (words[at + S_FLAGS] ?? 0) | F_URL;
    this.bytesUsed = start + n;
  }

  /** Ends the current span's attributes with an ERROR status and `message`. */
  error(message: string): void {
    const at = this.spanAt;
    if (at === -1) return;
    this.closeRaw();
    const words = this.words;
    words[at + S_FLAGS] = (words[at + S_FLAGS] ?? 0) | F_ERROR;
    const bytes = this.bytes;
    const start = this.bytesUsed;
    const room = this.stringEnd - start;
    const n = message.length < room ? message.length : room;
    let written = 0;
    for (; written < n; written++) {
      const c = message.charCodeAt(written);
      if (c >= 0x80) break; // error type names are ASCII; anything else is cut here
      bytes[this.stringBase + start + written] = c;
    }
    words[at + S_STATUS_MESSAGE] = start;
    words[at + S_STATUS_MESSAGE + 1] = written;
    this.bytesUsed = start + written;
  }

  /** Finishes the record and publishes it. */
  commit(): void {
    this.closeRaw();
    const first = this.recordAt + HEADER_WORDS;
    this.cursor.finish(this.recordAt, (this.next - first) / SPAN_WORDS, this.bytesUsed);
    this.cursor.publish();
  }

  /** Absolute byte offset where `length` more bytes of the current span's attributes go, or -1. */
  private open(length: number): number {
    if (this.bytesUsed + length > this.stringEnd) return -1;
    if (this.rawAt === -1) this.rawAt = this.bytesUsed;
    return this.stringBase + this.bytesUsed;
  }

  /** Writes `Span.attributes` tag, KeyValue length, the key and the AnyValue's tag and length. */
  private putField(p0: number, key: Uint8Array, kvLength: number, anyLength: number): number {
    const b = this.bytes;
    let p = p0;
    b[p++] = 0x4a; // Span.attributes
    p = putVarint(b, p, kvLength);
    for (let i = 0; i < key.length; i++) b[p + i] = key[i] ?? 0;
    p += key.length;
    b[p++] = 0x12; // KeyValue.value
    return putVarint(b, p, anyLength);
  }

  private closeRaw(): void {
    const at = this.spanAt;
    const rawAt = this.rawAt;
    if (rawAt === -1 || at === -1) return;
    this.rawAt = -1;
    const words = this.words;
    words[at + S_EXTRA_VALUE] = rawAt;
    words[at + S_EXTRA_VALUE + 1] = this.bytesUsed - rawAt;
    words[at + S_FLAGS] = (words[at + S_FLAGS] ?? 0) | F_RAW_ATTRIBUTES;
  }
}

function putVarint(b: Uint8Array, p: number, value: number): number {
  let v = value;
  let at = p;
  while (v > 0x7f) {
    b[at++] = v % 128 | 0x80;
    v = Math.floor(v / 128);
  }
  b[at++] = v;
  return at;
}
