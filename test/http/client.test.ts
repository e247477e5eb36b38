/**
 * Our HTTP client against a real node:http server on 127.0.0.1: timeouts, refusals with
 * Retry-After, redaction of secrets in messages, and answers that are not JSON.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createFetch, httpRequest, HttpError, rejection, requestJson } from "../../src/http/index.js";
import { TicktraceError } from "../../src/errors.js";

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const seen: Seen[] = [];
const hanging = new Set<http.ServerResponse>();
let server: http.Server;
let base: string;
/** A port nothing listens on (fetch refuses port 1 itself, as a "bad port"). */
let closedPort: number;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      seen.push({
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      });
      // the last segment routes, so a path may carry a token before it (`/bot<token>/hang`)
      const path = `/${(req.url ?? "").split("?")[0]!.split("/").at(-1)!}`;
      switch (path) {
        case "/echo":
          res
            .writeHead(200, { "content-type": "application/json" })
            .end(
              JSON.stringify({ method: req.method, url: req.url, body: Buffer.concat(chunks).toString() }),
            );
          return;
        case "/hang":
          hanging.add(res);
          return;
        case "/slow-body":
          // headers at once, the body never: a timeout must cover reading the body too
          res.writeHead(200, { "content-type": "application/json" });
          res.write('{"a":');
          hanging.add(res);
          return;
        case "/limited":
          res.writeHead(429, { "retry-after": "2", "content-type": "text/plain" }).end("slow down");
          return;
        case "/limited-date":
          res
            .writeHead(429, { "retry-after": new Date(Date.UTC(2030, 0, 1, 0, 0, 30)).toUTCString() })
            .end("later");
          return;
        case "/unavailable":
          res.writeHead(503, { "retry-after": "7" }).end("maintenance");
          return;
        case "/html":
          res.writeHead(200, { "content-type": "text/html" }).end("<html><body>proxy error</body></html>");
          return;
        default:
          // echoes the path back, as careless servers do: the message must not show the token
          res.writeHead(401, { "content-type": "text/plain" }).end(`unauthorized: ${req.url ?? ""}`);
      }
    });
  });
  server.listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const spare = http.createServer().listen(0, "127.0.0.1");
  await new Promise((resolve) => spare.once("listening", resolve));
  closedPort = (spare.address() as AddressInfo).port;
  await new Promise((resolve) => spare.close(resolve));
});

afterAll(async () => {
  for (const res of hanging) res.destroy();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

async function failure(promise: Promise<unknown>): Promise<HttpError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HttpError);
  expect(error).toBeInstanceOf(TicktraceError);
  return error as HttpError;
}

