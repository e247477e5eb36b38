/**
 * OTLP trace encoding for the tick-trace worker, by hand, instead of the SDK's ReadableSpan ->
 * transformer object -> serializer chain: attribute sets are encoded once, in both encodings;
 * `JsonSpanBatch` builds `ExportTraceServiceRequest` (opentelemetry/proto/collector/trace/v1) in
 * the OTLP/JSON mapping from plain span values, and `ProtoWriter` is the protobuf writer the
 * worker's ring-to-protobuf batch uses (see `exporter-worker.ts`).
 */
import type { AttributeValue, Attributes, HrTime } from "@opentelemetry/api";

/** One span as the worker read it from the ring. */
export interface SpanRecord {
  traceId: string;
  spanId: string;
  /** Empty for the tick's root. */
  parentSpanId: string;
  name: string;
  start: HrTime;
  end: HrTime;
  /** Pre-encoded attribute sets (see {@link encodeAttributes}), in order. */
  attributes: EncodedAttributes[];
  error: boolean;
  statusMessage: string | undefined;
  /** Attributes of one `exception` event at `end`, or undefined. */
  exception: EncodedAttributes | undefined;
}

/** An attribute set in both encodings: JSON KeyValue objects joined by commas, and protobuf KeyValue messages. */
export interface EncodedAttributes {
  readonly count: number;
  readonly json: string;
  /** Each KeyValue message, unframed (the field tag depends on where it is used). */
  readonly proto: readonly Buffer[];
}

export function encodeAttributes(attributes: Attributes): EncodedAttributes {
  const json: string[] = [];
  const proto: Buffer[] = [];
  for (const [key, value] of Object.entries(attributes)) {
    if (value == null) continue; // a plain-JS caller's null is typed out but possible
    json.push(`{"key":${JSON.stringify(key)},"value":${jsonAnyValue(value)}}`);
    const w = new ProtoWriter();
    w.string(1, key);
    w.message(2, protoAnyValue(value));
    proto.push(w.finish());
  }
  return { count: json.length, json: json.join(","), proto };
}

function jsonAnyValue(value: AttributeValue): string {
  if (typeof value === "string") return `{"stringValue":${JSON.stringify(value)}}`;
  if (typeof value === "boolean") return `{"boolValue":${String(value)}}`;
  if (typeof value === "number")
    return Number.isInteger(value) ? `{"intValue":${value}}` : `{"doubleValue":${value}}`;
  const values = (value as readonly unknown[]).map((item) =>
    item === null || item === undefined ? "{}" : jsonAnyValue(item as AttributeValue),
  );
  return `{"arrayValue":{"values":[${values.join(",")}]}}`;
}

function protoAnyValue(value: AttributeValue): Buffer {
  const w = new ProtoWriter();
  if (typeof value === "string") w.string(1, value);
  else if (typeof value === "boolean") w.varintField(2, value ? 1 : 0);
  else if (typeof value === "number") {
    if (Number.isInteger(value)) w.int64(3, value);
    else w.double(4, value);
  } else {
    const array = new ProtoWriter();
    for (const item of value as readonly unknown[]) {
      array.message(
        1,
        item === null || item === undefined ? Buffer.alloc(0) : protoAnyValue(item as AttributeValue),
      );
    }
    w.message(5, array.finish());
  }
  return w.finish();
}

/**
 * Nanoseconds since the epoch as the low and high 32-bit halves of a fixed64, exactly, in
 * doubles (no BigInt): with s = sHi * 2^16 + sLo every product stays below 2^53.
 */
export function unixNanoHalves(s: number, ns: number): [lo: number, hi: number] {
  const sHi = Math.floor(s / 65536);
  const sLo = s - sHi * 65536;
  const high = sHi * 1e9; // to be scaled by 2^16
  const low = (high % 65536) * 65536 + sLo * 1e9 + ns;
  return [low % 4294967296, Math.floor(high / 65536) + Math.floor(low / 4294967296)];
}

/** Nanoseconds since the epoch as a decimal string. */
export function unixNanoString(time: HrTime): string {
  const ns = String(time[1]);
  return time[0] === 0 ? ns : String(time[0]) + "000000000".slice(ns.length) + ns;
}

const SPAN_KIND_INTERNAL = 1;
const STATUS_CODE_ERROR = 2;

