import { connect } from "node:net";

/** How long a probe waits for the connection before it calls the collector slow rather than refusing. */
export const PROBE_TIMEOUT_MS = 2_000;

/**
 * How long an accepted connection is watched for being dropped at once (a port that accepts
 * and resets, like a proxy with no backend behind it).
 */
const DROP_WINDOW_MS = 50;

/**
 * What one connection to the collector's address found:
 * - `refused`: nothing takes the connection (`ECONNREFUSED`, an unknown host, no route), or the
 *   peer drops it at once; a flush cannot get through, so waiting for it is useless;
 * - `accepted`: the connection is open (the collector may still be slow);
 * - `silent`: no answer to the connection attempt within the timeout.
 */
export type ProbeResult = "refused" | "accepted" | "silent";

/**
 * Opens one TCP connection to `url`'s host and port and closes it again, sending nothing, so a
 * collector sees no request. Never rejects. Used at shutdown: the OTLP exporters retry a refused
 * connection with back-off for their whole timeout, so without this a process whose collector
 * is down waited `telemetry.shutdown_timeout_ms` on every exit.
 */
export function probeCollector(url: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<ProbeResult> {
  return new Promise<ProbeResult>((resolve) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      resolve("refused");
      return;
    }
    const port = Number(target.port || (target.protocol === "https:" ? 443 : 80));
    const host = target.hostname.replace(/^\[|\]$/g, "");
    let settled = false;
    let dropTimer: NodeJS.Timeout | undefined;
    const settle = (result: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (dropTimer) clearTimeout(dropTimer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => settle("silent"), timeoutMs);
    timer.unref();
    const socket = connect({ host, port });
    socket.unref();
    socket.on("connect", () => {
      dropTimer = setTimeout(() => settle("accepted"), DROP_WINDOW_MS);
      dropTimer.unref();
    });
    // Any error (refused, reset, unknown host, no route) or a close before the window ends.
    socket.on("error", () => settle("refused"));
    socket.on("close", () => settle("refused"));
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
