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
import type { Attributes } from "@opentelemetry/api";
import { hexWord } from "./ids.js";
import type { InternMessage } from "./ring-tick-tracer.js";
import * as layout from "./ring.js";
import { TickRing, type RingSizing } from "./ring.js";
import {
  encodeAttributes,
  JsonSpanBatch,
  ProtoWriter,
  unixNanoHalves,
  type EncodedAttributes,
  type SpanBatch,
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
  resource: Attributes;
  scopeName: string;
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
  /** This thread's busy time (event-loop utilization), milliseconds. */
  activeMs: number;
}

const data = workerData as ExporterWorkerData;
const ring = new TickRing(data.sizing, data.buffer);
const strings: (string | undefined)[] = [undefined];
const sets: (EncodedAttributes | undefined)[] = [undefined];
/** Per interned string: its bytes as a `name` field (5) and as a KeyValue `key` field (1). */
const nameFields: (Buffer | undefined)[] = [undefined];
const keyFields: (Buffer | undefined)[] = [undefined];
/** Per attribute set: its KeyValue messages framed as Span.attributes (9), concatenated. */
const setFields: (Buffer | undefined)[] = [undefined];
/** An absent field, for the type's sake: readSlot checks every id is interned before a span is encoded. */
const NO_FIELD = Buffer.alloc(0);
const resource = encodeAttributes(data.resource);
const proto = data.protocol !== "http/json";
const pending: (SpanBatch | RingProtoBatch)[] = [];
const newBatch = (): SpanBatch | RingProtoBatch =>
  proto ? new RingProtoBatch(resource, data.scopeName) : new JsonSpanBatch(resource, data.scopeName);
// Assigned below the batch classes (a class is not usable before its declaration runs).
let current: SpanBatch | RingProtoBatch;
let currentSince = 0;
let queuedSpans = 0;
let inFlight: Promise<void> | undefined;
const stats: ExporterStats = { ticksRead: 0, spansRead: 0, spansExported: 0, spansDropped: 0, activeMs: 0 };
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
    if (message.kind === "string") {
      strings[message.id] = message.value;
      const name = new ProtoWriter();
      name.string(5, message.value);
      nameFields[message.id] = name.finish();
      const key = new ProtoWriter();
      key.string(1, message.value);
      keyFields[message.id] = key.finish();
    } else {
      const set = encodeAttributes(message.attributes);
      sets[message.id] = set;
      const framed = new ProtoWriter();
      for (const kv of set.proto) framed.message(9, kv);
      setFields[message.id] = framed.finish();
    }
  }
}

function readString(slot: number, at: number): string | undefined {
  const length = ring.words[at + 1] ?? 0;
  if (length === 0xffffffff) return undefined;
  const offset = ring.stringArea(slot) + (ring.words[at] ?? 0);
  return Buffer.from(ring.buffer, ring.bytes.byteOffset + offset, length).toString("utf8");
}

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

/**
 * OTLP/protobuf straight from the ring: ids copied as bytes, names and attribute sets as bytes
 * encoded once per interned value, string attributes copied from the slot (already UTF-8), and
 * timestamps as fixed64 without BigInt. One growing buffer per batch; nothing allocated per
 * span except on the error path.
 */
class RingProtoBatch {
  readonly contentType = "application/x-protobuf";
  spans = 0;
  private out = Buffer.allocUnsafe(1 << 16);
  private pos = 0;
  /** Where the span being encoded is written: `out`, after a reserved tag and length. */
  private scratch: Buffer = this.out;
  private sp = 0;
  private readonly resource: Buffer;
  private readonly scope: Buffer;

  constructor(resourceAttributes: EncodedAttributes, scopeName: string) {
    const r = new ProtoWriter();
    for (const kv of resourceAttributes.proto) r.message(1, kv);
    this.resource = r.finish();
    const sc = new ProtoWriter();
    sc.string(1, scopeName);
    this.scope = sc.finish();
  }

  private byte(b: number): void {
    this.scratch[this.sp++] = b;
  }