describe("httpRequest / requestJson", () => {
  it("sends JSON with its content type and the query, and returns the parsed answer", async () => {
    const answer = await requestJson<{ method: string; url: string; body: string }>({
      operation: "echo",
      url: `${base}/echo`,
      query: { symbol: "BTC/USDT", limit: 5, skipped: undefined },
      json: { a: 1 },
      headers: { "x-sent-at": "42" },
    });
    expect(answer).toEqual({ method: "POST", url: "/echo?symbol=BTC%2FUSDT&limit=5", body: '{"a":1}' });
    const last = seen.at(-1)!;
    expect(last.headers["content-type"]).toBe("application/json");
    expect(last.headers["x-sent-at"]).toBe("42");
  });

  it("times out a server that never answers: TIMEOUT naming the operation, the target, the wait and the fix", async () => {
    const started = performance.now();
    const error = await failure(
      httpRequest({
        operation: "simex ticker",
        url: `${base}/hang`,
        timeoutMs: 150,
        fix: "check that the exchange is up",
      }),
    );
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(error).toMatchObject({
      code: "TIMEOUT",
      retryable: true,
      operation: "simex ticker",
      target: `GET ${base}/hang`,
      message: `simex ticker: no answer from GET ${base}/hang within 150 ms; check that the exchange is up`,
    });
  });

  it("the timeout covers a body that never ends", async () => {
    const error = await failure(requestJson({ operation: "slow", url: `${base}/slow-body`, timeoutMs: 150 }));
    expect(error.code).toBe("TIMEOUT");
  });

  it("the caller's abort is TIMEOUT and says whether it was a timeout or a cancel", async () => {
    const byTimeout = await failure(
      httpRequest({
        operation: "Telegram sendMessage",
        url: `${base}/hang`,
        json: {},
        signal: AbortSignal.timeout(100),
      }),
    );
    expect(byTimeout.message).toBe(
      `Telegram sendMessage was aborted (timeout) before POST ${base}/hang answered; check the URL and that the server is up`,
    );
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const cancelled = await failure(
      httpRequest({ operation: "x", url: `${base}/hang`, signal: controller.signal, timeoutMs: 5_000 }),
    );
    expect(cancelled).toMatchObject({
      code: "TIMEOUT",
      message: expect.stringContaining("was aborted (cancelled)") as unknown,
    });
  });

  it("a 429 exposes the status and Retry-After (seconds or date) for the caller's retry logic", async () => {
    const answer = await httpRequest({ operation: "limited", url: `${base}/limited` });
    expect(answer).toMatchObject({ status: 429, ok: false, retryAfterSeconds: 2, body: "slow down" });
    expect(
      rejection(answer, { operation: "Slack webhook", url: `${base}/limited`, method: "POST" }),
    ).toMatchObject({
      code: "RATE_LIMITED",
      status: 429,
      retryAfterSeconds: 2,
      retryable: true,
      message: `Slack webhook failed (429: slow down) at POST ${base}/limited; retry after 2 s`,
    });
    const dated = await failure(
      requestJson({
        operation: "limited",
        url: `${base}/limited-date`,
        now: () => Date.UTC(2030, 0, 1, 0, 0, 0),
      }),
    );
    expect(dated).toMatchObject({ code: "RATE_LIMITED", retryAfterSeconds: 30 });
  });

  it("a 503 is a retryable REJECTED that still carries the Retry-After", async () => {
    const error = await failure(
      requestJson({ operation: "Alertmanager POST /api/v2/alerts", url: `${base}/unavailable`, json: [] }),
    );
    expect(error).toMatchObject({
      code: "REJECTED",
      status: 503,
      retryAfterSeconds: 7,
      retryable: true,
      body: "maintenance",
      message: `Alertmanager POST /api/v2/alerts failed (503: maintenance) at POST ${base}/unavailable; the server failed; retry later`,
    });
  });

  it("never shows a bot token, a secret or a signed query value, in the target or in the echoed body", async () => {
    const token = "123456:AAHsecretTokenValue";
    const url = `${base}/bot${token}/sendMessage?symbol=BTC&signature=c0ffee1234&apiKey=AKIA999`;
    const error = await failure(
      requestJson({ operation: "Telegram sendMessage", url, json: {}, secrets: ["AKIA999"] }),
    );
    expect(error.message).toBe(
      `Telegram sendMessage failed (401: unauthorized: /bot<redacted>/sendMessage?symbol=BTC&signature=c0ffee1234&apiKey=<redacted>) at POST ${base}/bot<redacted>/sendMessage?symbol=BTC&signature=REDACTED&apiKey=REDACTED; check the credentials (token, key, webhook)`,
    );
    // the target is redacted as a URL; the body is free text, so only the named secrets and the token shapes go
    expect(error.message).not.toContain("AAHsecretTokenValue");
    expect(error.message).not.toContain("AKIA999");
    expect(error.target).not.toContain("c0ffee1234");
    expect(error.body).not.toContain("AAHsecretTokenValue");

    const closed = await failure(
      httpRequest({
        operation: "Telegram getMe",
        url: `http://127.0.0.1:${closedPort}/bot${token}/getMe?token=t0ken9`,
        timeoutMs: 2_000,
      }),
    );
    expect(closed).toMatchObject({
      code: "UNREACHABLE",
      message: `Telegram getMe could not reach GET http://127.0.0.1:${closedPort}/bot<redacted>/getMe?token=REDACTED: ECONNREFUSED; check the URL and that the server is up`,
    });
  });

  it("an answer that is not JSON is REJECTED naming the target and what came instead", async () => {
    const error = await failure(requestJson({ operation: "health check", url: `${base}/html` }));
    expect(error).toMatchObject({
      code: "REJECTED",
      status: 200,
      message: `health check: GET ${base}/html answered 200 with a body that is not JSON ("<html><body>proxy error</body></html>"); check that the URL points at the right service`,
    });
  });
});

describe("createFetch (a library's transport, grammY's client.fetch)", () => {
  const telegram = createFetch({
    operation: (url) => `Telegram ${url.split("/").at(-1) ?? "call"}`,
    secrets: ["123456:AAHsecretTokenValue"],
  });

  it("passes the library's request through and returns the answer unread", async () => {
    const response = await telegram(`${base}/echo`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"chat_id":1}',
      compress: true, // node-fetch's option, which grammY sets: ignored
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ method: "POST", url: "/echo", body: '{"chat_id":1}' });
  });

  it("follows a polyfilled abort signal (grammY's abort-controller shim) with a typed, redacted error", async () => {
    // The shape of abort-controller's signal: not an instance of Node's AbortSignal.
    const listeners = new Set<() => void>();
    const shim = {
      aborted: false,
      addEventListener: (_type: "abort", listener: () => void) => listeners.add(listener),
      removeEventListener: (_type: "abort", listener: () => void) => listeners.delete(listener),
    };
    setTimeout(() => {
      shim.aborted = true;
      for (const listener of [...listeners]) listener();
    }, 50);
    const error = await failure(
      telegram(`${base}/bot123456:AAHsecretTokenValue/hang`, { method: "POST", body: "{}", signal: shim }),
    );
    expect(error).toMatchObject({
      code: "TIMEOUT",
      message: `Telegram hang was aborted (cancelled) before POST ${base}/bot<redacted>/hang answered; check the URL and that the server is up`,
    });
  });

  it("an unreachable API is UNREACHABLE without the token", async () => {
    const error = await failure(
      telegram(`http://127.0.0.1:${closedPort}/bot123456:AAHsecretTokenValue/getMe`),
    );
    expect(error.code).toBe("UNREACHABLE");
    expect(error.message).toBe(
      `Telegram getMe could not reach GET http://127.0.0.1:${closedPort}/bot<redacted>/getMe: ECONNREFUSED; check the URL and that the server is up`,
    );
  });
});
