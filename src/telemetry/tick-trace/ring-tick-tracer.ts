import {
  ROOT_CONTEXT,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type Span,
  type SpanContext,
} from "@opentelemetry/api";
import type { Clock } from "../../clock.js";
import { describeError } from "../../errors.js";
import { hexWord, RandomWords } from "./ids.js";
import * as layout from "./ring.js";
import { type TickRing } from "./ring.js";
import { EpochBase, exceptionAttributes, isRecordableException, type TickTracer } from "./tick-tracer.js";

// Layout offsets as module-local constants: read through the import, each would be a
// property load (a getter call under tsx/esbuild) on every ring access instead of a literal.
const {
  CONTROL_DROPPED_SPANS,
  CONTROL_DROPPED_TICKS,
  CONTROL_HEAD,
  CONTROL_TAIL,
  F_CHILD,
  F_ERROR,
  F_EXCEPTION,
  H_BYTES_USED,
  H_EPOCH_NS,
  H_EPOCH_S,
  H_SPAN_COUNT,
  H_TRACE_ID,
  S_ATTRS,
  S_END,
  S_EXCEPTION_MESSAGE,
  S_EXCEPTION_STACK,
  S_EXCEPTION_TYPE,
  S_EXTRA_KEY,
  S_EXTRA_VALUE,
  S_FLAGS,
  S_NAME,
  S_SPAN_ID_HI,
  S_SPAN_ID_LO,
  S_START,
  S_STATUS_MESSAGE,
} = layout;

/** The API's key of the active span (`createContextKey` is `Symbol.for` of its description). */
const SPAN_KEY = Symbol.for("OpenTelemetry Context Key SPAN");

/**
 * The tick's root as instrumentations see it: a non-recording span whose span id is turned into
 * hex only when something reads it (an HTTP client span, a log line), not on every tick.
 */
class TickSpanContext implements SpanContext {
  isRemote = false;
  private hex: string | undefined;
  constructor(
    readonly traceId: string,
    private readonly hi: number,
    private readonly lo: number,
    readonly traceFlags: number,
  ) {}
  get spanId(): string {
    return (this.hex ??= hexWord(this.hi) + hexWord(this.lo));
  }
}

/**
 * A context holding only the tick's root span: one small object per tick instead of the API's
 * copy-on-write map. Deriving from it (`setValue`) returns an ordinary API context.
 */
class TickContext implements Context {
  constructor(private readonly span: Span) {}
  getValue(key: symbol): unknown {
    return key === SPAN_KEY ? this.span : undefined;
  }
  setValue(key: symbol, value: unknown): Context {
    return ROOT_CONTEXT.setValue(SPAN_KEY, this.span).setValue(key, value);
  }
  deleteValue(key: symbol): Context {
    return key === SPAN_KEY ? ROOT_CONTEXT : ROOT_CONTEXT.setValue(SPAN_KEY, this.span);
  }
}

/** Whether this API version finds the span in a {@link TickContext}; else the API's own context is used. */
const TICK_CONTEXT_WORKS = (() => {
  const span = trace.wrapSpanContext(new TickSpanContext("0".repeat(31) + "1", 0, 1, 0));
  return trace.getSpan(new TickContext(span)) === span;
})();

/** A newly interned value, sent to the worker before the first slot that uses it is published. */
export type InternMessage =
  | { kind: "string"; id: number; value: string }
  | { kind: "attributes"; id: number; attributes: Attributes };

/**
 * Strings (span names, attribute keys) and attribute sets known by a small integer on both
 * threads. Attribute sets are keyed by object identity: the tick loop builds them once.
 */
export class InternTable {
  private readonly strings = new Map<string, number>();
  private readonly sets = new Map<Attributes, number>();
  private nextString = 1;
  private nextSet = 1;

  /** `send` delivers each new entry to the worker (a `MessagePort`'s `postMessage`). */
  constructor(private readonly send: (message: InternMessage) => void) {}

  string(value: string): number {
    let id = this.strings.get(value);
    if (id === undefined) {
      id = this.nextString++;
      this.strings.set(value, id);
      this.send({ kind: "string", id, value });
    }
    return id;
  }

