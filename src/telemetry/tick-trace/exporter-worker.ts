/**
 * The tick-trace exporter thread (a `worker_threads` entry point, started by
 * `startWorkerTickTracing`): reads published ticks from the shared ring, turns each into OTLP
 * spans and sends them to the collector itself, so the trading thread never builds a span,
 * batches or encodes. Never throws: a failed export is reported to the parent and the loop goes on.
 */
import { request as httpRequest, Agent as HttpAgent } from "node:http";
import { request as httpsRequest, Agent as HttpsAgent } from "node:https";
import { performance } from "node:perf_hooks";
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from "node:worker_threads";
import { randomFillSync } from "node:crypto";
import type { Attributes } from "@opentelemetry/api";
import { redactUrl } from "../redact-url.js";
import { backoffDelayMs, type BackoffPolicy } from "../../retry/backoff.js";
import { parseRetryAfter } from "../../retry/retry-after.js";
import type { InternMessage } from "./ring-tick-tracer.js";
import * as layout from "./ring.js";
import { TickRing, type RingSizing } from "./ring.js";
import {
  encodeAttributes,
  JsonSpanBatch,
  ProtoWriter,
  type EncodedAttributes,
  type SpanRecord,
} from "./otlp-encode.js";
import { toHrTime } from "./tick-tracer.js";

// Layout offsets as module-local constants: read through the import, each would be a
// property load (a getter call under tsx/esbuild) on every ring access instead of a literal.
const {
  CONTROL_DROPPED_SPANS,
  CONTROL_HEAD,
  CONTROL_TAIL,
  F_CHILD,
  F_ERROR,
  F_EXCEPTION,
  F_EXTRA,
  F_PARENT,
  F_RAW_ATTRIBUTES,
  F_URL,
  H_EPOCH_NS,
  H_EPOCH_S,
  H_PARENT_ID,
  H_ROOT_ID,
  H_RECORD_WORDS,
  H_SPAN_COUNT,
  H_TRACE_ID,
  HEADER_WORDS,
  PAD,
  S_END,
  S_EXCEPTION_MESSAGE,
  S_EXCEPTION_STACK,
  S_EXCEPTION_TYPE,
  S_EXTRA_VALUE,
  S_FLAGS,
  S_KIND,
  S_START,
  S_STATUS_MESSAGE,
  S_URL,
  SPAN_WORDS,
} = layout;

/** What the parent hands the worker at start. */
export interface ExporterWorkerData {
  buffer: SharedArrayBuffer;
  sizing: RingSizing;
  interns: MessagePort;
  /** Full `/v1/traces` URL, or undefined to encode and drop (benchmarks). */
  url: string | undefined;
  protocol: "http/protobuf" | "http/json";
  headers: Record<string, string>;
  timeoutMs: number;
  /** Most time a read span waits before it is sent. */
  batchDelayMs: number;
  /** Spans per export request. */
  maxBatchSpans: number;
  /** Spans held while an export is in flight; beyond this they are dropped and counted. */
  maxQueueSpans: number;
  /** How often the ring is read. */
  pollMs: number;
  /** Attempts per export (1: no retry); a retryable failure (connection, 429, 502-504) is retried with backoff. */
  maxAttempts: number;
  retryBackoff: BackoffPolicy;
  resource: Attributes;
  scopeName: string;
  /**
   * The second ring, of finished client-call span trees (`ring-span-writer.ts`; OTLP/protobuf
   * only), exported under its own instrumentation scope.
   */
  calls?: { buffer: SharedArrayBuffer; sizing: RingSizing; scopeName: string; scopeVersion: string };
}

/** Messages from the parent. */
export type ToWorker = { type: "flush"; id: number } | { type: "stats"; id: number };

/** Messages to the parent. */
export type FromWorker =
  | { type: "export"; ok: boolean; spans: number; error?: string }
  | { type: "flushed"; id: number }
  | { type: "stats"; id: number; stats: ExporterStats };

export interface ExporterStats {
  ticksRead: number;
  spansRead: number;
  spansExported: number;
  spansDropped: number;
  /** Export requests sent, retries included. */
  requests: number;
  /** Of those, retries of a failed export. */
  retries: number;
  /** This thread's busy time (event-loop utilization), milliseconds. */
  activeMs: number;
}

