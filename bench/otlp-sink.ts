/**
 * A local OTLP/HTTP receiver for benchmarks: accepts `POST /v1/traces|metrics|logs` on
 * 127.0.0.1 (port 0), answers 200 with an empty body (a valid empty protobuf response) and
 * counts requests and bytes. Stands in for a reachable collector.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface OtlpSink {
  readonly url: string;
  readonly counts: { requests: number; bytes: number; bySignal: Record<string, number> };
  shutdown(): Promise<void>;
}

export async function startOtlpSink(): Promise<OtlpSink> {
  const counts = { requests: 0, bytes: 0, bySignal: {} as Record<string, number> };
  const server: Server = createServer((req, res) => {
    const signal = /^\/v1\/(traces|metrics|logs)$/.exec(req.url ?? "")?.[1];
    req.on("data", (chunk: Buffer) => {
      counts.bytes += chunk.length;
    });
    req.on("end", () => {
      if (req.method !== "POST" || signal === undefined) {
        res.writeHead(404).end();
        return;
      }
      counts.requests++;
      counts.bySignal[signal] = (counts.bySignal[signal] ?? 0) + 1;
      const json = (req.headers["content-type"] ?? "").includes("json");
      res
        .writeHead(200, { "content-type": json ? "application/json" : "application/x-protobuf" })
        .end(json ? "{}" : "");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  let closed: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    shutdown() {
      closed ??= new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
      return closed;
    },
  };
}