  attributes(attributes: Attributes): number {
    let id = this.sets.get(attributes);
    if (id === undefined) {
      id = this.nextSet++;
      this.sets.set(attributes, id);
      this.send({ kind: "attributes", id, attributes: { ...attributes } });
    }
    return id;
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
 * The trading thread's side of worker tick tracing: a tick costs random words for its ids, a
 * few stores into a preallocated ring slot, and the non-recording span context that
 * instrumentations parent onto. No span object, attribute copy or batch exists on this thread.
 *
 * Sampling follows the SDK's `ParentBased(TraceIdRatioBased)` root decision on the same trace
 * id bits, so a ratio keeps the same ticks either way. A sampled tick that finds the ring full
 * is not traced (its context is unsampled, so its HTTP spans are dropped too) and counted in
 * the ring's dropped-ticks counter; the tick itself is never delayed.
 */
export class RingTickTracer implements TickTracer {
  sampled = false;
  context: Context = ROOT_CONTEXT;
  traceId = "";
  private readonly ring: TickRing;
  private readonly interns: InternTable;
  private readonly random = new RandomWords();
  private readonly epoch: EpochBase;
  private readonly upperBound: number;
  private readonly maxSpans: number;
  private readonly stringEnd: number;
  private readonly tickName: number;
  private readonly outcomeKey: number;
  /** Word offset of the slot being written. */
  private slot = 0;
  private head = 0;
  private spanCount = 0;
  private bytesUsed = 0;
  private stringBase = 0;

  constructor(options: RingTickTracerOptions) {
    this.ring = options.ring;
    this.interns = options.interns;
    this.epoch = new EpochBase(options.clock);
    const ratio = Number.isNaN(options.samplingRatio) ? 0 : Math.min(1, Math.max(0, options.samplingRatio));
    this.upperBound = Math.floor(ratio * 0xffffffff);
    this.maxSpans = options.ring.sizing.maxSpans;
    this.stringEnd = options.ring.sizing.stringBytes;
    this.tickName = this.interns.string("tick");
    this.outcomeKey = this.interns.string("tick.outcome");
  }

  startTick(startMs: number, attributes: Attributes): void {
    this.epoch.refresh(startMs);
    const random = this.random;
    const t0 = random.word();
    const t1 = random.word();
    const t2 = random.word();
    const t3 = random.word();
    const s0 = random.word();
    const s1 = random.word();
    this.traceId = hexWord(t0) + hexWord(t1) + hexWord(t2) + hexWord(t3);
    // TraceIdRatioBasedSampler: the XOR of the four 32-bit words against ratio * 0xffffffff.
    let sampled = (t0 ^ t1 ^ t2 ^ t3) >>> 0 < this.upperBound;
    if (sampled) sampled = this.openSlot(t0, t1, t2, t3);
    this.sampled = sampled;
    if (sampled) {
      this.spanCount = 0;
      this.record(this.tickName, attributes, 0, s0, s1, startMs, startMs);
    }
    const root = trace.wrapSpanContext(
      new TickSpanContext(this.traceId, s0, s1, sampled ? TraceFlags.SAMPLED : TraceFlags.NONE),
    );
    this.context = TICK_CONTEXT_WORKS ? new TickContext(root) : trace.setSpan(ROOT_CONTEXT, root);
  }

  span(
    name: string,
    startMs: number,
    endMs: number,
    attributes: Attributes | undefined,
    extraKey?: string,
    extraValue?: string,
    error?: unknown,
  ): void {
    if (!this.sampled) return;
    if (this.spanCount >= this.maxSpans) {
      Atomics.add(this.ring.control, CONTROL_DROPPED_SPANS, 1);
      return;
    }
    const random = this.random;
    const at = this.record(
      this.interns.string(name),
      attributes,
      F_CHILD,
      random.word(),
      random.word(),
      startMs,
      endMs,
    );
    if (extraKey !== undefined && extraValue !== undefined) {
      this.ring.words[at + S_EXTRA_KEY] = this.interns.string(extraKey);
      this.writeString(at + S_EXTRA_VALUE, extraValue);
    }
    if (error !== undefined) this.writeError(at, error);
  }

  endTick(endMs: number, outcome: string, error?: unknown): void {
    if (!this.sampled) return;
    this.sampled = false;
    const ring = this.ring;
    const words = ring.words;
    const root = ring.spanWord(this.slot, 0);
    ring.floats[(root + S_END) >> 1] = endMs;
    words[root + S_EXTRA_KEY] = this.outcomeKey;
    this.writeString(root + S_EXTRA_VALUE, outcome);
    if (error !== undefined) this.writeError(root, error);
    words[this.slot + H_SPAN_COUNT] = this.spanCount;
    words[this.slot + H_BYTES_USED] = this.bytesUsed;
    // Publishes the slot: the worker reads head with Atomics, which orders every store above before it.
    Atomics.store(ring.control, CONTROL_HEAD, (this.head + 1) | 0);
  }

  /** Claims the next slot and writes its header; false (and one dropped tick) when the ring is full. */
  private openSlot(t0: number, t1: number, t2: number, t3: number): boolean {
    const ring = this.ring;
    const head = Atomics.load(ring.control, CONTROL_HEAD);
    const tail = Atomics.load(ring.control, CONTROL_TAIL);
    if (((head - tail) | 0) >= ring.sizing.slots) {
      Atomics.add(ring.control, CONTROL_DROPPED_TICKS, 1);
      return false;
    }
    const slot = ring.slotWord(head);
    this.head = head;
    this.slot = slot;
    this.bytesUsed = 0;
    this.stringBase = ring.stringArea(slot);
    const words = ring.words;
    words[slot + H_TRACE_ID] = t0;
    words[slot + H_TRACE_ID + 1] = t1;
    words[slot + H_TRACE_ID + 2] = t2;
    words[slot + H_TRACE_ID + 3] = t3;
    ring.floats[(slot + H_EPOCH_S) >> 1] = this.epoch.s;
    ring.floats[(slot + H_EPOCH_NS) >> 1] = this.epoch.ns;
    return true;
  }

  /** Writes span record number `spanCount` and returns its word offset. */
  private record(
    name: number,
    attributes: Attributes | undefined,
    flags: number,
    idHi: number,
    idLo: number,
    startMs: number,
    endMs: number,
  ): number {
    const ring = this.ring;
    const words = ring.words;
    const at = ring.spanWord(this.slot, this.spanCount++);
    words[at + S_NAME] = name;
    words[at + S_ATTRS] = attributes === undefined ? 0 : this.interns.attributes(attributes);
    words[at + S_FLAGS] = flags;
    words[at + S_SPAN_ID_HI] = idHi;
    words[at + S_SPAN_ID_LO] = idLo;
    words[at + S_EXTRA_KEY] = 0;
    ring.floats[(at + S_START) >> 1] = startMs;
    ring.floats[(at + S_END) >> 1] = endMs;
    return at;
  }

  private writeError(at: number, error: unknown): void {
    const words = this.ring.words;
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
   * Copies `value` into the slot's string area and stores (offset, length) at word `at`; a
   * missing value is stored as length 0xffffffff. What does not fit is cut (at a character
   * boundary); an ASCII string is copied by hand, without allocating.
   */
  private writeString(at: number, value: string | undefined): void {
    const words = this.ring.words;
    if (value === undefined) {
      words[at] = 0;
      words[at + 1] = 0xffffffff;
      return;
    }
    const bytes = this.ring.bytes;
    const start = this.bytesUsed;
    const room = this.stringEnd - start;
    const base = this.stringBase + start;
    const n = value.length < room ? value.length : room;
    let i = 0;
    for (; i < n; i++) {
      const c = value.charCodeAt(i);
      if (c >= 0x80) break;
      bytes[base + i] = c;
    }
    let written = i;
    if (i < n) {
      const { written: more } = new TextEncoder().encodeInto(
        value.slice(i),
        bytes.subarray(base + i, base + room),
      );
      written += more;
    }
    words[at] = start;
    words[at + 1] = written;
    this.bytesUsed = start + written;
  }
}