const data = workerData as ExporterWorkerData;
const tickRing = new TickRing(data.sizing, data.buffer);
/** The ring being read (the tick ring or the call ring) and its views: see {@link useRing}. */
let ring = tickRing;
let ringWords = ring.words;
let ringFloats = ring.floats;
let ringBytes = ring.bytes;
const proto = data.protocol !== "http/json";

function useRing(next: TickRing): void {
  ring = next;
  ringWords = next.words;
  ringFloats = next.floats;
  ringBytes = next.bytes;
}

/** A span kind as the worker encodes it: pre-encoded once, copied per span. */
interface Kind {
  name: string;
  /** JSON path: the fixed attributes. */
  attributes: EncodedAttributes | undefined;
  extraKey: string | undefined;
  /** Protobuf: the Span's `name` (1), `kind` (6) and `attributes` (9) fields. */
  template: Uint8Array;
  /** Protobuf: the extra attribute's KeyValue `key` field (1), or empty. */
  extraKeyField: Uint8Array;
}
const kinds: (Kind | undefined)[] = [undefined];
const resource = encodeAttributes(data.resource);
const stats: ExporterStats = {
  ticksRead: 0,
  spansRead: 0,
  spansExported: 0,
  spansDropped: 0,
  requests: 0,
  retries: 0,
  activeMs: 0,
};
const agent = data.url?.startsWith("https:")
  ? new HttpsAgent({ keepAlive: true, maxSockets: 1 })
  : new HttpAgent({ keepAlive: true, maxSockets: 1 });

function post(message: FromWorker): void {
  parentPort?.postMessage(message);
}

function drainInterns(): void {
  for (;;) {
    const received = receiveMessageOnPort(data.interns);
    if (received === undefined) return;
    const message = received.message as InternMessage;
    const template = new ProtoWriter();
    template.string(5, message.name); // Span.name
    template.varintField(6, message.spanKind ?? 1); // SPAN_KIND_INTERNAL unless told
    const attributes = message.attributes ? encodeAttributes(message.attributes) : undefined;
    for (const kv of attributes?.proto ?? []) template.message(9, kv);
    const key = new ProtoWriter();
    if (message.extraKey !== undefined) key.string(1, message.extraKey);
    kinds[message.id] = {
      name: message.name,
      attributes,
      extraKey: message.extraKey,
      template: template.finish(),
      extraKeyField: key.finish(),
    };
  }
}

/** Random bytes for the stage spans' ids (chosen here: nothing on the trading thread parents onto them). */
const idPool = Buffer.allocUnsafe(1 << 16);
const idWords = new Uint32Array(idPool.buffer, idPool.byteOffset, idPool.length / 4);
let idAt = idPool.length;

/** Byte offset into {@link idPool} of 8 fresh random bytes, never all zero. */
function takeSpanId(): number {
  for (;;) {
    if (idAt + 8 > idPool.length) {
      randomFillSync(idPool);
      idAt = 0;
    }
    const at = idAt;
    idAt += 8;
    if (((idWords[at >> 2] ?? 0) | (idWords[(at >> 2) + 1] ?? 0)) !== 0) return at;
  }
}

function readString(recordAt: number, at: number): string | undefined {
  const length = ringWords[at + 1] ?? 0;
  if (length === 0xffffffff) return undefined;
  const offset = ring.stringArea(recordAt) + (ringWords[at] ?? 0);
  return Buffer.from(ring.buffer, ringBytes.byteOffset + offset, length).toString("utf8");
}

function varintSize(value: number): number {
  let size = 1;
  for (let v = value; v > 0x7f; v >>>= 7) size++;
  return size;
}

