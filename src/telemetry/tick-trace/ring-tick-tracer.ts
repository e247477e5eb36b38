import { ROOT_CONTEXT, trace, TraceFlags, type Attributes, type Context } from "@opentelemetry/api";
import type { Clock } from "../../clock.js";
import { describeError } from "../../errors.js";
import { InertSpan } from "./inert-span.js";
import { RandomPool, takeRootIds, traceIdRatioBound, traceIdRatioValue } from "./ids.js";
import * as layout from "./ring.js";
import { putUtf8, RecordCursor, type TickRing } from "./ring.js";
import {
  EpochBase,
  exceptionAttributes,
  isRecordableException,
  type StageKind,
  type TickTracer,
} from "./tick-tracer.js";

// Layout offsets as module-local constants: read through the import, each would be a
// property load (a getter call under tsx/esbuild) on every ring access instead of a literal.
const {
  CONTROL_DROPPED_SPANS,
  CONTROL_DROPPED_TICKS,
  F_CHILD,
  F_ERROR,
  F_EXCEPTION,
  F_EXTRA,
  H_EPOCH_NS,
  H_EPOCH_S,
  H_ROOT_ID,
  H_TRACE_ID,
  HEADER_WORDS,
  S_END,
  S_EXCEPTION_MESSAGE,
  S_EXCEPTION_STACK,
  S_EXCEPTION_TYPE,
  S_EXTRA_VALUE,
  S_FLAGS,
  S_KIND,
  S_START,
  S_STATUS_MESSAGE,
  SPAN_WORDS,
} = layout;

/** Trace flags as literals (an import's member would be a getter call per tick under tsx). */
const SAMPLED: number = TraceFlags.SAMPLED;
const NOT_SAMPLED: number = TraceFlags.NONE;

/** The API's key of the active span (`createContextKey` is `Symbol.for` of its description). */
const SPAN_KEY = Symbol.for("OpenTelemetry Context Key SPAN");

/**
 * The tick's root as instrumentations see it, in one object per tick: the context (its only
 * value is the active span), the non-recording span, and that span's context. Three objects
 * (the API's context map, `NonRecordingSpan`, a span context) would cost three allocations per
 * tick; the ids are already hex (slices of the id pool's hex). Deriving a context from it
 * (`setValue`) returns an ordinary API context.
 */
class TickRoot extends InertSpan implements Context {
  constructor(
    readonly traceId: string,
    readonly spanId: string,
    readonly traceFlags: number,
  ) {
    super();
  }
  getValue(key: symbol): unknown {
    return key === SPAN_KEY ? this : undefined;
  }
  setValue(key: symbol, value: unknown): Context {
    return ROOT_CONTEXT.setValue(SPAN_KEY, this).setValue(key, value);
  }
  deleteValue(key: symbol): Context {
    return key === SPAN_KEY ? ROOT_CONTEXT : ROOT_CONTEXT.setValue(SPAN_KEY, this);
  }
}

/** Whether this API version finds the span in a {@link TickRoot}; else the API's own context is used. */
const TICK_CONTEXT_WORKS = (() => {
  const root = new TickRoot("0".repeat(31) + "1", "0".repeat(15) + "1", 0);
  return trace.getSpan(root) === root && trace.getSpanContext(root)?.spanId === root.spanId;
})();

/** A span kind as the worker learns it, sent before the first record that uses it is published. */
export interface InternMessage {
  kind: "kind";
  id: number;
  name: string;
  attributes: Attributes | undefined;
  extraKey: string | undefined;
  /** OTLP `Span.kind`: 1 INTERNAL (tick stages, the default), 3 CLIENT (exchange calls). */
  spanKind?: number;
}

/**
 * Span kinds known by a small integer on both threads. A kind is created once per call site
 * (see `TickTracer.kind`), so the tick path looks nothing up.
 */
export class InternTable {
  private next = 1;

  /** `send` delivers each new kind to the worker (a `MessagePort`'s `postMessage`). */
  constructor(private readonly send: (message: InternMessage) => void) {}

  kind(
    name: string,
    attributes: Attributes | undefined,
    extraKey: string | undefined,
    spanKind?: number,
  ): StageKind {
    const id = this.next++;
    // A copy: the worker encodes the attributes once, and the caller's object stays its own.
    const message: InternMessage = {
      kind: "kind",
      id,
      name,
      attributes: attributes ? { ...attributes } : undefined,
      extraKey,
    };
    if (spanKind !== undefined) message.spanKind = spanKind;
    this.send(message);
    return { name, attributes, extraKey, id };
  }
}

