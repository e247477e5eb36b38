/**
 * What the collector exports where compose has Tempo and Loki, which this stack does not run
 * (docs/stack.md): real OTLP servers on 127.0.0.1 that decode each export with the official
 * protobuf definitions and keep it, so tests check what the real collector sent.
 *   - OTLP/gRPC (the `otlp/tempo` exporter): an HTTP/2 cleartext server speaking gRPC's framing;
 *   - OTLP/HTTP (the `otlphttp/loki` exporter): POST <base>/v1/logs.
 */
import http from "node:http";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";
import { decodeProtobufRequest } from "../telemetry/otlp-receiver.js";

export interface Span {
  traceId: string;
  spanId: string;
  parentSpanId?: string | undefined;
  name: string;
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
}

export interface LogRecord {
  traceId?: string | undefined;
  body: unknown;
  severityText?: string | undefined;
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
}

interface KeyValue {
  key: string;
  value: Record<string, unknown>;
}

function attrs(list: KeyValue[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of list ?? [])
    out[kv.key] = Object.values((kv.value as Record<string, unknown> | undefined) ?? {})[0];
  return out;
}

/** Flattens an ExportTraceServiceRequest (JSON mapping) into spans with their resource. */
export function spansOf(request: Record<string, unknown>): Span[] {
  const out: Span[] = [];
  for (const rs of (request.resourceSpans as Record<string, unknown>[] | undefined) ?? []) {
    const resource = attrs((rs.resource as { attributes?: KeyValue[] } | undefined)?.attributes);
    for (const ss of (rs.scopeSpans as Record<string, unknown>[] | undefined) ?? []) {
      for (const s of (ss.spans as Record<string, unknown>[] | undefined) ?? []) {
        out.push({
          traceId: s.traceId as string,
          spanId: s.spanId as string,
          parentSpanId: s.parentSpanId === "" ? undefined : (s.parentSpanId as string | undefined),
          name: s.name as string,
          attributes: attrs(s.attributes as KeyValue[]),
          resource,
        });
      }
    }
  }
  return out;
}

export function logsOf(request: Record<string, unknown>): LogRecord[] {
  const out: LogRecord[] = [];
  for (const rl of (request.resourceLogs as Record<string, unknown>[] | undefined) ?? []) {
    const resource = attrs((rl.resource as { attributes?: KeyValue[] } | undefined)?.attributes);
    for (const sl of (rl.scopeLogs as Record<string, unknown>[] | undefined) ?? []) {
      for (const r of (sl.logRecords as Record<string, unknown>[] | undefined) ?? []) {
        out.push({
          traceId: r.traceId === "" ? undefined : (r.traceId as string | undefined),
          body: Object.values((r.body as Record<string, unknown> | undefined) ?? {})[0],
          severityText: r.severityText as string | undefined,
          attributes: attrs(r.attributes as KeyValue[]),
          resource,
        });
      }
    }
  }
  return out;
}

export interface GrpcTraceCapture {
  /** `host:port` for the collector's `otlp/tempo` endpoint. */
  readonly address: string;
  readonly spans: Span[];
  close(): Promise<void>;
}

/** gRPC message framing: 1 byte compressed flag, 4 bytes big-endian length, the message. */
function grpcMessages(data: Buffer, encoding: string | undefined): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at + 5 <= data.length; ) {
    const compressed = data[at] === 1;
    const length = data.readUInt32BE(at + 1);
    const message = data.subarray(at + 5, at + 5 + length);
    out.push(compressed && encoding === "gzip" ? gunzipSync(message) : message);
    at += 5 + length;
  }
  return out;
}

export function startGrpcTraceCapture(): Promise<GrpcTraceCapture> {
  const spans: Span[] = [];
  const server = http2.createServer();
  server.on("stream", (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => {
      const path = headers[":path"];
      let status = "0";
      let message = "";
      if (path !== "/opentelemetry.proto.collector.trace.v1.TraceService/Export") {
        status = "12"; // UNIMPLEMENTED
        message = `unexpected method ${String(path)}`;
      } else {
        try {
          for (const m of grpcMessages(
            Buffer.concat(chunks),
            headers["grpc-encoding"] as string | undefined,
          )) {
            spans.push(...spansOf(decodeProtobufRequest("/v1/traces", m)));
          }
        } catch (err) {
          status = "3"; // INVALID_ARGUMENT
          message = (err as Error).message;
        }
      }
      stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
      stream.on("wantTrailers", () =>
        stream.sendTrailers({ "grpc-status": status, ...(message ? { "grpc-message": message } : {}) }),
      );
      // An empty ExportTraceServiceResponse: uncompressed, length 0.
      stream.end(status === "0" ? Buffer.alloc(5) : undefined);
    });
  });
  return new Promise((done) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      done({
        address: `127.0.0.1:${port}`,
        spans,
        close: () => new Promise<void>((closed) => server.close(() => closed())),
      });
    });
  });
}

export interface HttpLogCapture {
  /** Base URL for the collector's `otlphttp/loki` endpoint (it appends /v1/logs). */
  readonly url: string;
  readonly logs: LogRecord[];
  close(): Promise<void>;
}

export function startHttpLogCapture(): Promise<HttpLogCapture> {
  const logs: LogRecord[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.method !== "POST" || req.url !== "/otlp/v1/logs") {
        res.writeHead(404).end();
        return;
      }
      let body = Buffer.concat(chunks);
      if (req.headers["content-encoding"] === "gzip") body = gunzipSync(body);
      try {
        logs.push(...logsOf(decodeProtobufRequest("/v1/logs", body)));
      } catch (err) {
        res.writeHead(400).end((err as Error).message);
        return;
      }
      res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
    });
  });
  return new Promise((done) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      done({
        url: `http://127.0.0.1:${port}/otlp`,
        logs,
        close: () => new Promise<void>((closed) => server.close(() => closed())),
      });
    });
  });
}