  private varint(value: number): void {
    let v = value;
    while (v > 0x7f) {
      this.scratch[this.sp++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.scratch[this.sp++] = v;
  }

  private word(w: number): void {
    const b = this.scratch;
    b[this.sp++] = w >>> 24;
    b[this.sp++] = (w >>> 16) & 0xff;
    b[this.sp++] = (w >>> 8) & 0xff;
    b[this.sp++] = w & 0xff;
  }

  private copy(source: Buffer | Uint8Array, start = 0, end = source.length): void {
    const b = this.scratch;
    if (end - start <= 64) {
      // Short copies (ids, names, attribute sets) byte by byte: cheaper than a view and a set.
      let sp = this.sp;
      for (let i = start; i < end; i++) b[sp++] = source[i] ?? 0;
      this.sp = sp;
      return;
    }
    b.set(source.subarray(start, end), this.sp);
    this.sp += end - start;
  }

  /** `monoMs` on the wall-clock axis as fixed64 nanoseconds, exactly, in doubles. */
  private time(field: number, epochS: number, epochNs: number, monoMs: number): void {
    const [s, ns] = toHrTime(epochS, epochNs, monoMs);
    const [lo, hi] = unixNanoHalves(s, ns);
    this.byte((field << 3) | 1);
    this.scratch.writeUInt32LE(lo, this.sp);
    this.scratch.writeUInt32LE(hi, this.sp + 4);
    this.sp += 8;
  }

  /** A string the trading thread wrote into the slot, as a length-delimited field; false when absent. */
  private slotString(field: number, slot: number, at: number): boolean {
    const length = ring.words[at + 1] ?? 0;
    if (length === 0xffffffff) return false;
    const offset = ring.stringArea(slot) + (ring.words[at] ?? 0);
    this.byte((field << 3) | 2);
    this.varint(length);
    this.copy(ring.bytes, offset, offset + length);
    return true;
  }

  addFromRing(
    slot: number,
    at: number,
    flags: number,
    epochS: number,
    epochNs: number,
    extraKeyId: number,
  ): void {
    const words = ring.words;
    const floats = ring.floats;
    // Room for the largest span: fixed fields, attribute sets, the slot's strings, an exception.
    const room = 4096 + 4 * ring.sizing.stringBytes;
    if (this.pos + room > this.out.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.out.length * 2, this.pos + room));
      this.out.copy(grown, 0, 0, this.pos);
      this.out = grown;
    }
    // ScopeSpans.spans (2): the tag, three bytes reserved for the length, then the span itself.
    const head = this.pos;
    this.scratch = this.out;
    this.sp = head + 4;
    this.byte(0x0a);
    this.byte(16);
    for (let i = 0; i < 4; i++) this.word(words[slot + H_TRACE_ID + i] ?? 0);
    this.byte(0x12);
    this.byte(8);
    this.word(words[at + S_SPAN_ID_HI] ?? 0);
    this.word(words[at + S_SPAN_ID_LO] ?? 0);
    if (flags & F_CHILD) {
      const root = ring.spanWord(slot, 0);
      this.byte(0x22);
      this.byte(8);
      this.word(words[root + S_SPAN_ID_HI] ?? 0);
      this.word(words[root + S_SPAN_ID_LO] ?? 0);
    }
    this.copy(nameFields[words[at + S_NAME] ?? 0] ?? NO_FIELD);
    this.byte(0x30);
    this.byte(1); // SPAN_KIND_INTERNAL
    this.time(7, epochS, epochNs, floats[(at + S_START) >> 1] ?? 0);
    this.time(8, epochS, epochNs, floats[(at + S_END) >> 1] ?? 0);
    const setId = words[at + S_ATTRS] ?? 0;
    if (setId !== 0) this.copy(setFields[setId] ?? NO_FIELD);
    if (extraKeyId !== 0 && words[at + S_EXTRA_VALUE + 1] !== 0xffffffff) {
      const key = keyFields[extraKeyId] ?? NO_FIELD;
      const valueLength = words[at + S_EXTRA_VALUE + 1] ?? 0;
      const anyValue = 1 + varintSize(valueLength) + valueLength;
      const keyValue = key.length + 1 + varintSize(anyValue) + anyValue;
      this.byte(0x4a);
      this.varint(keyValue);
      this.copy(key);
      this.byte(0x12);
      this.varint(anyValue);
      this.slotString(1, slot, at + S_EXTRA_VALUE);
    }
    if (flags & F_EXCEPTION) this.exception(slot, at, epochS, epochNs);
    if (flags & F_ERROR) {
      const status = new ProtoWriter();
      const message = readString(slot, at + S_STATUS_MESSAGE);
      if (message !== undefined) status.string(2, message);
      status.varintField(3, 2); // STATUS_CODE_ERROR
      const bytes = status.finish();
      this.byte(0x7a);
      this.varint(bytes.length);
      this.copy(bytes);
    } else {
      this.byte(0x7a);
      this.byte(0);
    }
    const length = this.sp - (head + 4);
    const out = this.out;
    out[head] = 0x12;
    let w = head + 1;
    let v = length;
    while (v > 0x7f) {
      out[w++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    out[w++] = v;
    if (w < head + 4) out.copyWithin(w, head + 4, this.sp);
    this.pos = w + length;
    this.spans++;
  }

  /** The error path: one `exception` event at the span's end (allocates; errors are rare). */
  private exception(slot: number, at: number, epochS: number, epochNs: number): void {
    const exception: Attributes = {};
    const type = readString(slot, at + S_EXCEPTION_TYPE);
    const message = readString(slot, at + S_EXCEPTION_MESSAGE);
    const stack = readString(slot, at + S_EXCEPTION_STACK);
    if (type !== undefined) exception["exception.type"] = type;
    if (message !== undefined) exception["exception.message"] = message;
    if (stack !== undefined) exception["exception.stacktrace"] = stack;
    const event = new ProtoWriter();
    event.fixed64Time(1, toHrTime(epochS, epochNs, ring.floats[(at + S_END) >> 1] ?? 0));
    event.string(2, "exception");
    for (const kv of encodeAttributes(exception).proto) event.message(3, kv);
    const bytes = event.finish();
    this.byte(0x5a);
    this.varint(bytes.length);
    this.copy(bytes);
  }

  take(): Buffer {
    const scopeHead = new ProtoWriter();
    scopeHead.message(1, this.scope);
    const scopeBytes = scopeHead.finish();
    const scopeSpansLength = scopeBytes.length + this.pos;
    const resourceField = new ProtoWriter();
    resourceField.message(1, this.resource);
    const resourceBytes = resourceField.finish();
    const scopeSpansTag = new ProtoWriter();
    scopeSpansTag.tagLength(2, scopeSpansLength);
    const scopeTagBytes = scopeSpansTag.finish();
    const head = new ProtoWriter();
    head.tagLength(1, resourceBytes.length + scopeTagBytes.length + scopeSpansLength);
    const body = Buffer.concat([
      head.finish(),
      resourceBytes,
      scopeTagBytes,
      scopeBytes,
      this.out.subarray(0, this.pos),
    ]);
    this.pos = 0;
    this.spans = 0;
    return body;
  }
}

function varintSize(value: number): number {
  let size = 1;
  for (let v = value; v > 0x7f; v >>>= 7) size++;
  return size;
}

/** Reads one published slot into the current batch. */
function readSlot(slot: number): void {
  const words = ring.words;
  const floats = ring.floats;
  const count = words[slot + H_SPAN_COUNT] ?? 0;
  const epochS = floats[(slot + H_EPOCH_S) >> 1] ?? 0;
  const epochNs = floats[(slot + H_EPOCH_NS) >> 1] ?? 0;
  const traceId = proto
    ? ""
    : hexWord(words[slot + H_TRACE_ID] ?? 0) +
      hexWord(words[slot + H_TRACE_ID + 1] ?? 0) +
      hexWord(words[slot + H_TRACE_ID + 2] ?? 0) +
      hexWord(words[slot + H_TRACE_ID + 3] ?? 0);
  let rootId = "";
  stats.ticksRead++;
  for (let i = 0; i < count; i++) {
    const at = ring.spanWord(slot, i);
    const flags = words[at + S_FLAGS] ?? 0;
    const id = proto ? "" : hexWord(words[at + S_SPAN_ID_HI] ?? 0) + hexWord(words[at + S_SPAN_ID_LO] ?? 0);
    if (i === 0) rootId = id;
    let name = strings[words[at + S_NAME] ?? 0];
    const setId = words[at + S_ATTRS] ?? 0;
    let set = setId === 0 ? undefined : sets[setId];
    const extraKeyId = words[at + S_EXTRA_KEY] ?? 0;
    let extraKey = extraKeyId === 0 ? undefined : strings[extraKeyId];
    if (
      name === undefined ||
      (setId !== 0 && set === undefined) ||
      (extraKeyId !== 0 && extraKey === undefined)
    ) {
      // Published before its interned values were read: they are on the port by now.
      drainInterns();
      name = strings[words[at + S_NAME] ?? 0];
      set = setId === 0 ? undefined : sets[setId];
      extraKey = extraKeyId === 0 ? undefined : strings[extraKeyId];
      if (name === undefined) {
        stats.spansDropped++;
        Atomics.add(ring.control, CONTROL_DROPPED_SPANS, 1);
        continue;
      }
    }
    stats.spansRead++;
    if (queuedSpans >= data.maxQueueSpans) {
      stats.spansDropped++;
      Atomics.add(ring.control, CONTROL_DROPPED_SPANS, 1);
      continue;
    }
    if (current.spans === 0) currentSince = performance.now();
    queuedSpans++;
    if (proto) {
      (current as RingProtoBatch).addFromRing(slot, at, flags, epochS, epochNs, extraKeyId);
      if (current.spans >= data.maxBatchSpans) {
        pending.push(current);
        current = newBatch();
      }
      continue;
    }
    span.traceId = traceId;
    span.spanId = id;
    span.parentSpanId = flags & F_CHILD ? rootId : "";
    span.name = name;
    span.start = toHrTime(epochS, epochNs, floats[(at + S_START) >> 1] ?? 0);
    span.end = toHrTime(epochS, epochNs, floats[(at + S_END) >> 1] ?? 0);
    const attributes: EncodedAttributes[] = [];
    if (set) attributes.push(set);
    if (extraKey !== undefined) {
      const value = readString(slot, at + S_EXTRA_VALUE);
      if (value !== undefined) attributes.push(encodeAttributes({ [extraKey]: value }));
    }
    span.attributes = attributes;
    span.error = (flags & F_ERROR) !== 0;
    span.statusMessage = span.error ? readString(slot, at + S_STATUS_MESSAGE) : undefined;
    span.exception = undefined;
    if (flags & F_EXCEPTION) {
      const exception: Attributes = {};
      const type = readString(slot, at + S_EXCEPTION_TYPE);
      const message = readString(slot, at + S_EXCEPTION_MESSAGE);
      const stack = readString(slot, at + S_EXCEPTION_STACK);
      if (type !== undefined) exception["exception.type"] = type;
      if (message !== undefined) exception["exception.message"] = message;
      if (stack !== undefined) exception["exception.stacktrace"] = stack;
      span.exception = encodeAttributes(exception);
    }
    (current as SpanBatch).add(span);
    if (current.spans >= data.maxBatchSpans) {
      pending.push(current);
      current = newBatch();
    }
  }
}

/** Reads every published slot and frees it. */
function readRing(): void {
  const head = Atomics.load(ring.control, CONTROL_HEAD);
  let tail = Atomics.load(ring.control, CONTROL_TAIL);
  if (head === tail) return;
  // After loading head: every intern message posted before a slot was published is on the port.
  drainInterns();
  while (tail !== head) {
    const slot = ring.slotWord(tail);
    try {
      readSlot(slot);
    } catch (error) {
      // A slot that cannot be read is skipped (its spans counted as dropped), so one bad record
      // never stops the ring: the trading thread would otherwise find it full forever.
      const spans = ring.words[slot + H_SPAN_COUNT] ?? 0;
      stats.spansDropped += spans;
      Atomics.add(ring.control, CONTROL_DROPPED_SPANS, spans);
      post({ type: "export", ok: false, spans, error: `a tick record could not be read: ${String(error)}` });
    }
    tail = (tail + 1) | 0;
    Atomics.store(ring.control, CONTROL_TAIL, tail);
  }
}

function send(body: string | Buffer, contentType: string): Promise<string | undefined> {
  const url = data.url;
  if (url === undefined) return Promise.resolve(undefined);
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
        resolve(status >= 200 && status < 300 ? undefined : `the collector answered HTTP ${status}`);
      });
      response.on("error", (error) => resolve(error.message));
    });
    request.on("timeout", () => request.destroy(new Error(`no answer within ${data.timeoutMs} ms`)));
    request.on("error", (error) => resolve(error.message));
    request.end(body);
  });
}