export interface RingTickTracerOptions {
  ring: TickRing;
  interns: InternTable;
  clock: Clock;
  /** The root sampler's ratio (`telemetry.traces.sampling_ratio`), applied as the SDK's TraceIdRatioBased sampler does. */
  samplingRatio: number;
}

/**
 * The trading thread's side of worker tick tracing. A tick costs six words from the id pool
 * (trace id and root span id, with their hex as slices of the pool's), one small object (the
 * root context instrumentations parent onto), and per stage span four stores into a
 * record in the preallocated ring: its kind, flags, start and end. Stage spans get their ids in the
 * worker (nothing on this thread parents onto them). No span object, attribute copy or batch
 * exists on this thread.
 *
 * Sampling follows the SDK's `ParentBased(TraceIdRatioBased)` root decision on the same trace
 * id bits, so a ratio keeps the same ticks either way. A sampled tick that finds the ring full
 * is not traced (its context is unsampled, so its HTTP spans are dropped too) and counted in
 * the ring's dropped-ticks counter; the tick itself is never delayed.
 *
 * Finished ticks reach the worker in steps of about 16; the owner calls {@link publish} on a
 * timer and before a flush.
 */
export class RingTickTracer implements TickTracer {
  sampled = false;
  context: Context = ROOT_CONTEXT;
  traceId = "";
  private readonly ring: TickRing;
  private readonly words: Uint32Array;
  private readonly floats: Float64Array;
  private readonly interns: InternTable;
  private readonly ids = new RandomPool();
  private readonly epoch: EpochBase;
  private readonly upperBound: number;
  private readonly maxSpans: number;
  private readonly stringEnd: number;
  private readonly cursor: RecordCursor;
  /** Word offset of the record being written. */
  private recordAt = 0;
  /** Word offset of the next span record in it. */
  private next = 0;
  /** Word offset one past the record's last possible span record. */
  private end = 0;
  /** Finished words that are published at once (see {@link endTick}): about 16 ticks. */
  private readonly publishWords: number;
  private bytesUsed = 0;
  private stringBase = 0;

  constructor(options: RingTickTracerOptions) {
    this.ring = options.ring;
    this.words = options.ring.words;
    this.floats = options.ring.floats;
    this.interns = options.interns;
    this.epoch = new EpochBase(options.clock);
    this.upperBound = traceIdRatioBound(options.samplingRatio);
    this.maxSpans = options.ring.sizing.maxSpans;
    this.stringEnd = options.ring.sizing.stringBytes;
    this.cursor = new RecordCursor(options.ring);
    this.publishWords = options.ring.capacityWords >> 6;
  }

  kind(name: string, attributes: Attributes | undefined, extraKey?: string): StageKind {
    return this.interns.kind(name, attributes, extraKey);
  }

  startTick(startMs: number, root: StageKind): void {
    this.epoch.refresh(startMs);
    const ids = this.ids;
    const at = takeRootIds(ids);
    const pool = ids.words;
    const t0 = pool[at] ?? 0;
    const t1 = pool[at + 1] ?? 0;
    const t2 = pool[at + 2] ?? 0;
    const t3 = pool[at + 3] ?? 0;
    const hex = ids.hex;
    const traceId = hex.slice(at * 8, at * 8 + 32);
    this.traceId = traceId;
    let sampled = traceIdRatioValue(t0, t1, t2, t3) < this.upperBound;
    if (sampled) sampled = this.openRecord(t0, t1, t2, t3, pool[at + 4] ?? 0, pool[at + 5] ?? 0);
    this.sampled = sampled;
    if (sampled) {
      const r = this.next;
      this.next = r + SPAN_WORDS;
      const words = this.words;
      words[r + S_KIND] = root.id;
      words[r + S_FLAGS] = 0;
      this.floats[(r + S_START) >> 1] = startMs;
    }
    const spanId = hex.slice(at * 8 + 32, at * 8 + 48);
    const flags = sampled ? SAMPLED : NOT_SAMPLED;
    const tickRoot = new TickRoot(traceId, spanId, flags);
    this.context = TICK_CONTEXT_WORKS
      ? tickRoot
      : trace.setSpan(ROOT_CONTEXT, trace.wrapSpanContext({ traceId, spanId, traceFlags: flags }));
  }