/** Spans collected for one export request in one encoding. */
export interface SpanBatch {
  readonly spans: number;
  readonly contentType: string;
  add(span: SpanRecord): void;
  /** The request body for everything added since the last call, and resets. */
  take(): string | Buffer;
  /** Empties the batch for reuse once its request is done. */
  reset(): void;
}

/** `application/json`. */
export class JsonSpanBatch implements SpanBatch {
  readonly contentType = "application/json";
  spans = 0;
  private parts: string[] = [];
  private readonly prefix: string;

  constructor(resource: EncodedAttributes, scopeName: string) {
    this.prefix = `{"resourceSpans":[{"resource":{"attributes":[${resource.json}],"droppedAttributesCount":0},"scopeSpans":[{"scope":{"name":${JSON.stringify(scopeName)}},"spans":[`;
  }

  add(span: SpanRecord): void {
    let attributes = "";
    for (const set of span.attributes) {
      if (set.count === 0) continue;
      attributes = attributes === "" ? set.json : attributes + "," + set.json;
    }
    const end = unixNanoString(span.end);
    let out =
      `{"traceId":"${span.traceId}","spanId":"${span.spanId}",` +
      (span.parentSpanId === "" ? "" : `"parentSpanId":"${span.parentSpanId}",`) +
      `"name":${JSON.stringify(span.name)},"kind":${SPAN_KIND_INTERNAL},` +
      `"startTimeUnixNano":"${unixNanoString(span.start)}","endTimeUnixNano":"${end}",` +
      `"attributes":[${attributes}],"droppedAttributesCount":0`;
    if (span.exception)
      out += `,"events":[{"timeUnixNano":"${end}","name":"exception","attributes":[${span.exception.json}],"droppedAttributesCount":0}]`;
    out += span.error
      ? `,"status":{"code":${STATUS_CODE_ERROR}${span.statusMessage !== undefined ? `,"message":${JSON.stringify(span.statusMessage)}` : ""}}}`
      : `,"status":{"code":0}}`;
    this.parts.push(out);
    this.spans++;
  }

  take(): string {
    const body = this.prefix + this.parts.join(",") + "]}]}]}";
    this.parts = [];
    this.spans = 0;
    return body;
  }

  /** Nothing to do: {@link take} already emptied the batch. */
  reset(): void {
    // the body was built by take(); no buffer is kept
  }
}

/** A minimal protobuf writer: varints, length-delimited fields, fixed64 and doubles. */
export class ProtoWriter {
  private buf = Buffer.allocUnsafe(256);
  private pos = 0;

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  varint(value: number): void {
    this.ensure(10);
    let v = value;
    while (v > 0x7f) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
  }

  varintField(field: number, value: number): void {
    this.varint(field << 3);
    this.varint(value);
  }

  /** int64 as a varint; negative values as ten-byte two's complement. */
  int64(field: number, value: number): void {
    this.varint(field << 3);
    if (value >= 0) {
      this.varint(value);
      return;
    }
    let v = BigInt.asUintN(64, BigInt(value));
    this.ensure(10);
    while (v > 0x7fn) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.pos++] = Number(v);
  }

  tagLength(field: number, length: number): void {
    this.varint((field << 3) | 2);
    this.varint(length);
  }

  string(field: number, value: string): void {
    const length = Buffer.byteLength(value, "utf8");
    this.tagLength(field, length);
    this.ensure(length);
    this.pos += this.buf.write(value, this.pos, "utf8");
  }

  hexBytes(field: number, hex: string): void {
    const length = hex.length >> 1;
    this.tagLength(field, length);
    this.ensure(length);
    this.pos += this.buf.write(hex, this.pos, "hex");
  }

  message(field: number, bytes: Buffer): void {
    this.tagLength(field, bytes.length);
    this.ensure(bytes.length);
    bytes.copy(this.buf, this.pos);
    this.pos += bytes.length;
  }

  fixed64Time(field: number, time: HrTime): void {
    this.varint((field << 3) | 1);
    this.ensure(8);
    this.buf.writeBigUInt64LE(BigInt(time[0]) * 1_000_000_000n + BigInt(time[1]), this.pos);
    this.pos += 8;
  }

  double(field: number, value: number): void {
    this.varint((field << 3) | 1);
    this.ensure(8);
    this.buf.writeDoubleLE(value, this.pos);
    this.pos += 8;
  }

  /** The bytes written, copied out; the writer is reset for reuse. */
  finish(): Buffer {
    const out = Buffer.from(this.buf.subarray(0, this.pos));
    this.pos = 0;
    return out;
  }
}