/** Writes `value` as a varint at `p`; returns the position after it. */
function putVarint(b: Uint8Array, p: number, value: number): number {
  let v = value;
  while (v > 0x7f) {
    b[p++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  b[p++] = v;
  return p;
}

/** Copies `length` bytes of `source` from `from` to `b` at `p`; returns the position after them. */
function putBytes(b: Uint8Array, p: number, source: Uint8Array, from: number, length: number): number {
  if (length > 64) {
    b.set(source.subarray(from, from + length), p);
    return p + length;
  }
  // Short copies (ids, names, attribute sets) byte by byte: cheaper than a view and a set.
  for (let i = 0; i < length; i++) b[p + i] = source[from + i] ?? 0;
  return p + length;
}

/** The `url.full` KeyValue key field (call spans with F_URL). */
const URL_KEY = (() => {
  const key = new ProtoWriter();
  key.string(1, "url.full");
  return key.finish();
})();

/** Byte offset of the string area of the record being read. */
let recordStrings = 0;

/** `epochS * 1e9` as the low and high 32-bit halves of a fixed64, for the record being read. */
let epochBaseS = Number.NaN;
let epochBaseLo = 0;
let epochBaseHi = 0;

/** Sets the fixed64 base for records whose wall-clock offset is `epochS` seconds (once a second). */
function useEpoch(epochS: number): void {
  if (epochS === epochBaseS) return;
  // Exactly, in doubles: with s = sHi * 2^16 + sLo every product stays below 2^53.
  const sHi = Math.floor(epochS / 65536);
  const sLo = epochS - sHi * 65536;
  const high = sHi * 1e9; // to be scaled by 2^16
  const low = (high % 65536) * 65536 + sLo * 1e9;
  epochBaseLo = low % 4294967296;
  epochBaseHi = Math.floor(high / 65536) + Math.floor(low / 4294967296);
  epochBaseS = epochS;
}

/**
 * `monoMs` on the wall-clock axis as a fixed64 field (`tag`, then nanoseconds since the epoch,
 * little-endian), the same nanoseconds as `toHrTime` gives the SDK path: its [s, ns] is
 * [epochS + carry, floor(total - carry * 1e9)] with total = epochNs + monoMs * 1e6, and
 * s * 1e9 + ns = epochS * 1e9 + floor(total) exactly (subtracting a multiple of 1e9 from a
 * double below 2^53 is exact). So: the record's base from {@link useEpoch} plus floor(total),
 * in two 32-bit halves, without BigInt or an array.
 */
function putTime(b: Uint8Array, p: number, tag: number, epochNs: number, monoMs: number): number {
  const offset = Math.floor(epochNs + monoMs * 1e6);
  let offsetHi = Math.floor(offset / 4294967296);
  let lo = epochBaseLo + (offset - offsetHi * 4294967296);
  if (lo >= 4294967296) {
    lo -= 4294967296;
    offsetHi++;
  }
  const hi = epochBaseHi + offsetHi;
  b[p] = tag;
  b[p + 1] = lo & 0xff;
  b[p + 2] = (lo >>> 8) & 0xff;
  b[p + 3] = (lo >>> 16) & 0xff;
  b[p + 4] = lo >>> 24;
  b[p + 5] = hi & 0xff;
  b[p + 6] = (hi >>> 8) & 0xff;
  b[p + 7] = (hi >>> 16) & 0xff;
  b[p + 8] = hi >>> 24;
  return p + 9;
}

/** Bytes reserved before the spans for the request's envelope (resource, scope, two lengths). */
let envelopeRoom = 0;

/**
 * One export request's OTLP/protobuf body, written straight from the ring into one reusable
 * buffer: ids copied as bytes, each span kind's name, kind and attributes copied from its
 * pre-encoded template, order ids copied from the record (already UTF-8), timestamps as fixed64.
 * The envelope is written in front of the spans when the batch is taken, into room reserved at
 * the start, so a request body is one subarray of the buffer: nothing is allocated per span or
 * per request except on the error path. The buffer is kept for the next batch.
 */
class ProtoBatch {
  readonly contentType = "application/x-protobuf";
  spans = 0;
  private out: Buffer = Buffer.allocUnsafe(1 << 18);
  private pos = envelopeRoom;

  constructor(
    private readonly resourceField: Buffer,
    private readonly scopeField: Buffer,
  ) {}

  private ensure(room: number): void {
    if (this.pos + room <= this.out.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.out.length * 2, this.pos + room));
    this.out.copy(grown, 0, 0, this.pos);
    this.out = grown;
  }

  /** Appends span record `at` of the record at word offset `recordAt`. */
  add(recordAt: number, at: number, kind: Kind, flags: number, epochS: number, epochNs: number): void {
    const extra = (flags & F_EXTRA) !== 0 && kind.extraKey !== undefined;
    const extraLength = extra ? (ringWords[at + S_EXTRA_VALUE + 1] ?? 0) : 0;
    const anyValue = extra ? 1 + varintSize(extraLength) + extraLength : 0;
    const keyValue = extra ? kind.extraKeyField.length + 1 + varintSize(anyValue) + anyValue : 0;
    const raw = (flags & F_RAW_ATTRIBUTES) !== 0;
    const rawLength = raw ? (ringWords[at + S_EXTRA_VALUE + 1] ?? 0) : 0;
    const url = flags & F_URL ? redactUrl(readString(recordAt, at + S_URL) ?? "") : undefined;
    const urlBytes = url === undefined ? 0 : Buffer.byteLength(url, "utf8");
    const urlAny = 1 + varintSize(urlBytes) + urlBytes;
    const urlKeyValue = URL_KEY.length + 1 + varintSize(urlAny) + urlAny;
    const event = flags & F_EXCEPTION ? exceptionEvent(recordAt, at, epochS, epochNs) : undefined;
    const status = flags & F_ERROR ? errorStatus(recordAt, at) : undefined;
    const length =
      18 + // trace_id
      10 + // span_id
      (flags & (F_CHILD | F_PARENT) ? 10 : 0) + // parent_span_id
      kind.template.length +
      18 + // start and end
      (extra ? 1 + varintSize(keyValue) + keyValue : 0) +
      rawLength +
      (url === undefined ? 0 : 1 + varintSize(urlKeyValue) + urlKeyValue) +
      (event ? 1 + varintSize(event.length) + event.length : 0) +
      (status ? 1 + varintSize(status.length) + status.length : 2);
    this.ensure(length + 8);
    const b = this.out;
    let p = this.pos;
    b[p++] = 0x12; // ScopeSpans.spans
    p = putVarint(b, p, length);
    const traceAt = (recordAt + H_TRACE_ID) * 4;
    b[p++] = 0x0a;
    b[p++] = 16;
    p = putBytes(b, p, ringBytes, traceAt, 16);
    b[p++] = 0x12;
    b[p++] = 8;
    const rootAt = (recordAt + H_ROOT_ID) * 4;
    if (flags & F_CHILD) {
      p = putBytes(b, p, idPool, takeSpanId(), 8);
      b[p++] = 0x22;
      b[p++] = 8;
      p = putBytes(b, p, ringBytes, rootAt, 8);
    } else {
      p = putBytes(b, p, ringBytes, rootAt, 8);
      if (flags & F_PARENT) {
        b[p++] = 0x22;
        b[p++] = 8;
        p = putBytes(b, p, ringBytes, (recordAt + H_PARENT_ID) * 4, 8);
      }
    }
    b.set(kind.template, p);
    p += kind.template.length;
    p = putTime(b, p, 0x39, epochNs, ringFloats[(at + S_START) >> 1] ?? 0);
    p = putTime(b, p, 0x41, epochNs, ringFloats[(at + S_END) >> 1] ?? 0);
    if (extra) {
      b[p++] = 0x4a;
      p = putVarint(b, p, keyValue);
      p = putBytes(b, p, kind.extraKeyField, 0, kind.extraKeyField.length);
      b[p++] = 0x12;
      p = putVarint(b, p, anyValue);
      b[p++] = 0x0a;
      p = putVarint(b, p, extraLength);
      p = putBytes(b, p, ringBytes, recordStrings + (ringWords[at + S_EXTRA_VALUE] ?? 0), extraLength);
    }
    if (raw) {
      // already `Span.attributes` fields, encoded on the writing thread
      p = putBytes(b, p, ringBytes, recordStrings + (ringWords[at + S_EXTRA_VALUE] ?? 0), rawLength);
    }
    if (url !== undefined) {
      b[p++] = 0x4a; // Span.attributes: url.full, redacted here
      p = putVarint(b, p, urlKeyValue);
      p = putBytes(b, p, URL_KEY, 0, URL_KEY.length);
      b[p++] = 0x12;
      p = putVarint(b, p, urlAny);
      b[p++] = 0x0a;
      p = putVarint(b, p, urlBytes);
      p += b.write(url, p, urlBytes, "utf8");
    }
    if (event) {
      b[p++] = 0x5a;
      p = putVarint(b, p, event.length);
      p = putBytes(b, p, event, 0, event.length);
    }
    b[p++] = 0x7a;
    if (status) {
      p = putVarint(b, p, status.length);
      p = putBytes(b, p, status, 0, status.length);
    } else {
      b[p++] = 0;
    }
    this.pos = p;
    this.spans++;
  }

  /** The request body (a view of this batch's buffer, valid until the next {@link reset}). */
  take(): Buffer {
    const spansLength = this.pos - envelopeRoom;
    const scopeSpans = this.scopeField.length + spansLength;
    const resourceSpans = this.resourceField.length + 1 + varintSize(scopeSpans) + scopeSpans;
    const start =
      envelopeRoom -
      (1 +
        varintSize(resourceSpans) +
        this.resourceField.length +
        1 +
        varintSize(scopeSpans) +
        this.scopeField.length);
    const b = this.out;
    let p = start;
    b[p++] = 0x0a; // ExportTraceServiceRequest.resource_spans
    p = putVarint(b, p, resourceSpans);
    p = putBytes(b, p, this.resourceField, 0, this.resourceField.length);
    b[p++] = 0x12; // ResourceSpans.scope_spans
    p = putVarint(b, p, scopeSpans);
    putBytes(b, p, this.scopeField, 0, this.scopeField.length);
    return b.subarray(start, this.pos);
  }

  /** Empties the batch for reuse (after its request is done). */
  reset(): void {
    this.pos = envelopeRoom;
    this.spans = 0;
  }
}

/** The error path: one `exception` event at the span's end (allocates; errors are rare). */
function exceptionEvent(recordAt: number, at: number, epochS: number, epochNs: number): Buffer {
  const event = new ProtoWriter();
  event.fixed64Time(1, toHrTime(epochS, epochNs, ringFloats[(at + S_END) >> 1] ?? 0));
  event.string(2, "exception");
  for (const kv of encodeAttributes(exceptionOf(recordAt, at)).proto) event.message(3, kv);
  return event.finish();
}

function errorStatus(recordAt: number, at: number): Buffer {
  const status = new ProtoWriter();
  const message = readString(recordAt, at + S_STATUS_MESSAGE);
  if (message !== undefined) status.string(2, message);
  status.varintField(3, 2); // STATUS_CODE_ERROR
  return status.finish();
}

function exceptionOf(recordAt: number, at: number): Attributes {
  const exception: Attributes = {};
  const type = readString(recordAt, at + S_EXCEPTION_TYPE);
  const message = readString(recordAt, at + S_EXCEPTION_MESSAGE);
  const stack = readString(recordAt, at + S_EXCEPTION_STACK);
  if (type !== undefined) exception["exception.type"] = type;
  if (message !== undefined) exception["exception.message"] = message;
  if (stack !== undefined) exception["exception.stacktrace"] = stack;
  return exception;
}

const resourceField = (() => {
  const r = new ProtoWriter();
  for (const kv of resource.proto) r.message(1, kv);
  const field = new ProtoWriter();
  field.message(1, r.finish()); // ResourceSpans.resource
  return field.finish();
})();
function scopeFieldOf(name: string, version: string | undefined): Buffer {
  const sc = new ProtoWriter();
  sc.string(1, name);
  if (version !== undefined) sc.string(2, version);
  const field = new ProtoWriter();
  field.message(1, sc.finish()); // ScopeSpans.scope
  return field.finish();
}
const scopeField = scopeFieldOf(data.scopeName, undefined);
const callScopeField = data.calls ? scopeFieldOf(data.calls.scopeName, data.calls.scopeVersion) : scopeField;
envelopeRoom = resourceField.length + Math.max(scopeField.length, callScopeField.length) + 16;

type Batch = ProtoBatch | JsonSpanBatch;

/** A ring the worker reads, with the batch its spans are collected in (one scope per ring). */
interface Source {
  readonly ring: TickRing;
  /** Emptied batches, kept with their buffers for the next ones. */
  readonly spare: Batch[];
  readonly newBatch: () => Batch;
  current: Batch;
  currentSince: number;
}

function source(of: TickRing, scope: Buffer, scopeName: string): Source {
  const spare: Batch[] = [];
  const newBatch = (): Batch =>
    spare.pop() ?? (proto ? new ProtoBatch(resourceField, scope) : new JsonSpanBatch(resource, scopeName));
  return { ring: of, spare, newBatch, current: newBatch(), currentSince: 0 };
}

const tickSource = source(tickRing, scopeField, data.scopeName);
const sources: Source[] = [tickSource];
if (data.calls)
  sources.push(
    source(new TickRing(data.calls.sizing, data.calls.buffer), callScopeField, data.calls.scopeName),
  );
/** The source being read (set with the ring by {@link readRing}). */
let reading: Source = tickSource;
const pending: { batch: Batch; from: Source }[] = [];
let queuedSpans = 0;
let inFlight: Promise<void> | undefined;

const span: SpanRecord = {
  traceId: "",
  spanId: "",
  parentSpanId: "",
  name: "",
  start: [0, 0],
  end: [0, 0],
  attributes: [],
  error: false,
  statusMessage: undefined,
  exception: undefined,
};

/** Hex of `length` bytes of the ring at byte offset `at` (the JSON path's ids). */
function ringHex(at: number, length: number): string {
  return Buffer.from(ring.buffer, ringBytes.byteOffset + at, length).toString("hex");
}

/** The JSON path: one span as values for {@link JsonSpanBatch}. */
function addJson(
  batch: JsonSpanBatch,
  recordAt: number,
  at: number,
  kind: Kind,
  flags: number,
  epochS: number,
  epochNs: number,
): void {
  span.traceId = ringHex((recordAt + H_TRACE_ID) * 4, 16);
  const rootId = ringHex((recordAt + H_ROOT_ID) * 4, 8);
  if (flags & F_CHILD) {
    const idAt = takeSpanId();
    span.spanId = idPool.toString("hex", idAt, idAt + 8);
    span.parentSpanId = rootId;
  } else {
    span.spanId = rootId;
    span.parentSpanId = "";
  }
  span.name = kind.name;
  span.start = toHrTime(epochS, epochNs, ringFloats[(at + S_START) >> 1] ?? 0);
  span.end = toHrTime(epochS, epochNs, ringFloats[(at + S_END) >> 1] ?? 0);
  const attributes: EncodedAttributes[] = [];
  if (kind.attributes) attributes.push(kind.attributes);
  if (flags & F_EXTRA && kind.extraKey !== undefined) {
    const value = readString(recordAt, at + S_EXTRA_VALUE);
    if (value !== undefined) attributes.push(encodeAttributes({ [kind.extraKey]: value }));
  }
  span.attributes = attributes;
  span.error = (flags & F_ERROR) !== 0;
  span.statusMessage = span.error ? readString(recordAt, at + S_STATUS_MESSAGE) : undefined;
  span.exception = flags & F_EXCEPTION ? encodeAttributes(exceptionOf(recordAt, at)) : undefined;
  batch.add(span);
}

/** Reads one published record into the current batch. */
function readRecord(recordAt: number): void {
  const count = ringWords[recordAt + H_SPAN_COUNT] ?? 0;
  const epochS = ringFloats[(recordAt + H_EPOCH_S) >> 1] ?? 0;
  const epochNs = ringFloats[(recordAt + H_EPOCH_NS) >> 1] ?? 0;
  if (proto) useEpoch(epochS);
  recordStrings = ring.stringArea(recordAt);
  stats.ticksRead++;
  stats.spansRead += count;
  for (let i = 0; i < count; i++) {
    const at = recordAt + HEADER_WORDS + i * SPAN_WORDS;
    const kindId = ringWords[at + S_KIND] ?? 0;
    let kind = kinds[kindId];
    if (kind === undefined) {
      // Published before its kind was read: it is on the port by now.
      drainInterns();
      kind = kinds[kindId];
      if (kind === undefined) {
        stats.spansDropped++;
        Atomics.add(ring.control, CONTROL_DROPPED_SPANS, 1);
        continue;
      }
    }
    if (queuedSpans >= data.maxQueueSpans) {
      stats.spansDropped++;
      Atomics.add(ring.control, CONTROL_DROPPED_SPANS, 1);
      continue;
    }
    const from = reading;
    const current = from.current;
    if (current.spans === 0) from.currentSince = performance.now();
    queuedSpans++;
    const flags = ringWords[at + S_FLAGS] ?? 0;
    if (proto) (current as ProtoBatch).add(recordAt, at, kind, flags, epochS, epochNs);
    else addJson(current as JsonSpanBatch, recordAt, at, kind, flags, epochS, epochNs);
    if (current.spans >= data.maxBatchSpans) {
      pending.push({ batch: current, from });
      from.current = from.newBatch();
    }
  }
}

/** Reads every published record of every ring and frees it. */
function readRing(): void {
  for (const from of sources) {
    reading = from;
    useRing(from.ring);
    readOneRing();
  }
}

function readOneRing(): void {
  const head = Atomics.load(ring.control, CONTROL_HEAD);
  let tail = Atomics.load(ring.control, CONTROL_TAIL);
  if (head === tail) return;
  // After loading head: every intern message posted before a record was published is on the port.
  drainInterns();
  const capacity = ring.capacityWords;
  let read = 0;
  while (tail !== head) {
    const recordAt = ring.recordWord(tail);
    const spans = ringWords[recordAt + H_SPAN_COUNT] ?? 0;
    if (spans === PAD) {
      tail = (tail + capacity - recordAt) | 0;
      continue;
    }
    const words = ringWords[recordAt + H_RECORD_WORDS] ?? 0;
    if (words < HEADER_WORDS || words > ring.maxRecordWords || ((head - tail) | 0) < words) {
      // Not a record the writer finished (never expected): nothing after it can be found, so
      // everything published is dropped, and the writer finds room again.
      stats.spansDropped += spans;
      Atomics.add(ring.control, CONTROL_DROPPED_SPANS, spans);
      post({ type: "export", ok: false, spans, error: "the tick ring held a record of no known length" });
      tail = head;
      break;
    }
    try {
      readRecord(recordAt);
    } catch (error) {
      // A record that cannot be read is skipped (its spans counted as dropped), so one bad record
      // never stops the ring: the trading thread would otherwise find it full forever.
      stats.spansDropped += spans;
      Atomics.add(ring.control, CONTROL_DROPPED_SPANS, spans);
      post({ type: "export", ok: false, spans, error: `a tick record could not be read: ${String(error)}` });
    }
    tail = (tail + words) | 0;
    // Freed in steps of 64 records, not one by one: each store takes the tail's cache line to
    // this core, and the trading thread reads it (rarely, only when the ring looks full).
    if ((++read & 63) === 0) Atomics.store(ring.control, CONTROL_TAIL, tail);
  }
  Atomics.store(ring.control, CONTROL_TAIL, tail);
}

/** One request's outcome: undefined when accepted; else why, and whether a retry may succeed. */
type SendResult = undefined | { error: string; retryable: boolean; retryAfterMs: number | undefined };

/** OTLP/HTTP: 429, 502, 503 and 504 are worth retrying; any other refusal is final. */
const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);

