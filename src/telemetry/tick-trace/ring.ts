/**
 * The shared memory between the trading thread and the tick-trace exporter worker: a
 * single-producer, single-consumer ring of fixed-size slots in one `SharedArrayBuffer`, one slot
 * per traced tick. The trading thread writes a slot (ids, monotonic timestamps, interned string
 * ids) and publishes it by advancing `head`; the worker reads published slots and frees them by
 * advancing `tail`. Neither side ever waits on the other: a full ring makes the writer skip the
 * tick (counted as dropped), never block.
 *
 * A second ring of the same layout carries finished client-call span trees (a ccxt unified call
 * and its HTTP attempts, one slot per call, written when the call ends), so calls that overlap
 * never interleave with the tick slot the tick tracer holds open.
 *
 * Layout (all little-endian, every offset a multiple of 8):
 * - control block, {@link CONTROL_BYTES}: `Int32` head and dropped ticks, then on a cache line of
 *   their own tail and dropped spans;
 * - `slots` slots of {@link slotBytes}: a header of {@link HEADER_WORDS} `Uint32` words, then
 *   `maxSpans` span records of {@link SPAN_WORDS} words, then a byte area for strings that are
 *   not interned (order ids, error messages). The trading thread writes only the words a span
 *   uses (kind, flags, start, end; the rest under a flag), so a stage span is four stores.
 */

/**
 * Control words (Int32 indexes), in two 64-byte cache lines by writer: head and the dropped
 * ticks (the trading thread) apart from tail and the dropped spans (mostly the worker). In one
 * line, every tail the worker stored while draining took the line from the trading thread's
 * core, and its next head store had to fetch it back.
 */
export const CONTROL_HEAD = 0;
export const CONTROL_DROPPED_TICKS = 1;
export const CONTROL_TAIL = 16;
export const CONTROL_DROPPED_SPANS = 17;
export const CONTROL_BYTES = 128;

/** Slot header (Uint32 word offsets within the slot). */
export const H_SPAN_COUNT = 0;
export const H_BYTES_USED = 1;
/** Four words of the trace id, most significant first. */
export const H_TRACE_ID = 2;
/** Two words of the root span's id (the only id the trading thread chooses: instrumentations parent onto it). */
export const H_ROOT_ID = 6;
/** Wall clock at monotonic 0 for this tick, as two Float64 values (word offset, 8-aligned). */
export const H_EPOCH_S = 8;
export const H_EPOCH_NS = 10;
/** Two words of record 0's parent span id, with {@link F_PARENT} on record 0 (call slots; a tick has no parent). */
export const H_PARENT_ID = 12;
export const HEADER_WORDS = 14;

/**
 * Span record (Uint32 word offsets within the record). Record 0 is the tick's root. Stage spans
 * carry no id: no instrumented span is their child, so the worker chooses their ids.
 */
/** Interned span kind (name, fixed attributes, extra key), see `StageKind`. */
export const S_KIND = 0;
export const S_FLAGS = 1;
/** The kind's extra attribute value (with {@link F_EXTRA}): a byte-area string (offset, length). */
export const S_EXTRA_VALUE = 2;
/** With {@link F_ERROR}: status message; with {@link F_EXCEPTION}: the event's type, message, stack. */
export const S_STATUS_MESSAGE = 4; // offset, length
export const S_EXCEPTION_TYPE = 6; // offset, length
export const S_EXCEPTION_MESSAGE = 8; // offset, length
export const S_EXCEPTION_STACK = 10; // offset, length
/** Start and end, monotonic milliseconds, as Float64 (word offsets, 8-aligned). */
export const S_START = 12;
export const S_END = 14;
export const SPAN_WORDS = 16;

/** Span flags. */
export const F_CHILD = 1; // parent is the tick's root span (record 0)
export const F_ERROR = 2; // status ERROR with S_STATUS_MESSAGE
export const F_EXCEPTION = 4; // one `exception` event at the span's end
export const F_EXTRA = 8; // S_EXTRA_VALUE holds the kind's extra attribute
export const F_PARENT = 16; // record 0 only: its parent is the header's H_PARENT_ID
/**
 * S_EXTRA_VALUE holds the span's further attributes already encoded as protobuf `Span.attributes`
 * fields (tag, length, KeyValue each), copied as they are into the OTLP/protobuf span. Written
 * by the call-span writer (`ring-span-writer.ts`), whose kinds have no extra key.
 */
