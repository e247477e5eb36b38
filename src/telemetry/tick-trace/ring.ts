/**
 * The shared memory between the trading thread and the tick-trace exporter worker: a
 * single-producer, single-consumer ring of variable-size records in one `SharedArrayBuffer`,
 * one record per traced tick. The trading thread writes a record (ids, monotonic timestamps,
 * interned string ids) and publishes it by advancing `head`; the worker reads published records
 * and frees them by advancing `tail`. Neither side ever waits on the other: a full ring makes
 * the writer skip the tick (counted as dropped), never block.
 *
 * A record takes only the room it uses (a tick of 14 spans about 1 KiB), so the ring's memory
 * is small and every record starts where the last one ended: a ring of fixed slots sized for
 * the largest tick made each tick touch a page of its own, and a traced tick cost about 0.3 µs
 * more on the trading thread.
 *
 * A second ring of the same layout carries finished client-call span trees (a ccxt unified call
 * and its HTTP attempts, one record per call, written when the call ends), so calls that
 * overlap never interleave with the tick record the tick tracer holds open.
 *
 * Layout (all little-endian, every offset a multiple of 8):
 * - control block, {@link CONTROL_BYTES}: `Int32` head and dropped ticks, then on a cache line of
 *   their own tail and dropped spans. Head and tail are running counts of words (wrapping at
 *   2^32; the capacity in words is a power of two);
 * - the records, each starting on a 64-byte line: a header of {@link HEADER_WORDS} `Uint32`
 *   words, then its span records of {@link SPAN_WORDS} words, then a byte area for strings that
 *   are not interned (order ids, error messages). The trading thread writes only the words a
 *   span uses (kind, flags, start, end; the rest under a flag), so a stage span is four stores.
 *   A writer claims room for the largest record ({@link TickRing.maxRecordWords}) at the start,
 *   writes strings after the largest span count, and when it finishes moves them to just after
 *   its last span; a record that would run past the end of the buffer starts at its beginning,
 *   after a {@link PAD} header that tells the reader to skip there.
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

/** Record header (Uint32 word offsets within the record). */
export const H_SPAN_COUNT = 0;
export const H_BYTES_USED = 1;
/** Four words of the trace id, most significant first. */
export const H_TRACE_ID = 2;
/** Two words of the root span's id (the only id the trading thread chooses: instrumentations parent onto it). */
export const H_ROOT_ID = 6;
/** Wall clock at monotonic 0 for this tick, as two Float64 values (word offset, 8-aligned). */
export const H_EPOCH_S = 8;
export const H_EPOCH_NS = 10;
/** Two words of record 0's parent span id, with {@link F_PARENT} on record 0 (call records; a tick has no parent). */
export const H_PARENT_ID = 12;
/** Words the record takes in the ring, itself included (a multiple of {@link LINE_WORDS}). */
export const H_RECORD_WORDS = 14;
export const HEADER_WORDS = 16;
/** {@link H_SPAN_COUNT} of a record that is not one: the rest of the buffer is skipped. */
export const PAD = 0xffffffff;
/** Records start on 64-byte lines (16 words): a span record is one line. */
export const LINE_WORDS = 16;

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
/** With {@link F_URL}: the URL (offset, length) in the record's byte area; the exception-type words, unused by call spans. */
export const S_URL = 6;

export interface RingSizing {
  /**
   * Bytes of records the ring holds: a power of two, at least twice the largest record. A
   * tick of 14 spans takes about 1 KiB.
   */
  bytes: number;
  /** Span records per record; a tick with more spans keeps the first ones and counts the rest as dropped. */
  maxSpans: number;
  /** Bytes per record for strings that are not interned; longer strings are cut. */
  stringBytes: number;
}

/** The tick ring: 1 MiB, about 900 ticks of the reference process (the worker reads it every 5 ms). */
export const DEFAULT_SIZING: RingSizing = { bytes: 1 << 20, maxSpans: 48, stringBytes: 1024 };

/** Words of the largest record for `sizing`, whole lines. */
export function maxRecordWords(sizing: RingSizing): number {
  return roundToLine(HEADER_WORDS + sizing.maxSpans * SPAN_WORDS + Math.ceil(sizing.stringBytes / 4));
}

function roundToLine(words: number): number {
  return Math.ceil(words / LINE_WORDS) * LINE_WORDS;
}

/** Views over one ring's `SharedArrayBuffer`, the same on both threads. */
export class TickRing {
  readonly buffer: SharedArrayBuffer;
  readonly sizing: RingSizing;
  /** Words of records the buffer holds (a power of two). */
  readonly capacityWords: number;
  /** Words a writer claims for one record (see {@link maxRecordWords}). */
  readonly maxRecordWords: number;
  /** head, tail and the drop counters. */
  readonly control: Int32Array;
  readonly words: Uint32Array;
  readonly floats: Float64Array;
  readonly bytes: Uint8Array;

