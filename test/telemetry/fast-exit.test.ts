import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listenOnFreePort, REFUSING_PORT } from "../support/processes.js";
import { configDir, ensureBuilt, PRELOAD } from "./helpers.js";

/**
 * A process that ends (on its own, or by SIGTERM / SIGINT) while the collector refuses
 * connections exits at once; the bounded flush (`telemetry.shutdown_timeout_ms`) is for a
 * collector that accepts and is slow. Real processes with the built preload; wall time measured
 * from the app's last line (or the signal) to the exit.
 */

/** Long enough that a run that waited for it is told apart from node's start-up on a loaded machine. */
const SHUTDOWN_TIMEOUT_MS = 3_000;
/**
 * Exit soon after the end when the collector refuses: measured 0.1-0.2 s on a quiet machine; the
 * bound leaves room for the suite's other test files on two cores while staying a third of the
 * shutdown timeout that a run which waited for it would take.
 */
const FAST_EXIT_MS = 1_000;

const servers: (Server | HttpServer)[] = [];
const sockets = new Set<Socket>();
const dirs: string[] = [];
let resettingPort = 0;
let hangingPort = 0;
let answeringPort = 0;
let answeredRequests = 0;

beforeAll(async () => {
  ensureBuilt();
  // Takes the connection and resets it at once: a collector that refuses after accepting.
  const resetting = createServer((socket) => socket.resetAndDestroy());
  // Accepts and never answers: a slow collector.
  const hanging = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => undefined);
    socket.on("close", () => sockets.delete(socket));
  });
  // A collector that answers every export.
  const answering = createHttpServer((req, res) => {
    req.resume();
    req.on("end", () => {
      if (req.url?.startsWith("/v1/")) answeredRequests++;
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  servers.push(resetting, hanging, answering);
  resettingPort = await listenOnFreePort(resetting);
  hangingPort = await listenOnFreePort(hanging);
  answeringPort = await listenOnFreePort(answering);
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** From the app's `END` line (or the signal sent) to the exit event. */
  afterEndMs: number;
  totalMs: number;
  stderr: string;
}

/** Runs `node --require dist/tracing.js -e <script>` with the collector at `endpoint`. */
function runPreloaded(
  name: string,
  endpoint: string,
  script: string,
  options: { signal?: NodeJS.Signals; extraYaml?: string[] } = {},
): Promise<Run> {
  const dir = configDir(
    name,
    [
      "health:",
      "  port: 0",
      "logging:",
      "  level: info",
      "telemetry:",
      `  shutdown_timeout_ms: ${SHUTDOWN_TIMEOUT_MS}`,
      "  otlp:",
      `    endpoint: ${endpoint}`,
      "    timeout_ms: 10000",
      ...(options.extraYaml ?? []),
      "",
    ].join("\n"),
  );
  dirs.push(dir);
  const started = Date.now();
  const child = spawn(process.execPath, ["--require", PRELOAD, "-e", script], {
    cwd: dir,
    env: { PATH: process.env.PATH, HOME: dir },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  let endAt: number | undefined;
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    out += chunk;
    if (endAt === undefined && /^END$/m.test(out)) {
      endAt = Date.now();
      if (options.signal) child.kill(options.signal);
    }
  });
  return new Promise<Run>((resolve) => {
    child.once("exit", (code, signal) => {
      const now = Date.now();
      resolve({
        code,
        signal,
        afterEndMs: now - (endAt ?? now),
        totalMs: now - started,
        stderr: err,
      });
    });
  });
}

/** Ends on its own after one span and one log line went into the batches. */
const ENDS_ON_ITS_OWN = `
const { getRuntime } = require(${JSON.stringify(PRELOAD.replace(/tracing\.js$/, "runtime/start.js"))});
const runtime = getRuntime();
runtime.ready.then(() => {
  runtime.tracer.startSpan("work").end();
  runtime.logger.info("done");
  console.log("END");
});
`;

/**
 * Works for a while, so that a batch has been exported (and refused) before the end: the
 * exporters' retry timers used to keep such a process alive about 8 s after its last line.
 */
const ENDS_AFTER_AN_EXPORT = `
const { getRuntime } = require(${JSON.stringify(PRELOAD.replace(/tracing\.js$/, "runtime/start.js"))});
const runtime = getRuntime();
const work = setInterval(() => { runtime.tracer.startSpan("tick").end(); runtime.logger.info("tick"); }, 50);
setTimeout(() => { clearInterval(work); console.log("END"); }, 1500);
`;

/** Runs until a signal comes. */
const RUNS_UNTIL_SIGNALLED = `
const { getRuntime } = require(${JSON.stringify(PRELOAD.replace(/tracing\.js$/, "runtime/start.js"))});
const runtime = getRuntime();
setInterval(() => runtime.tracer.startSpan("tick").end(), 50);
runtime.ready.then(() => setTimeout(() => console.log("END"), 300));
`;

describe("fast exit when the collector refuses", () => {
  it("regression: `-e 0` with no collector running took the whole shutdown timeout; it exits at once", async () => {
    const run = await runPreloaded("exit-no-collector", `http://127.0.0.1:${REFUSING_PORT}`, "0");
    expect(run.code, run.stderr).toBe(0);
    // From spawn to exit: node start-up plus the preload, and no flush wait.
    expect(run.totalMs, `took ${run.totalMs} ms`).toBeLessThan(SHUTDOWN_TIMEOUT_MS);
  });

  it("a process that ends on its own with spans and logs queued exits within 0.5 s (nothing listening)", async () => {
    const run = await runPreloaded("exit-refused", `http://127.0.0.1:${REFUSING_PORT}`, ENDS_ON_ITS_OWN, {
      extraYaml: ["  metrics_push:", "    enabled: true", "    interval_ms: 60000"],
    });
    expect(run.code, run.stderr).toBe(0);
    expect(run.afterEndMs, `exited ${run.afterEndMs} ms after its end`).toBeLessThan(FAST_EXIT_MS);
  });

  it("regression: a bot that ended after its first batches were refused stayed alive for the exporters' retries; it exits within 0.5 s", async () => {
    const run = await runPreloaded(
      "exit-after-export",
      `http://127.0.0.1:${REFUSING_PORT}`,
      ENDS_AFTER_AN_EXPORT,
      {
        extraYaml: ["  traces:", "    batch_delay_ms: 200", "  logs:", "    batch_delay_ms: 200"],
      },
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.afterEndMs, `exited ${run.afterEndMs} ms after its end`).toBeLessThan(FAST_EXIT_MS);
  });

  it("exits within 0.5 s when the collector's port accepts and resets every connection", async () => {
    const run = await runPreloaded("exit-reset", `http://127.0.0.1:${resettingPort}`, ENDS_ON_ITS_OWN);
    expect(run.code, run.stderr).toBe(0);
    expect(run.afterEndMs, `exited ${run.afterEndMs} ms after its end`).toBeLessThan(FAST_EXIT_MS);
  });

  for (const [signal, code] of [
    ["SIGTERM", 143],
    ["SIGINT", 130],
  ] as const) {
    it(`exits within 0.5 s of ${signal} with no collector, with status ${code}`, async () => {
      const run = await runPreloaded(
        `exit-${signal.toLowerCase()}`,
        `http://127.0.0.1:${REFUSING_PORT}`,
        RUNS_UNTIL_SIGNALLED,
        { signal },
      );
      expect(run.code, run.stderr).toBe(code);
      expect(run.afterEndMs, `exited ${run.afterEndMs} ms after ${signal}`).toBeLessThan(FAST_EXIT_MS);
    });
  }
});

describe("the bounded flush is for a collector that is slow", () => {
  it("waits up to telemetry.shutdown_timeout_ms for a collector that accepts and hangs, then exits", async () => {
    const run = await runPreloaded("exit-hanging", `http://127.0.0.1:${hangingPort}`, ENDS_ON_ITS_OWN);
    expect(run.code, run.stderr).toBe(0);
    expect(run.afterEndMs).toBeGreaterThanOrEqual(SHUTDOWN_TIMEOUT_MS - 100);
    expect(run.afterEndMs).toBeLessThan(SHUTDOWN_TIMEOUT_MS + 1_500);
  });

  it("waits up to the timeout on SIGTERM too when the collector hangs", async () => {
    const run = await runPreloaded(
      "exit-hanging-term",
      `http://127.0.0.1:${hangingPort}`,
      RUNS_UNTIL_SIGNALLED,
      {
        signal: "SIGTERM",
      },
    );
    expect(run.code, run.stderr).toBe(143);
    expect(run.afterEndMs).toBeGreaterThanOrEqual(SHUTDOWN_TIMEOUT_MS - 100);
    expect(run.afterEndMs).toBeLessThan(SHUTDOWN_TIMEOUT_MS + 1_500);
  });

  it("still flushes to a collector that answers, and exits at once", async () => {
    const before = answeredRequests;
    const run = await runPreloaded("exit-answering", `http://127.0.0.1:${answeringPort}`, ENDS_ON_ITS_OWN);
    expect(run.code, run.stderr).toBe(0);
    // As long as the flush takes, not the whole timeout.
    expect(run.afterEndMs).toBeLessThan(SHUTDOWN_TIMEOUT_MS - 1_000);
    // The span and the log line were flushed at exit (they were queued for the batch delay).
    expect(answeredRequests - before).toBeGreaterThanOrEqual(2);
  });
});