export const F_RAW_ATTRIBUTES = 32;
/**
 * {@link S_URL} holds a request URL as it was sent, which the worker redacts (query values of
 * signatures and keys, credentials) and adds as `url.full`: the redaction, a split and join of
 * the query for a signed request, runs off the writing thread. The unredacted URL never leaves
 * the process's shared memory. Call spans only (they have no exception event).
 */
export const F_URL = 64;
/** With {@link F_URL}: the URL (offset, length) in the slot's byte area; the exception-type words, unused by call spans. */
export const S_URL = 6;

export interface RingSizing {
  /** Slots (ticks) the ring holds; a power of two (slot numbers wrap at 2^32). */
  slots: number;
  /** Span records per slot; a tick with more spans keeps the first ones and counts the rest as dropped. */
  maxSpans: number;
  /** Bytes per slot for strings that are not interned; longer strings are cut. */
  stringBytes: number;
}

export const DEFAULT_SIZING: RingSizing = { slots: 1024, maxSpans: 48, stringBytes: 1024 };

/** Bytes of one slot for `sizing`, a multiple of 8. */
export function slotBytes(sizing: RingSizing): number {
  const raw = (HEADER_WORDS + sizing.maxSpans * SPAN_WORDS) * 4 + sizing.stringBytes;
  return Math.ceil(raw / 8) * 8;
}

/** Views over one ring's `SharedArrayBuffer`, the same on both threads. */
export class TickRing {
  readonly buffer: SharedArrayBuffer;
  readonly sizing: RingSizing;
  readonly slotBytes: number;
  readonly slotWords: number;
  /** head, tail and the drop counters. */
  readonly control: Int32Array;
  readonly words: Uint32Array;
  readonly floats: Float64Array;
  readonly bytes: Uint8Array;

  constructor(sizing: RingSizing, buffer?: SharedArrayBuffer) {
    if (!Number.isInteger(sizing.slots) || sizing.slots < 2 || (sizing.slots & (sizing.slots - 1)) !== 0)
      throw new RangeError(`ring slots must be a power of two >= 2 (got ${sizing.slots})`);
    if (!Number.isInteger(sizing.stringBytes) || sizing.stringBytes < 0)
      throw new RangeError(`ring stringBytes must be an integer >= 0 (got ${sizing.stringBytes})`);
    if (!Number.isInteger(sizing.maxSpans) || sizing.maxSpans < 1)
      throw new RangeError(`ring maxSpans must be an integer >= 1 (got ${sizing.maxSpans})`);
    this.sizing = sizing;
    this.slotBytes = slotBytes(sizing);
    this.slotWords = this.slotBytes / 4;
    this.buffer = buffer ?? new SharedArrayBuffer(CONTROL_BYTES + sizing.slots * this.slotBytes);
    this.control = new Int32Array(this.buffer, 0, CONTROL_BYTES / 4);
    this.words = new Uint32Array(this.buffer, CONTROL_BYTES);
    this.floats = new Float64Array(this.buffer, CONTROL_BYTES);
    this.bytes = new Uint8Array(this.buffer, CONTROL_BYTES);
  }

  /** Word offset (into {@link words}) of slot number `seq` (a running count, wrapped here). */
  slotWord(seq: number): number {
    return (seq & (this.sizing.slots - 1)) * this.slotWords;
  }

  /** Word offset of span record `index` in the slot at word offset `slot`. */
  spanWord(slot: number, index: number): number {
    return slot + HEADER_WORDS + index * SPAN_WORDS;
  }

  /** Byte offset (into {@link bytes}) of the string area of the slot at word offset `slot`. */
  stringArea(slot: number): number {
    return (slot + HEADER_WORDS + this.sizing.maxSpans * SPAN_WORDS) * 4;
  }
}

const utf8 = new TextEncoder();

/**
 * Copies `value` as UTF-8 into `bytes` at `at`, at most `room` bytes, cut at a character
 * boundary; returns the bytes written. ASCII (ids, names, URLs: the usual case) is copied by
 * hand, without allocating; from the first other character on, one shared `TextEncoder` does it.
 */
export function putUtf8(bytes: Uint8Array, at: number, value: string, room: number): number {
  const n = value.length < room ? value.length : room;
  let i = 0;
  for (; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c >= 0x80) break;
    bytes[at + i] = c;
  }
  if (i === n) return i;
  return i + utf8.encodeInto(value.slice(i), bytes.subarray(at + i, at + room)).written;
}
