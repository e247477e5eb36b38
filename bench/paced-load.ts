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
 * It runs as its own child process (`runPacedLoadInChild`), so its event loop never shares
 * with the bench harness. Run directly: `tsx bench/paced-load.ts <url> <rate> <seconds> [sockets] [warmupSeconds] [spin|timer]`
 * prints one JSON line ({@link PacedLoadResult}).
 */
import { execFile } from "node:child_process";
import { Agent, request } from "node:http";
import { join } from "node:path";
import { promisify } from "node:util";
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
   * `spin` (default): between close sends the generator polls on `setImmediate`, which keeps
   * its own lag well under 0.1 ms when a core is free but takes that core. `timer`: it sleeps on
   * `setTimeout` (1 ms granularity: adds up to ~1 ms to every latency, but leaves the CPU to the
   * server, which is kinder when the machine is oversubscribed).
   */
  pacing?: "spin" | "timer";
}

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
  const spinNs = options.pacing === "timer" ? 0n : 1_500_000n;
  const intervalNs = intervalNsFor(options.rate);
  const total = Math.max(1, Math.round(options.rate * options.seconds));
  const latenciesNs: number[] = [];
  const lagsNs: number[] = [];
  const fromDispatchNs: number[] = [];
  let errors = 0;
  let finished = 0;
  let sent = 0;
  let lastEnd = 0n;
  const start = process.hrtime.bigint();

  return new Promise<PacedLoadResult>((resolveResult) => {
    const settle = () => {
      finished++;
      if (finished < total) return;
      const spanNs = Number(lastEnd - start);
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
          res.on("data", () => undefined);
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
      if (sent >= total) return;
      const untilNextNs = start + BigInt(sent) * intervalNs - process.hrtime.bigint();
      if (untilNextNs > spinNs) setTimeout(tick, Math.max(0, Number(untilNextNs / 1_000_000n) - 1));
      else setImmediate(tick);
    };
    tick();
  });
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
    options.pacing ?? "spin",
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
      "usage: tsx bench/paced-load.ts <url> <rate> <seconds> [sockets] [warmupSeconds] [spin|timer]\n",
    );
    process.exit(2);
  }
  pacedLoad({
    url,
    rate: Number(rate),
    seconds: Number(seconds),
    ...(sockets !== undefined ? { sockets: Number(sockets) } : {}),
    ...(warmupSeconds !== undefined ? { warmupSeconds: Number(warmupSeconds) } : {}),
    pacing: pacing === "timer" ? "timer" : "spin",
  }).then(
    (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
    (error: unknown) => {
      process.stderr.write(`paced load failed: ${String(error)}\n`);
      process.exit(1);
    },
  );
}
