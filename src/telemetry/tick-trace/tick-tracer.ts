import {
  ROOT_CONTEXT,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type HrTime,
  type Span,
  type Tracer,
} from "@opentelemetry/api";
import type { Clock } from "../../clock.js";
import { describeError } from "../../errors.js";

/**
 * A span's name, its fixed attributes and the key of its one per-tick attribute (an order id),
 * prepared once per call site by {@link TickTracer.kind}: recording a span then costs no lookup
 * of its name or attributes.
 */
export interface StageKind {
  readonly name: string;
  readonly attributes: Attributes | undefined;
  /** The key of the value passed to {@link TickTracer.span} as `extraValue`, if any. */
  readonly extraKey: string | undefined;
  /** The ring tracer's id for this kind, known to its worker; 0 for the SDK tracer. */
  readonly id: number;
}

/**
 * What the tick loop needs from tracing: one trace per tick, with a root span `tick` and stage
 * spans under it that are recorded after the fact from monotonic timestamps. Two
 * implementations produce the same span tree: {@link SdkTickTracer} (the OpenTelemetry SDK on
 * the trading thread, the fallback) and `RingTickTracer` (ids and timestamps into shared memory,
 * spans built and exported by a worker thread).
 *
 * One tick at a time: `startTick`, any number of `span`, `endTick`. Attribute objects passed to
 * {@link kind} must not change afterwards.
 */
export interface TickTracer {
  /**
   * Prepares a span kind (at setup, or the first time a call site needs it; never per tick).
   * The root's kind carries `tick.outcome` as its extra key.
   */
  kind(name: string, attributes: Attributes | undefined, extraKey?: string): StageKind;
  /** Starts the tick's trace at `startMs` (monotonic, the clock's `monotonicMs`); `root` is the `tick` kind. */
  startTick(startMs: number, root: StageKind): void;
  /** Whether the tick in flight is recorded; stage timestamps are worth taking only then. */
  readonly sampled: boolean;
  /**
   * A context whose active span is the tick's root: the parent of spans that instrumentations
   * create during the tick (HTTP, exchange clients), and what log correlation reads.
   */
  readonly context: Context;
  /** The tick's trace id (32 lowercase hex digits). */
  readonly traceId: string;
  /**
   * One finished stage span under the tick's root, from `stamps[start]` to `stamps[end]`
   * (monotonic readings, the clock's `monotonicMs`). The readings stay in the caller's typed
   * array and cross the call as indexes: a double passed to a call V8 does not inline is boxed
   * into a new heap number, two per span. `extraValue`: the value of the kind's extra
   * attribute, known only during the tick (an order id); `error`: recorded as an `exception`
   * event at the span's end and an ERROR status. Ignored when the tick is not sampled.
   */
  span(
    kind: StageKind,
    stamps: Float64Array,
    start: number,
    end: number,
    extraValue?: string,
    error?: unknown,
  ): void;
  /** Ends the root span at `endMs` with `tick.outcome` and, when `error` is given, an exception and ERROR status. */
  endTick(endMs: number, outcome: string, error?: unknown): void;
}

/** Builds a {@link TickTracer} for one tick loop, given the loop's clock. */
export type TickTracerFactory = (options: { clock: Clock }) => TickTracer;

/** How long one wall-clock offset of the monotonic clock is used for span timestamps. */
const EPOCH_BASE_REFRESH_MS = 1_000;

/**
 * Monotonic readings moved onto the wall-clock axis by an offset re-read at most once a second,
 * so the stages of one tick line up to the microsecond (the SDK's own conversion re-reads the
 * millisecond wall clock per span). The offset is kept as [s, ns] so timestamps keep
 * sub-microsecond steps.
 */
export class EpochBase {
  s = 0;
  ns = 0;
  private atMs = Number.NEGATIVE_INFINITY;

  constructor(private readonly clock: Clock) {}

  /** Re-reads the wall clock when the offset is older than a second. */
  refresh(monoMs: number): void {
    if (monoMs - this.atMs < EPOCH_BASE_REFRESH_MS) return;
    const baseMs = this.clock.now() - monoMs;
    this.s = Math.floor(baseMs / 1000);
    this.ns = (baseMs - this.s * 1000) * 1e6;
    this.atMs = monoMs;
  }

  /** A monotonic reading as an OpenTelemetry timestamp. */
  hrTime(monoMs: number): HrTime {
    return toHrTime(this.s, this.ns, monoMs);
  }
}