function send(body: string | Buffer, contentType: string): Promise<SendResult> {
  const url = data.url;
  if (url === undefined) return Promise.resolve(undefined);
  stats.requests++;
  return new Promise((resolve) => {
    const request = (url.startsWith("https:") ? httpsRequest : httpRequest)(url, {
      method: "POST",
      agent,
      timeout: data.timeoutMs,
      headers: {
        ...data.headers,
        "content-type": contentType,
        "content-length": Buffer.byteLength(body),
      },
    });
    request.on("response", (response) => {
      response.resume();
      response.on("end", () => {
        const status = response.statusCode ?? 0;
        if (status >= 200 && status < 300) resolve(undefined);
        else {
          const retryAfter = parseRetryAfter(response.headers["retry-after"]);
          resolve({
            error: `the collector answered HTTP ${status}`,
            retryable: RETRYABLE_STATUS.has(status),
            retryAfterMs: retryAfter === undefined ? undefined : retryAfter * 1000,
          });
        }
      });
      response.on("error", (error) =>
        resolve({ error: error.message, retryable: true, retryAfterMs: undefined }),
      );
    });
    request.on("timeout", () => request.destroy(new Error(`no answer within ${data.timeoutMs} ms`)));
    request.on("error", (error) =>
      resolve({ error: error.message, retryable: true, retryAfterMs: undefined }),
    );
    request.end(body);
  });
}

