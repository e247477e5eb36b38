import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

/** How long a probe waits for any answer before it calls the collector slow rather than refusing. */
export const PROBE_TIMEOUT_MS = 2_000;

/**
 * What one request to the collector's origin found:
 * - `refused`: nothing takes the connection (`ECONNREFUSED`, an unknown host, no route), or the
 *   peer drops it before answering; a flush cannot get through, so waiting for it is useless;
 * - `answered`: some HTTP response came back (whatever its status), so exports can get through;
 * - `silent`: the connection stays open without an answer (a slow or hung collector).
 */
export type ProbeResult = "refused" | "answered" | "silent";

const REFUSED_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EADDRNOTAVAIL",
]);

/**
 * Asks `url`'s origin once (`GET /`, no keep-alive) whether anything answers. Never rejects.
 * Used at shutdown: the OTLP exporters retry a refused connection with back-off for their
 * whole timeout, so without this a process whose collector is down waited
 * `telemetry.shutdown_timeout_ms` on every exit.
 */
export function probeCollector(url: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<ProbeResult> {
  return new Promise<ProbeResult>((resolve) => {
    let target: URL;
    try {
      target = new URL("/", url);
    } catch {
      resolve("refused");
      return;
    }
    const request = target.protocol === "https:" ? httpsRequest : httpRequest;
    let settled = false;
    const settle = (result: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => settle("silent"), timeoutMs);
    timer.unref();
    const req = request(target, { method: "GET", agent: false, headers: { connection: "close" } }, (res) => {
      res.resume();
      settle("answered");
    });
    req.on("socket", (socket) => socket.unref());
    req.on("error", (error: NodeJS.ErrnoException) => {
      // "socket hang up" has no errno code: the peer closed the connection without an answer.
      const code = error.code ?? "";
      settle(REFUSED_CODES.has(code) || code === "" || code === "ECONNABORTED" ? "refused" : "silent");
    });
    req.end();
  });
}

/**
 * Resolves once every origin in `urls` refused a probe; never resolves otherwise (a collector
 * that answers, or hangs, leaves the flush to its own time budget). Never rejects.
 */
export function whenAllRefuse(urls: readonly string[], timeoutMs = PROBE_TIMEOUT_MS): Promise<void> {
  const origins = [...new Set(urls.map(originOf))];
  if (origins.length === 0) return new Promise<void>(() => undefined);
  return Promise.all(origins.map((origin) => probeCollector(origin, timeoutMs))).then((results) =>
    results.every((result) => result === "refused") ? undefined : new Promise<void>(() => undefined),
  );
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}
