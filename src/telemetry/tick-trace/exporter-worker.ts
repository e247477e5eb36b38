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
import {
  CONTROL_DROPPED_SPANS,
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
  TickRing,
  type RingSizing,
} from "./ring.js";
import {
  encodeAttributes,
  JsonSpanBatch,
  ProtoSpanBatch,
  type EncodedAttributes,
  type SpanBatch,
  type SpanRecord,
} from "./otlp-encode.js";
import { toHrTime } from "./tick-tracer.js";

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
const resource = encodeAttributes(data.resource);
const pending: SpanBatch[] = [];
const newBatch = (): SpanBatch =>
  data.protocol === "http/json"
    ? new JsonSpanBatch(resource, data.scopeName)
    : new ProtoSpanBatch(resource, data.scopeName);
let current = newBatch();
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
    if (message.kind === "string") strings[message.id] = message.value;
    else sets[message.id] = encodeAttributes(message.attributes);
  }
}

function readString(slot: number, at: number): string | undefined {
  const length = ring.words[at + 1]!;
  if (length === 0xffffffff) return undefined;
  const offset = ring.stringArea(slot) + ring.words[at]!;
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

/** Reads one published slot into the current batch. */
function readSlot(slot: number): void {
  const words = ring.words;
  const floats = ring.floats;
  const count = words[slot + H_SPAN_COUNT]!;
  const epochS = floats[(slot + H_EPOCH_S) >> 1]!;
  const epochNs = floats[(slot + H_EPOCH_NS) >> 1]!;
  const traceId =
    hexWord(words[slot + H_TRACE_ID]!) +
    hexWord(words[slot + H_TRACE_ID + 1]!) +
    hexWord(words[slot + H_TRACE_ID + 2]!) +
    hexWord(words[slot + H_TRACE_ID + 3]!);
  let rootId = "";
  stats.ticksRead++;
  for (let i = 0; i < count; i++) {
    const at = ring.spanWord(slot, i);
    const flags = words[at + S_FLAGS]!;
    const id = hexWord(words[at + S_SPAN_ID_HI]!) + hexWord(words[at + S_SPAN_ID_LO]!);
    if (i === 0) rootId = id;
    let name = strings[words[at + S_NAME]!];
    const setId = words[at + S_ATTRS]!;
    let set = setId === 0 ? undefined : sets[setId];
    const extraKeyId = words[at + S_EXTRA_KEY]!;
    let extraKey = extraKeyId === 0 ? undefined : strings[extraKeyId];
    if (
      name === undefined ||
      (setId !== 0 && set === undefined) ||
      (extraKeyId !== 0 && extraKey === undefined)
    ) {
      // Published before its interned values were read: they are on the port by now.
      drainInterns();
      name = strings[words[at + S_NAME]!];
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
    span.traceId = traceId;
    span.spanId = id;
    span.parentSpanId = flags & F_CHILD ? rootId : "";
    span.name = name;
    span.start = toHrTime(epochS, epochNs, floats[(at + S_START) >> 1]!);
    span.end = toHrTime(epochS, epochNs, floats[(at + S_END) >> 1]!);
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
    if (current.spans === 0) currentSince = performance.now();
    current.add(span);
    queuedSpans++;
    if (current.spans >= data.maxBatchSpans) {
      pending.push(current);
      current = newBatch();
    }
  }
  void words[slot + H_BYTES_USED];
}

/** Reads every published slot and frees it. */
function readRing(): void {
  const head = Atomics.load(ring.control, CONTROL_HEAD);
  let tail = Atomics.load(ring.control, CONTROL_TAIL);
  if (head === tail) return;
  // After loading head: every intern message posted before a slot was published is on the port.
  drainInterns();
  while (tail !== head) {
    readSlot(ring.slotWord(tail));
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

function tick(): void {
  try {
    readRing();
    void exportDue(false).then(() => (pending.length > 0 ? exportDue(false) : undefined));
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

const timer = setInterval(tick, data.pollMs);
void timer;
parentPort?.on("message", (message: ToWorker) => {
  if (message.type === "flush") {
    void flush().then(() => post({ type: "flushed", id: message.id }));
  } else if (message.type === "stats") {
    stats.activeMs = performance.eventLoopUtilization().active;
    post({ type: "stats", id: message.id, stats: { ...stats } });
  }
});
