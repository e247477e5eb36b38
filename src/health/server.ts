import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { describeError, TicktraceError } from "../errors.js";
import type { HealthRegistry } from "./registry.js";

/** Serves the Prometheus text format; the exporter's `getMetricsRequestHandler`. */
export type MetricsHandler = (request: IncomingMessage, response: ServerResponse) => void;

export interface HealthAppOptions {
  registry: HealthRegistry;
  /** Mounted at `/metrics`; without it `/metrics` answers 404 with `metricsUnavailable`. */
  metrics?: MetricsHandler;
  /** Text of the 404 when `/metrics` is not served here. */
  metricsUnavailable?: string;
}

/** A `node:http` request listener (an express app is one too). */
export type RequestListener = (request: IncomingMessage, response: ServerResponse) => void;

/**
 * The request listener behind the health port:
 * - `/health/live`: 200 while the event loop runs;
 * - `/health/ready`: 200 when every required component is up, else 503;
 * - `/health`: the registry's JSON report, 200 when healthy or degraded, 503 when unhealthy;
 * - `/metrics`: the Prometheus exposition.
 *
 * Plain `node:http`, routed as express routed it before (query, trailing slash and case
 * ignored; HEAD answered as GET without a body). Why not express: it gives every request and
 * response object a new prototype (`Object.setPrototypeOf`), and on Node 20 that alone made
 * young-generation GCs take 10-20 ms at 1,000 probe requests per second (p99 about 25 ms
 * against 4 ms; `npm run bench -- --only endpoints`); and loading it (patched by the
 * instrumentation as it loads) cost the first scrape about 100 ms of CPU.
 */
export function createHealthApp(options: HealthAppOptions): RequestListener {
  const probe = (path: string): { status: number; body: unknown } | undefined => {
    switch (path) {
      case "/health/live":
        return { status: 200, body: { status: "alive", timestamp: new Date().toISOString() } };
      case "/health/ready": {
        const report = options.registry.snapshot();
        return {
          status: report.ready ? 200 : 503,
          body: { ready: report.ready, status: report.status, timestamp: report.timestamp },
        };
      }
      case "/health": {
        const report = options.registry.snapshot();
        return { status: report.status === "unhealthy" ? 503 : 200, body: report };
      }
      default:
        return undefined;
    }
  };
  return (request, response) => {
    const readable = request.method === "GET" || request.method === "HEAD";
    const path = readable ? probePath(request.url) : "";
    if (path === "/metrics") {
      if (options.metrics) serveMetrics(options.metrics, request, response);
      else
        sendText(request, response, 404, `${options.metricsUnavailable ?? "metrics are not served here"}\n`);
      return;
    }
    const answer = readable ? probe(path) : undefined;
    if (!answer) {
      sendText(request, response, 404, "not found: try /health, /health/live, /health/ready or /metrics\n");
      return;
    }
    const body = JSON.stringify(answer.body);
    response.writeHead(answer.status, {
      "Content-Type": "application/json; charset=utf-8",
      "Content-Length": Buffer.byteLength(body),
      "Cache-Control": "no-store",
    });
    response.end(request.method === "HEAD" ? undefined : body);
  };
}

/** The path as express routed it (non-strict, case-insensitive): no query, no trailing slash, lower case. */
function probePath(url: string | undefined): string {
  const raw = url ?? "";
  const end = raw.indexOf("?");
  let path = (end === -1 ? raw : raw.slice(0, end)).toLowerCase();
  if (path.length > 1 && path.endsWith("/")) path = path.slice(0, -1);
  return path;
}

/** A plain-text answer (HEAD: headers only). */
function sendText(request: IncomingMessage, response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, {
    "Content-Type": "text/plain; charset=utf-8",
    "Content-Length": Buffer.byteLength(text),
  });
  response.end(request.method === "HEAD" ? undefined : text);
}

/** The metrics handler; a throw becomes a 500 instead of a dropped connection. */
function serveMetrics(metrics: MetricsHandler, request: IncomingMessage, response: ServerResponse): void {
  try {
    metrics(request, response);
  } catch (error) {
    if (response.headersSent) {
      response.destroy();
      return;
    }
    sendText(request, response, 500, `# failed to export metrics: ${describeError(error)}\n`);
  }
}

/** A listener serving only `/metrics` (GET and HEAD), for `telemetry.metrics_port`. */
export function createMetricsApp(metrics: MetricsHandler): RequestListener {
  return (request, response) => {
    const readable = request.method === "GET" || request.method === "HEAD";
    if (readable && probePath(request.url) === "/metrics") serveMetrics(metrics, request, response);
    else sendText(request, response, 404, "not found: try /metrics\n");
  };
}

export interface ListeningServer {
  /** Resolves once the port is bound; rejects with a {@link TicktraceError} (`IO`) naming the address. */
  readonly ready: Promise<void>;
  /** `http://host:port`, with the real port once {@link ready} resolved (port 0 picks a free one). */
  readonly url: string;
  readonly port: number;
  /** Idempotent: stops accepting, closes open keep-alive connections. */
  shutdown(): Promise<void>;
}

/**
 * Starts listening at once (binding completes asynchronously, see `ready`). The server never
 * keeps the process alive on its own: it is `unref()`'d, so a bot that finished exits.
 */
export function startHttpServer(app: RequestListener, host: string, port: number): ListeningServer {
  let server: Server | undefined;
  let boundPort = port;
  const ready = new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      const hint =
        error.code === "EADDRINUSE"
          ? " (another process uses it: set health.port, or 0 for a free port)"
          : "";
      reject(
        new TicktraceError(
          "IO",
          `health server cannot listen on ${host}:${port}: ${error.code ?? error.message}${hint}`,
          { cause: error },
        ),
      );
    };
    const listening = createServer(app);
    server = listening;
    listening.once("error", onError);
    listening.listen(port, host, () => {
      boundPort = (listening.address() as AddressInfo).port;
      resolve();
    });
    listening.unref();
  });
  // Callers await `ready`; this keeps an unobserved rejection from crashing a process that does not.
  ready.catch(() => undefined);
  let closed: Promise<void> | undefined;
  const urlHost = host.includes(":") ? `[${host}]` : host === "0.0.0.0" ? "127.0.0.1" : host;
  return {
    ready,
    get url() {
      return `http://${urlHost}:${boundPort}`;
    },
    get port() {
      return boundPort;
    },
    shutdown() {
      closed ??= new Promise<void>((resolve) => {
        if (!server?.listening) {
          resolve();
          return;
        }
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
