/**
 * A steady, open-loop HTTP load generator for the `/health` rows of `bench/endpoints.ts`.
 *
 * Why not autocannon's `overallRate`: it paces per connection per second (each connection
 * sends its quota back to back at the start of the second), so "1,000 req/s" arrives as
 * bursts and the measured latency is mostly the burst draining. Here request `i` is due at
 * `start + i * intervalNs` (1 ms apart at 1,000 req/s), and its latency runs from that
 * scheduled time to the end of the response: when the generator or the server falls behind,
 * the wait counts (no coordinated omission). Latencies keep hrtime (ns) resolution.
 *
 * Pacing (`ticker`, the default): a worker thread sleeps until each send time (`Atomics.wait`,
 * microsecond timeouts, the last ~0.1 ms spun) and wakes the main thread with a message; the
 * main thread sends what is due and otherwise sleeps in the event loop's poll, so it takes
 * each response as it arrives. The generator then costs the machine a few percent of a core.
 * The earlier pacing, spinning on `setImmediate` between sends, took a whole core, one of the
 * two on the benchmark machine, from the server being measured, and a server that waits for a
 * core is what a p99 on a busy machine measures.
 *
 * It runs as its own child process (`runPacedLoadInChild`), so its event loop never shares
 * with the bench harness. Run directly: `tsx bench/paced-load.ts <url> <rate> <seconds> [sockets] [warmupSeconds] [ticker|spin|timer]`
 * prints one JSON line ({@link PacedLoadResult}).
 */
import { execFile } from "node:child_process";
import { Agent, request } from "node:http";
import { join } from "node:path";
import { promisify } from "node:util";
import { Worker } from "node:worker_threads";
import { REPO_ROOT, percentile } from "./lib.js";

export interface PacedLoadOptions {
  url: string;
  /** Requests per second, evenly spaced. */
  rate: number;
  seconds: number;
  /** Keep-alive sockets; requests beyond them queue in the agent (and the queueing counts). */
  sockets?: number;
  /** A request not finished this long after its scheduled time counts as an error. */
  timeoutMs?: number;
  /**
   * Paced load at the same rate, run first and discarded: opens the keep-alive sockets and
   * warms the JIT of generator and server, so connection setup is not counted as latency.
   */
  warmupSeconds?: number;
  /**
   * `ticker` (default): a worker thread wakes the main thread at each send time (see the module
   * comment); lag well under 0.1 ms on a free core, a few percent of a core. `spin`: between
   * close sends the main thread polls on `setImmediate` (the same lag, but it takes a core).
   * `timer`: it sleeps on `setTimeout` (1 ms granularity: adds up to ~1 ms to every latency).
   */
  pacing?: Pacing;
}

export type Pacing = "ticker" | "spin" | "timer";

export interface PacedLoadResult {
  /** Latency percentiles in ms (from the scheduled send time to the end of the response). */
  p50: number;
  p99: number;
  max: number;
  /** 2xx responses per second over the time from the first scheduled send to the last response. */
  rps: number;
  /** Requests scheduled and 2xx responses. */
  sent: number;
  ok: number;
  /** Non-2xx, socket errors and timeouts. */
  errors: number;
  /** p99 of how late the generator itself dispatched a request after its scheduled time, in ms. */
  dispatchLagP99: number;
  /**
   * p99 in ms from the actual dispatch (not the schedule) to the end of the response: what the
   * server and the network path cost once the request left, without the generator's own lag.
   * Shown beside `p99`, never instead of it (it hides waits a steady client would have seen).
   */
  fromDispatchP99: number;
  /** CPU time of the generator process (all threads) per second of the measured run, in ms/s. */
  cpuMsPerSecond: number;
}

/** Index of the last request due at `elapsedNs` after the start (requests are `intervalNs` apart, the first at 0). */
export function lastDueIndex(elapsedNs: bigint, intervalNs: bigint): number {
  if (elapsedNs < 0n) return -1;
  return Number(elapsedNs / intervalNs);
}