  constructor(sizing: RingSizing, buffer?: SharedArrayBuffer) {
    if (!Number.isInteger(sizing.stringBytes) || sizing.stringBytes < 0)
      throw new RangeError(`ring stringBytes must be an integer >= 0 (got ${sizing.stringBytes})`);
    if (!Number.isInteger(sizing.maxSpans) || sizing.maxSpans < 1)
      throw new RangeError(`ring maxSpans must be an integer >= 1 (got ${sizing.maxSpans})`);
    const largest = maxRecordWords(sizing);
    if (
      !Number.isInteger(sizing.bytes) ||
      (sizing.bytes & (sizing.bytes - 1)) !== 0 ||
      sizing.bytes < 8 * largest ||
      sizing.bytes > 2 ** 30
    )
      throw new RangeError(
        `ring bytes must be a power of two of at least twice the largest record (${8 * largest}) and at most 2^30 (got ${sizing.bytes})`,
      );
    this.sizing = sizing;
    this.capacityWords = sizing.bytes / 4;
    this.maxRecordWords = largest;
    this.buffer = buffer ?? new SharedArrayBuffer(CONTROL_BYTES + sizing.bytes);
    this.control = new Int32Array(this.buffer, 0, CONTROL_BYTES / 4);
    this.words = new Uint32Array(this.buffer, CONTROL_BYTES);
    this.floats = new Float64Array(this.buffer, CONTROL_BYTES);
    this.bytes = new Uint8Array(this.buffer, CONTROL_BYTES);
  }

  /** Word offset (into {@link words}) of the record at running word count `seq`. */
  recordWord(seq: number): number {
    return seq & (this.capacityWords - 1);
  }

  /** Word offset of span record `index` in the record at word offset `record`. */
  spanWord(record: number, index: number): number {
    return record + HEADER_WORDS + index * SPAN_WORDS;
  }

  /** Byte offset (into {@link bytes}) of the string area of a finished record: after its last span. */
  stringArea(record: number): number {
    return (record + HEADER_WORDS + (this.words[record + H_SPAN_COUNT] ?? 0) * SPAN_WORDS) * 4;
  }

  /** Byte offset of the string area a writer fills while the record is open: after the most spans it may have. */
  openStringArea(record: number): number {
    return (record + HEADER_WORDS + this.sizing.maxSpans * SPAN_WORDS) * 4;
  }
}

/**
 * The writing side's count of one ring (a single writer per ring): claims room for a record,
 * finishes it, and publishes finished records to the reader. Pure bookkeeping over the shared
 * counters; the record's content is the writer's.
 */
export class RecordCursor {
  /** Running word count up to the end of the last finished record (this side is head's only writer). */
  private written: number;
  /** The shared head as last stored: what the reader may read. */
  private published: number;
  /** The reader's tail as last read (at most the shared one). */
  private tail: number;
  /** Running word count where the open record starts. */
  private start = 0;
  private readonly capacity: number;
  private readonly largest: number;

  constructor(private readonly ring: TickRing) {
    this.published = Atomics.load(ring.control, CONTROL_HEAD);
    this.written = this.published;
    this.tail = Atomics.load(ring.control, CONTROL_TAIL);
    this.capacity = ring.capacityWords;
    this.largest = ring.maxRecordWords;
  }

  /**
   * Claims room for a record; its word offset, or -1 when the ring is full (the caller counts
   * what it drops). A record that would run past the end of the buffer starts at its beginning.
   */
  open(): number {
    const capacity = this.capacity;
    const written = this.written;
    const at = written & (capacity - 1);
    const pad = at + this.largest > capacity ? capacity - at : 0;
    // The tail last read can only be behind (the reader frees room, never takes it back), which
    // under-counts the room: the shared tail is read again only when the ring looks full.
    if (((written + pad + this.largest - this.tail) | 0) > capacity) {
      this.tail = Atomics.load(this.ring.control, CONTROL_TAIL);
      if (((written + pad + this.largest - this.tail) | 0) > capacity) {
        // the reader is behind: let it see every finished record
        this.publish();
        return -1;
      }
    }
    if (pad === 0) {
      this.start = written;
      return at;
    }
    this.ring.words[at + H_SPAN_COUNT] = PAD;
    this.start = (written + pad) | 0;
    return 0;
  }

  /**
   * Ends the open record at word offset `record`: `spans` span records and `stringBytes` bytes
   * written at {@link TickRing.openStringArea}, which move to just after the last span. Not yet
   * readable: see {@link publish}.
   */
  finish(record: number, spans: number, stringBytes: number): void {
    const ring = this.ring;
    const words = ring.words;
    words[record + H_SPAN_COUNT] = spans;
    words[record + H_BYTES_USED] = stringBytes;
    const strings = (record + HEADER_WORDS + spans * SPAN_WORDS) * 4;
    if (stringBytes > 0) {
      const from = ring.openStringArea(record);
      if (from !== strings) ring.bytes.copyWithin(strings, from, from + stringBytes);
    }
    const used = roundToLine(strings / 4 + Math.ceil(stringBytes / 4) - record);
    words[record + H_RECORD_WORDS] = used;
    this.written = (this.start + used) | 0;
  }

  /** Finished records not yet readable, in words (what {@link publish} would make readable). */
  get unpublishedWords(): number {
    return (this.written - this.published) | 0;
  }

  /**
   * Makes every finished record readable: the reader loads head with Atomics, which orders
   * every store of those records before it.
   */
  publish(): void {
    if (this.written === this.published) return;
    this.published = this.written;
    Atomics.store(this.ring.control, CONTROL_HEAD, this.written);
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