/** Longest wait before a retry, whatever the collector's Retry-After says. */
const MAX_RETRY_DELAY_MS = 30_000;

/**
 * Sends one body, retrying a retryable failure up to `maxAttempts` in all with backoff (or the
 * collector's Retry-After, capped). Resolves with the last error, or undefined when accepted.
 */
async function sendWithRetries(body: string | Buffer, contentType: string): Promise<string | undefined> {
  for (let attempt = 1; ; attempt++) {
    const result = await send(body, contentType);
    if (result === undefined) return undefined;
    if (!result.retryable || attempt >= data.maxAttempts) {
      return attempt > 1 ? `${result.error} (after ${attempt} attempts)` : result.error;
    }
    stats.retries++;
    const delay = Math.min(
      MAX_RETRY_DELAY_MS,
      result.retryAfterMs ?? backoffDelayMs(attempt, data.retryBackoff),
    );
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

/** Sends the batches that are due (all of them when `all`), one request at a time. */
function exportDue(all: boolean): Promise<void> {
  if (inFlight) return inFlight;
  for (const from of sources) {
    if (from.current.spans > 0 && (all || performance.now() - from.currentSince >= data.batchDelayMs)) {
      pending.push({ batch: from.current, from });
      from.current = from.newBatch();
    }
  }
  const next = pending.shift();
  if (!next) return Promise.resolve();
  const { batch, from } = next;
  const spans = batch.spans;
  const body = batch.take();
  inFlight = sendWithRetries(body, batch.contentType).then((error) => {
    inFlight = undefined;
    queuedSpans -= spans;
    batch.reset();
    from.spare.push(batch);
    if (error === undefined) stats.spansExported += spans;
    else {
      stats.spansDropped += spans;
      Atomics.add(from.ring.control, CONTROL_DROPPED_SPANS, spans);
    }
    if (data.url !== undefined)
      post(
        error === undefined
          ? { type: "export", ok: true, spans }
          : { type: "export", ok: false, spans, error },
      );
  });
  return inFlight;
}

let pumping = false;

/** Sends every batch that is due, one request at a time, until none is left. */
async function pump(): Promise<void> {
  if (pumping) return;
  pumping = true;
  try {
    while (
      pending.length > 0 ||
      sources.some(
        (from) => from.current.spans > 0 && performance.now() - from.currentSince >= data.batchDelayMs,
      )
    ) {
      await exportDue(false);
      readRing();
    }
  } finally {
    pumping = false;
  }
}

function tick(): void {
  try {
    readRing();
    void pump();
  } catch (error) {
    post({ type: "export", ok: false, spans: 0, error: `reading the tick ring failed: ${String(error)}` });
  }
}

async function flush(): Promise<void> {
  readRing();
  for (;;) {
    if (inFlight) await inFlight;
    if (pending.length === 0 && sources.every((from) => from.current.spans === 0)) return;
    await exportDue(true);
  }
}

setInterval(tick, data.pollMs);
parentPort?.on("message", (message: ToWorker) => {
  if (message.type === "flush") {
    void flush().then(() => post({ type: "flushed", id: message.id }));
  } else {
    stats.activeMs = performance.eventLoopUtilization().active;
    post({ type: "stats", id: message.id, stats: { ...stats } });
  }
});