/** Interval between scheduled sends in ns for `rate` requests per second. */
export function intervalNsFor(rate: number): bigint {
  if (!(rate > 0)) throw new Error(`paced load: rate must be greater than 0 (got ${rate})`);
  return BigInt(Math.round(1e9 / rate));
}

/** Summarizes per-request latencies (ns) into the result's percentiles in ms, at full resolution. */
export function summarizeLatencies(latenciesNs: readonly number[]): {
  p50: number;
  p99: number;
  max: number;
} {
  const ms = latenciesNs.map((ns) => ns / 1e6);
  return {
    p50: percentile(ms, 50),
    p99: percentile(ms, 99),
    max: ms.length > 0 ? ms.reduce((a, b) => (b > a ? b : a)) : Number.NaN,
  };
}

/** Runs the paced load in this process (the child's entry point uses it): warm-up, then the measured run. */
export async function pacedLoad(options: PacedLoadOptions): Promise<PacedLoadResult> {
  const sockets = options.sockets ?? 32;
  const agent = new Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets });
  try {
    const warmupSeconds = options.warmupSeconds ?? 1;
    if (warmupSeconds > 0) await pacedRun(agent, { ...options, seconds: warmupSeconds });
    return await pacedRun(agent, options);
  } finally {
    agent.destroy();
  }
}

async function pacedRun(agent: Agent, options: PacedLoadOptions): Promise<PacedLoadResult> {
  const target = new URL(options.url);
  const timeoutMs = options.timeoutMs ?? 2_000;
  const pacing = options.pacing ?? "ticker";
  const spinNs = pacing === "timer" ? 0n : 1_500_000n;
  const intervalNs = intervalNsFor(options.rate);
  const total = Math.max(1, Math.round(options.rate * options.seconds));
  const latenciesNs: number[] = [];
  const lagsNs: number[] = [];
  const fromDispatchNs: number[] = [];
  let errors = 0;
  let finished = 0;
  let sent = 0;
  let lastEnd = 0n;
  let ticker: Worker | undefined;
  const cpuStart = process.cpuUsage();
  // The ticker is started before the schedule is fixed, so its start-up is not counted as lag.
  if (pacing === "ticker") ticker = await startTicker();
  const start = process.hrtime.bigint();

  return new Promise<PacedLoadResult>((resolveResult) => {
    const settle = () => {
      finished++;
      if (finished < total) return;
      const spanNs = Number(lastEnd - start);
      const cpu = process.cpuUsage(cpuStart);
      void ticker?.terminate(); // the schedule is over; its exit needs no wait
      resolveResult({
        ...summarizeLatencies(latenciesNs),
        rps: spanNs > 0 ? latenciesNs.length / (spanNs / 1e9) : Number.NaN,
        sent,
        ok: latenciesNs.length,
        errors,
        fromDispatchP99: summarizeLatencies(fromDispatchNs).p99,
        dispatchLagP99: percentile(
          lagsNs.map((ns) => ns / 1e6),
          99,
        ),
        cpuMsPerSecond: spanNs > 0 ? (cpu.user + cpu.system) / 1000 / (spanNs / 1e9) : Number.NaN,
      });
    };
    const dispatch = (scheduled: bigint, now: bigint) => {
      sent++;
      lagsNs.push(Number(now - scheduled));
      let done = false;
      const finish = (okResponse: boolean) => {
        if (done) return;
        done = true;
        const end = process.hrtime.bigint();
        if (end > lastEnd) lastEnd = end;
        if (okResponse) {
          latenciesNs.push(Number(end - scheduled));
          fromDispatchNs.push(Number(end - now));
        } else errors++;
        settle();
      };
      const req = request(
        {
          agent,
          host: target.hostname,
          port: target.port,
          path: `${target.pathname}${target.search}`,
          method: "GET",
        },
        (res) => {
          const status = res.statusCode ?? 0;
          res.resume(); // the body is not needed: discarded without a listener per chunk
          res.on("end", () => finish(status >= 200 && status < 300));
          res.on("error", () => finish(false));
        },
      );
      req.setTimeout(timeoutMs, () => req.destroy(new Error("timeout")));
      req.on("error", () => finish(false));
      req.end();
    };
    // Catch-up scheduler: every turn sends all requests due by now, so a late turn costs the
    // late requests their wait (measured from their scheduled time) but never skips or
    // reschedules them. It spins on setImmediate when the next send is near (a timer's 1 ms
    // granularity would add up to 1 ms of generator lag) and sleeps on a timer otherwise.
    const tick = () => {
      const now = process.hrtime.bigint();
      const due = Math.min(total - 1, lastDueIndex(now - start, intervalNs));
      while (sent <= due) dispatch(start + BigInt(sent) * intervalNs, now);
      if (sent >= total || ticker !== undefined) return; // the ticker calls again at the next send time
      const untilNextNs = start + BigInt(sent) * intervalNs - process.hrtime.bigint();
      if (untilNextNs > spinNs) setTimeout(tick, Math.max(0, Number(untilNextNs / 1_000_000n) - 1));
      else setImmediate(tick);
    };
    if (ticker !== undefined) {
      ticker.on("message", tick);
      ticker.postMessage({ start, intervalNs, total });
    }
    tick();
  });
}

