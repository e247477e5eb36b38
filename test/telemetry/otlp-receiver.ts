import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

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
  attributes?: KeyValue[];
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
 * An OTLP/HTTP receiver on 127.0.0.1 that decodes the JSON encoding (`otlp.protocol: http/json`)
 * of ExportTrace/Metrics/LogsServiceRequest and keeps what arrived. `failing` makes it answer 503.
 */
export class OtlpReceiver {
  readonly spans: Received<OtlpSpan>[] = [];
  readonly logs: Received<OtlpLogRecord>[] = [];
  readonly metrics: Received<OtlpMetric>[] = [];
  readonly requests: { path: string; contentType: string | undefined }[] = [];
  /** Raw bodies of `application/x-protobuf` requests (not decoded: no official .proto files here). */
  readonly protobufBodies: { path: string; body: Buffer }[] = [];
  /** Answer 503 to everything (a collector that is up but refusing). */
  failing = false;
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
        if (request.method === "POST" && request.headers["content-type"] === "application/x-protobuf") {
          this.protobufBodies.push({ path: request.url ?? "", body: Buffer.concat(chunks) });
          response.writeHead(200, { "content-type": "application/x-protobuf" }).end();
          return;
        }
        if (request.method !== "POST" || request.headers["content-type"] !== "application/json") {
          response.writeHead(415).end("expected application/json (otlp.protocol: http/json)");
          return;
        }
        try {
          this.decode(
            request.url ?? "",
            JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>,
          );
        } catch (error) {
          response.writeHead(400).end(String(error));
          return;
        }
        response.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private decode(path: string, body: Record<string, unknown>): void {
    type Scoped<K extends string, T> = { resource?: Resource } & Record<
      K,
      { [key: string]: T[] }[] | undefined
    >;
    if (path === "/v1/traces") {
      for (const rs of (body.resourceSpans as Scoped<"scopeSpans", OtlpSpan>[]) ?? []) {
        for (const scope of rs.scopeSpans ?? [])
          for (const item of scope.spans ?? [])
            this.spans.push({ resource: attributes(rs.resource?.attributes), item });
      }
    } else if (path === "/v1/logs") {
      for (const rl of (body.resourceLogs as Scoped<"scopeLogs", OtlpLogRecord>[]) ?? []) {
        for (const scope of rl.scopeLogs ?? [])
          for (const item of scope.logRecords ?? [])
            this.logs.push({ resource: attributes(rl.resource?.attributes), item });
      }
    } else if (path === "/v1/metrics") {
      for (const rm of (body.resourceMetrics as Scoped<"scopeMetrics", OtlpMetric>[]) ?? []) {
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
