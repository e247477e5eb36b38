import http from "node:http";
import type { AddressInfo } from "node:net";

/** One request the fake server received. */
export interface ReceivedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON bodies
  body: any;
  atMs: number;
}

/** How the fake answers the next requests. */
export type FakeMode =
  | { kind: "ok" }
  | { kind: "status"; status: number; body?: string }
  | { kind: "telegram429"; retryAfterSeconds: number }
  | { kind: "slack429"; retryAfterSeconds: number }
  | { kind: "hang" };

/**
 * A real HTTP server on 127.0.0.1 (port 0) standing in for Telegram, Slack or any webhook. It
 * records every request and answers per its switches: `mode` for every request, `queue` for
 * the next ones (first wins).
 */
export interface FakeHttpServer {
  readonly url: string;
  readonly requests: ReceivedRequest[];
  mode: FakeMode;
  /** Answers for the next requests, in order, before falling back to `mode`. */
  queue: FakeMode[];
  /** The answers that counted as accepted (2xx). */
  accepted(): ReceivedRequest[];
  waitForAccepted(count: number, timeoutMs?: number): Promise<ReceivedRequest[]>;
  close(): Promise<void>;
}

export async function startFakeHttpServer(okBody = '{"ok":true,"result":{}}'): Promise<FakeHttpServer> {
  const requests: ReceivedRequest[] = [];
  const acceptedList: ReceivedRequest[] = [];
  const hanging = new Set<http.ServerResponse>();
  let waiters: (() => void)[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // keep text
      }
      const received: ReceivedRequest = {
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
        body,
        atMs: Date.now(),
      };
      requests.push(received);
      const mode = fake.queue.shift() ?? fake.mode;
      switch (mode.kind) {
        case "ok":
          acceptedList.push(received);
          res.writeHead(200, { "content-type": "application/json" }).end(okBody);
          for (const wake of waiters) wake();
          waiters = [];
          return;
        case "status":
          res.writeHead(mode.status, { "content-type": "text/plain" }).end(mode.body ?? "error");
          return;
        case "telegram429":
          res.writeHead(429, { "content-type": "application/json" }).end(
            JSON.stringify({
              ok: false,
              error_code: 429,
              description: `Too Many Requests: retry after ${mode.retryAfterSeconds}`,
              parameters: { retry_after: mode.retryAfterSeconds },
            }),
          );
          return;
        case "slack429":
          res
            .writeHead(429, { "retry-after": String(mode.retryAfterSeconds), "content-type": "text/plain" })
            .end("rate_limited");
          return;
        case "hang":
          hanging.add(res);
          res.on("close", () => hanging.delete(res));
          return;
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const fake: FakeHttpServer = {
    url: `http://127.0.0.1:${port}`,
    requests,
    mode: { kind: "ok" },
    queue: [],
    accepted: () => acceptedList,
    async waitForAccepted(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (acceptedList.length < count) {
        const left = deadline - Date.now();
        if (left <= 0)
          throw new Error(`fake server: expected ${count} accepted requests, got ${acceptedList.length}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(left, 200));
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      return acceptedList;
    },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return fake;
}