/**
 * The ticker thread: told `{ start, intervalNs, total }`, it posts a message at each send time
 * (`start + i * intervalNs`, hrtime ns, the same monotonic clock in every thread). It sleeps on
 * `Atomics.wait` (a futex: no CPU, ~50 us of timer slack) until 0.1 ms before the time and
 * spins the rest, so the main thread is woken within a few microseconds of it.
 */
const TICKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const cell = new Int32Array(new SharedArrayBuffer(4));
parentPort.once("message", ({ start, intervalNs, total }) => {
  for (let i = 1; i < total; i++) {
    const due = start + BigInt(i) * intervalNs;
    for (;;) {
      const left = due - process.hrtime.bigint();
      if (left <= 0n) break;
      if (left > 100000n) Atomics.wait(cell, 0, 0, Number(left - 100000n) / 1e6);
    }
    parentPort.postMessage(i);
  }
});
parentPort.postMessage("ready");
`;

async function startTicker(): Promise<Worker> {
  const worker = new Worker(TICKER_SOURCE, { eval: true });
  await new Promise<void>((resolve, reject) => {
    worker.once("message", () => resolve());
    worker.once("error", reject);
  });
  return worker;
}

const run = promisify(execFile);

/**
 * Runs {@link pacedLoad} in a separate Node process (via tsx) and returns its result, so the
 * generator's event loop shares nothing with the caller's.
 */
export async function runPacedLoadInChild(options: PacedLoadOptions): Promise<PacedLoadResult> {
  const tsx = join(REPO_ROOT, "node_modules", ".bin", "tsx");
  const args = [
    join(REPO_ROOT, "bench", "paced-load.ts"),
    options.url,
    String(options.rate),
    String(options.seconds),
    String(options.sockets ?? 32),
    String(options.warmupSeconds ?? 1),
    options.pacing ?? "ticker",
  ];
  const { stdout } = await run(tsx, args, {
    cwd: REPO_ROOT,
    timeout: (options.seconds + 30) * 1_000,
  });
  const line = stdout.trim().split("\n").pop() ?? "";
  return JSON.parse(line) as PacedLoadResult;
}

if (require.main === module) {
  const [url, rate, seconds, sockets, warmupSeconds, pacing] = process.argv.slice(2);
  if (url === undefined || rate === undefined || seconds === undefined) {
    process.stderr.write(
      "usage: tsx bench/paced-load.ts <url> <rate> <seconds> [sockets] [warmupSeconds] [ticker|spin|timer]\n",
    );
    process.exit(2);
  }
  pacedLoad({
    url,
    rate: Number(rate),
    seconds: Number(seconds),
    ...(sockets !== undefined ? { sockets: Number(sockets) } : {}),
    ...(warmupSeconds !== undefined ? { warmupSeconds: Number(warmupSeconds) } : {}),
    pacing: pacing === "timer" || pacing === "spin" ? pacing : "ticker",
  }).then(
    (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
    (error: unknown) => {
      process.stderr.write(`paced load failed: ${String(error)}\n`);
      process.exit(1);
    },
  );
}