/** `monoMs` on the wall-clock axis given the offset [`baseS`, `baseNs`], as [epoch seconds, nanoseconds]. */
export function toHrTime(baseS: number, baseNs: number, monoMs: number): HrTime {
  const ns = baseNs + monoMs * 1e6;
  const s = Math.floor(ns / 1e9);
  return [baseS + s, Math.floor(ns - s * 1e9)];
}

/** The attributes of an `exception` event, as the SDK's `Span.recordException` builds them. */
export function exceptionAttributes(error: unknown): Attributes {
  const attributes: Attributes = {};
  if (typeof error === "string") {
    attributes["exception.message"] = error;
  } else if (error !== null && typeof error === "object") {
    // Typed as the SDK reads them (an Error's fields; `code` as Node sets it).
    const { code, name, message, stack } = error as {
      code?: string | number;
      name?: string;
      message?: string;
      stack?: string;
    };
    if (code) attributes["exception.type"] = code.toString();
    else if (name) attributes["exception.type"] = name;
    if (message) attributes["exception.message"] = message;
    if (stack) attributes["exception.stacktrace"] = stack;
  }
  return attributes;
}

/**
 * The fallback: every span is an OpenTelemetry SDK span created on the trading thread (about
 * 2.5 µs each on Node 20). `telemetry.tick_tracing: sdk`.
 */
export class SdkTickTracer implements TickTracer {
  sampled = false;
  context: Context = ROOT_CONTEXT;
  private root: Span | undefined;
  private rootKind: StageKind | undefined;
  private readonly epoch: EpochBase;

  constructor(
    private readonly tracer: Tracer,
    clock: Clock,
  ) {
    this.epoch = new EpochBase(clock);
  }

  get traceId(): string {
    return this.root?.spanContext().traceId ?? "";
  }

  kind(name: string, attributes: Attributes | undefined, extraKey?: string): StageKind {
    return { name, attributes, extraKey, id: 0 };
  }

  startTick(startMs: number, root: StageKind): void {
    this.epoch.refresh(startMs);
    this.rootKind = root;
    const span = this.tracer.startSpan(
      root.name,
      root.attributes
        ? { startTime: this.epoch.hrTime(startMs), attributes: root.attributes }
        : { startTime: this.epoch.hrTime(startMs) },
      ROOT_CONTEXT,
    );
    this.root = span;
    this.sampled = span.isRecording();
    this.context = trace.setSpan(ROOT_CONTEXT, span);
  }

  span(
    kind: StageKind,
    stamps: Float64Array,
    start: number,
    endAt: number,
    extraValue?: string,
    error?: unknown,
  ): void {
    if (!this.sampled) return;
    const end = this.epoch.hrTime(stamps[endAt] ?? 0);
    const startTime = this.epoch.hrTime(stamps[start] ?? 0);
    const span = this.tracer.startSpan(
      kind.name,
      kind.attributes ? { startTime, attributes: kind.attributes } : { startTime },
      this.context,
    );
    if (kind.extraKey !== undefined && extraValue !== undefined) span.setAttribute(kind.extraKey, extraValue);
    if (error !== undefined) recordError(span, error, end);
    span.end(end);
  }

  endTick(endMs: number, outcome: string, error?: unknown): void {
    const root = this.root;
    if (!root) return;
    this.root = undefined;
    if (!this.sampled) {
      root.end();
      return;
    }
    const end = this.epoch.hrTime(endMs);
    if (error !== undefined) recordError(root, error, end);
    root.setAttribute(this.rootKind?.extraKey ?? "tick.outcome", outcome);
    root.end(end);
  }
}

/** Whether {@link exceptionAttributes} carry what the spec requires of an exception event. */
export function isRecordableException(attributes: Attributes): boolean {
  return attributes["exception.type"] !== undefined || attributes["exception.message"] !== undefined;
}

function recordError(span: Span, error: unknown, at: HrTime): void {
  const attributes = exceptionAttributes(error);
  if (isRecordableException(attributes)) span.addEvent("exception", attributes, at);
  span.setStatus({ code: SpanStatusCode.ERROR, message: describeError(error) });
}

/** The fallback's factory: SDK spans from `tracer`. */
export function sdkTickTracerFactory(tracer: Tracer): TickTracerFactory {
  return ({ clock }) => new SdkTickTracer(tracer, clock);
}
