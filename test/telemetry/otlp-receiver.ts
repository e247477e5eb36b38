import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
// The official OTLP message definitions (opentelemetry-proto), compiled by protobufjs: the
// generated module an older @opentelemetry/otlp-transformer shipped, installed under an alias.
import generatedRoot from "otlp-official-protos/build/src/generated/root";
import type { IConversionOptions } from "protobufjs";

/** The static protobufjs API of one generated message type (its .d.ts only says `Root`). */
interface MessageType {
  decode(body: Uint8Array): object;
  toObject(message: object, options: IConversionOptions): Record<string, unknown>;
}
type ServiceRequest<S extends string, R extends string> = Record<S, { v1: Record<R, MessageType> }>;
const collector = (
  generatedRoot as unknown as {
    opentelemetry: {
      proto: {
        collector: ServiceRequest<"trace", "ExportTraceServiceRequest"> &
          ServiceRequest<"metrics", "ExportMetricsServiceRequest"> &
          ServiceRequest<"logs", "ExportLogsServiceRequest">;
      };
    };
  }
).opentelemetry.proto.collector;

const SERVICE_REQUESTS: Record<string, MessageType> = {
  "/v1/traces": collector.trace.v1.ExportTraceServiceRequest,
  "/v1/metrics": collector.metrics.v1.ExportMetricsServiceRequest,
  "/v1/logs": collector.logs.v1.ExportLogsServiceRequest,
};

/** Id fields are bytes in protobuf and lowercase hex in the JSON mapping. */
const ID_FIELDS = new Set(["traceId", "spanId", "parentSpanId"]);

/**
 * Decodes an `application/x-protobuf` export request with the official definitions and turns it
 * into the OTLP/JSON mapping (int64 as strings, ids as hex), so both encodings are checked alike.
 */
export function decodeProtobufRequest(path: string, body: Buffer): Record<string, unknown> {
  const type = SERVICE_REQUESTS[path];
  if (!type) throw new Error(`unexpected path ${path}`);
  const object = type.toObject(type.decode(body), { longs: String, enums: Number, arrays: false });
  return toJsonMapping(object) as Record<string, unknown>;
}

function toJsonMapping(value: unknown, key = ""): unknown {
  if (value instanceof Uint8Array) return ID_FIELDS.has(key) ? Buffer.from(value).toString("hex") : value;
  if (Array.isArray(value)) return value.map((item) => toJsonMapping(item));
  if (value !== null && typeof value === "object")
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJsonMapping(v, k)]));
  return value;
}

/** OTLP/JSON attribute value (opentelemetry/proto/common/v1/common.proto, JSON mapping). */
export interface AnyValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
}
export interface KeyValue {
  key: string;
  value: AnyValue;
}
interface Resource {
  attributes?: KeyValue[];
}
export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string | number;
  endTimeUnixNano: string | number;
  attributes?: KeyValue[];
  events?: { name: string; timeUnixNano: string | number; attributes?: KeyValue[] }[];
  status?: { code?: number; message?: string };
}
export interface OtlpLogRecord {
  traceId?: string;
  spanId?: string;
  severityText?: string;
  body?: AnyValue;
  attributes?: KeyValue[];
}
export interface OtlpMetric {
  name: string;
  unit?: string;
  histogram?: {
    dataPoints: { attributes?: KeyValue[]; count: string | number; explicitBounds?: number[] }[];
  };
  sum?: { dataPoints: { attributes?: KeyValue[] }[] };
  gauge?: { dataPoints: { attributes?: KeyValue[] }[] };
}

/** One decoded export request, flattened with its resource attributes. */
export interface Received<T> {
  resource: Record<string, string | number | boolean>;
  item: T;
  /** The instrumentation scope the item came under (spans only). */
  scope?: { name?: string; version?: string };
}

export function attributes(list: KeyValue[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const { key, value } of list ?? []) {
    out[key] =
      value.stringValue ??
      (value.intValue !== undefined ? Number(value.intValue) : undefined) ??
      value.doubleValue ??
      value.boolValue ??
      "";
  }
  return out;
}

/**
 * An OTLP/HTTP receiver on 127.0.0.1 that decodes ExportTrace/Metrics/LogsServiceRequest in both
 * encodings (`http/json`, and `http/protobuf` with the official definitions) and keeps what
 * arrived. `failing` makes it answer 503.
 */
const ENCODINGS = ["application/json", "application/x-protobuf"];

export class OtlpReceiver {
  readonly spans: Received<OtlpSpan>[] = [];
  readonly logs: Received<OtlpLogRecord>[] = [];
  readonly metrics: Received<OtlpMetric>[] = [];
  readonly requests: { path: string; contentType: string | undefined }[] = [];
  /** Answer 503 to everything (a collector that is up but refusing). */
  failing = false;
  /** Answer {@link failStatus} to the next this many requests, then recover. */
  failNext = 0;
  failStatus = 503;
  private server: Server | undefined;

  async start(): Promise<string> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        this.requests.push({ path: request.url ?? "", contentType: request.headers["content-type"] });
        if (this.failing) {
          response.writeHead(503).end();
          return;
        }
        if (this.failNext > 0) {
          this.failNext--;
          response.writeHead(this.failStatus).end();
          return;
        }
        const contentType = request.headers["content-type"];
        const path = request.url ?? "";
        const body = Buffer.concat(chunks);
        if (request.method !== "POST" || !ENCODINGS.includes(contentType ?? "")) {
          response.writeHead(415).end(`expected ${ENCODINGS.join(" or ")}`);
          return;
        }
        try {
          this.decode(
            path,
            contentType === "application/x-protobuf"
              ? decodeProtobufRequest(path, body)
              : (JSON.parse(body.toString("utf8")) as Record<string, unknown>),
          );
        } catch (error) {
          response.writeHead(400).end(String(error));
          return;
        }
        // An empty Export*ServiceResponse is an empty body in protobuf and `{}` in JSON.
        if (contentType === "application/x-protobuf")
          response.writeHead(200, { "content-type": "application/x-protobuf" }).end();
        else response.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private decode(path: string, body: Record<string, unknown>): void {
    type Scoped<K extends string, T> = { resource?: Resource } & Record<K, Record<string, T[]>[] | undefined>;
    if (path === "/v1/traces") {
      for (const rs of (body.resourceSpans as Scoped<"scopeSpans", OtlpSpan>[] | undefined) ?? []) {
        for (const scope of rs.scopeSpans ?? [])
          for (const item of scope.spans ?? [])
            this.spans.push({
              resource: attributes(rs.resource?.attributes),
              item,
              scope: (scope as { scope?: { name?: string; version?: string } }).scope ?? {},
            });
      }
    } else if (path === "/v1/logs") {
      for (const rl of (body.resourceLogs as Scoped<"scopeLogs", OtlpLogRecord>[] | undefined) ?? []) {
        for (const scope of rl.scopeLogs ?? [])
          for (const item of scope.logRecords ?? [])
            this.logs.push({ resource: attributes(rl.resource?.attributes), item });
      }
    } else if (path === "/v1/metrics") {
      for (const rm of (body.resourceMetrics as Scoped<"scopeMetrics", OtlpMetric>[] | undefined) ?? []) {
        for (const scope of rm.scopeMetrics ?? [])
          for (const item of scope.metrics ?? [])
            this.metrics.push({ resource: attributes(rm.resource?.attributes), item });
      }
    } else {
      throw new Error(`unexpected path ${path}`);
    }
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Polls until `check` returns true, or fails with `what` after `timeoutMs`. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