/** Sends the batches that are due (all of them when `all`), one request at a time. */
function exportDue(all: boolean): Promise<void> {
  if (inFlight) return inFlight;
  if (current.spans > 0 && (all || performance.now() - currentSince >= data.batchDelayMs)) {
    pending.push(current);
    current = newBatch();
  }
  const batch = pending.shift();
  if (!batch) return Promise.resolve();
  const spans = batch.spans;
  const body = batch.take();
  inFlight = send(body, batch.contentType).then((error) => {
    inFlight = undefined;
    queuedSpans -= spans;
    if (error === undefined) stats.spansExported += spans;
    else {
      stats.spansDropped += spans;
      Atomics.add(ring.control, CONTROL_DROPPED_SPANS, spans);
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
      (current.spans > 0 && performance.now() - currentSince >= data.batchDelayMs)
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
    if (pending.length === 0 && current.spans === 0) return;
    await exportDue(true);
  }
}

current = newBatch();
setInterval(tick, data.pollMs);
parentPort?.on("message", (message: ToWorker) => {
  if (message.type === "flush") {
    void flush().then(() => post({ type: "flushed", id: message.id }));
  } else {
    stats.activeMs = performance.eventLoopUtilization().active;
    post({ type: "stats", id: message.id, stats: { ...stats } });
  }
});
