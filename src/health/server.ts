import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import express, { type Express } from "express";
import { TicktraceError } from "../errors.js";
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

/**
 * The express app behind the health port:
 * - `/health/live`: 200 while the event loop runs;
 * - `/health/ready`: 200 when every required component is up, else 503;
 * - `/health`: the registry's JSON report, 200 when healthy or degraded, 503 when unhealthy;
 * - `/metrics`: the Prometheus exposition.
 */
export function createHealthApp(options: HealthAppOptions): Express {
  const app = express();
  app.disable("x-powered-by");
  app.disable("etag");
  const noStore = (response: ServerResponse) => response.setHeader("Cache-Control", "no-store");

  app.get("/health/live", (_request, response) => {
    noStore(response);
    response.status(200).json({ status: "alive", timestamp: new Date().toISOString() });
  });
  app.get("/health/ready", (_request, response) => {
    noStore(response);
    const report = options.registry.snapshot();
    response
      .status(report.ready ? 200 : 503)
      .json({ ready: report.ready, status: report.status, timestamp: report.timestamp });
  });
  app.get("/health", (_request, response) => {
    noStore(response);
    const report = options.registry.snapshot();
    response.status(report.status === "unhealthy" ? 503 : 200).json(report);
  });
  app.get("/metrics", (request, response) => {
    if (options.metrics) {
      options.metrics(request, response);
      return;
    }
    response
      .status(404)
      .type("text/plain")
      .send(`${options.metricsUnavailable ?? "metrics are not served here"}\n`);
  });
  app.use((_request, response) => {
    response
      .status(404)
      .type("text/plain")
      .send("not found: try /health, /health/live, /health/ready or /metrics\n");
  });
  return app;
}

/** An app serving only `/metrics`, for `telemetry.metrics_port`. */
export function createMetricsApp(metrics: MetricsHandler): Express {
  const app = express();
  app.disable("x-powered-by");
  app.get("/metrics", (request, response) => metrics(request, response));
  return app;
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
export function startHttpServer(app: Express, host: string, port: number): ListeningServer {
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
    server = app.listen(port, host, (error?: Error) => {
      if (error) {
        onError(error);
        return;
      }
      boundPort = (server!.address() as AddressInfo).port;
      resolve();
    });
    server.once("error", onError);
    server.unref();
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