  span(
    kind: StageKind,
    stamps: Float64Array,
    start: number,
    end: number,
    extraValue?: string,
    error?: unknown,
  ): void {
    if (!this.sampled) return;
    const at = this.next;
    if (at >= this.end) {
      Atomics.add(this.ring.control, CONTROL_DROPPED_SPANS, 1);
      return;
    }
    this.next = at + SPAN_WORDS;
    const words = this.words;
    const floats = this.floats;
    words[at + S_KIND] = kind.id;
    floats[(at + S_START) >> 1] = stamps[start] ?? 0;
    floats[(at + S_END) >> 1] = stamps[end] ?? 0;
    if (extraValue === undefined && error === undefined) {
      words[at + S_FLAGS] = F_CHILD;
      return;
    }
    words[at + S_FLAGS] = F_CHILD;
    if (extraValue !== undefined && kind.extraKey !== undefined) {
      words[at + S_FLAGS] = F_CHILD | F_EXTRA;
      this.writeString(at + S_EXTRA_VALUE, extraValue);
    }
    if (error !== undefined) this.writeError(at, error);
  }

  endTick(endMs: number, outcome: string, error?: unknown): void {
    if (!this.sampled) return;
    this.sampled = false;
    const words = this.words;
    const root = this.recordAt + HEADER_WORDS;
    this.floats[(root + S_END) >> 1] = endMs;
    words[root + S_FLAGS] = F_EXTRA;
    this.writeString(root + S_EXTRA_VALUE, outcome);
    if (error !== undefined) this.writeError(root, error);
    const cursor = this.cursor;
    cursor.finish(this.recordAt, (this.next - root) / SPAN_WORDS, this.bytesUsed);
    // Published in steps (see publish): a head store is sequentially consistent, so it waits
    // until every store of the record has reached the cache, in lines the worker read last;
    // one store per 16 ticks took about 0.07 µs off a traced tick (`npm run bench`, tick-loop).
    if (cursor.unpublishedWords >= this.publishWords) cursor.publish();
  }

  /**
   * Makes every finished tick readable by the worker. Finished ticks are published in steps of
   * about 16; whoever owns this tracer calls this on a timer (at the worker's poll interval)
   * and before it asks the worker to flush, so no finished tick waits for the next.
   */
  publish(): void {
    this.cursor.publish();
  }

  /** Claims room for the tick's record and writes its header; false (and one dropped tick) when the ring is full. */
  private openRecord(t0: number, t1: number, t2: number, t3: number, r0: number, r1: number): boolean {
    const recordAt = this.cursor.open();
    if (recordAt === -1) {
      Atomics.add(this.ring.control, CONTROL_DROPPED_TICKS, 1);
      return false;
    }
    this.recordAt = recordAt;
    this.next = recordAt + HEADER_WORDS;
    this.end = recordAt + HEADER_WORDS + this.maxSpans * SPAN_WORDS;
    this.bytesUsed = 0;
    // strings go after the most spans the record may have, and move after its last span at its end
    this.stringBase = this.end * 4;
    const words = this.words;
    words[recordAt + H_TRACE_ID] = t0;
    words[recordAt + H_TRACE_ID + 1] = t1;
    words[recordAt + H_TRACE_ID + 2] = t2;
    words[recordAt + H_TRACE_ID + 3] = t3;
    words[recordAt + H_ROOT_ID] = r0;
    words[recordAt + H_ROOT_ID + 1] = r1;
    this.floats[(recordAt + H_EPOCH_S) >> 1] = this.epoch.s;
    this.floats[(recordAt + H_EPOCH_NS) >> 1] = this.epoch.ns;
    return true;
  }

  private writeError(at: number, error: unknown): void {
    const words = this.words;
    let flags = (words[at + S_FLAGS] ?? 0) | F_ERROR;
    this.writeString(at + S_STATUS_MESSAGE, describeError(error));
    const attributes = exceptionAttributes(error);
    if (isRecordableException(attributes)) {
      flags |= F_EXCEPTION;
      this.writeString(at + S_EXCEPTION_TYPE, attributes["exception.type"] as string | undefined);
      this.writeString(at + S_EXCEPTION_MESSAGE, attributes["exception.message"] as string | undefined);
      this.writeString(at + S_EXCEPTION_STACK, attributes["exception.stacktrace"] as string | undefined);
    }
    words[at + S_FLAGS] = flags;
  }

  /**
   * Copies `value` into the record's string area and stores (offset, length) at word `at`; a
   * missing value is stored as length 0xffffffff. What does not fit is cut (at a character
   * boundary); an ASCII string is copied by hand, without allocating.
   */
  private writeString(at: number, value: string | undefined): void {
    const words = this.words;
    if (value === undefined) {
      words[at] = 0;
      words[at + 1] = 0xffffffff;
      return;
    }
    const start = this.bytesUsed;
    const written = putUtf8(this.ring.bytes, this.stringBase + start, value, this.stringEnd - start);
    words[at] = start;
    words[at + 1] = written;
    this.bytesUsed = start + written;
  }
}
