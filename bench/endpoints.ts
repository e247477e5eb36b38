/**
 * `/health` and `/metrics` under load, interleaved round by round:
 *  - `/health` at a steady 1,000 req/s on the reference process while it trades
 *    (`dist/main.js --scenario calm`) against an idle process with the same preload, and the
 *    idle process against a bare node:http server (the floor). The load is open loop
 *    (`bench/paced-load.ts`, in its own process): requests 1 ms apart, latency from each
 *    request's scheduled send time, so a stall counts for every request it delays. autocannon's
 *    `overallRate` is not used here: it sends each connection's quota back to back at the start
 *    of every second, so its latencies measure the burst draining, not the server.
 *  - `/metrics` serving 10,000 series, requested back to back (autocannon, closed loop, one
 *    connection), against the idle process's `/metrics`. Latencies are taken per response
 *    (autocannon's own histogram has 1 ms resolution).
 */
import { join } from "node:path";
import autocannon from "autocannon";
import {
  REPO_ROOT,
  compareFigure,
  fmt,
  freePort,
  launch,
  notMeasured,
  percentile,
  preloadPath,
  summarize,
  type Benchmark,
  type Figure,
  type Launched,
} from "./lib.js";
import { startOtlpSink } from "./otlp-sink.js";
import { runPacedLoadInChild } from "./paced-load.js";
import { startPreloaded, type Preloaded } from "./preloaded.js";

const SERIES = 10_000;

interface Burst {
  p50: number;
  p99: number;
  rps: number;
  errors: number;
  /** Paced load only: p99 of the generator's own lag behind its schedule (ms), NaN otherwise. */
  dispatchLagP99: number;
  /** Paced load only: p99 from the actual dispatch to the end of the response (ms), NaN otherwise. */
  fromDispatchP99: number;
  /** Paced load only: the generator's own CPU (all threads), ms per second; NaN otherwise. */
  generatorCpuMsPerSecond: number;
}

const HEALTH_RATE = 1_000;
const HEALTH_SOCKETS = 32;

interface BurstOptions {
  seconds: number;
  /** `paced`: steady open-loop load at `rate` (bench/paced-load.ts); `closed`: autocannon back to back. */
  load: "paced" | "closed";
  rate?: number;
  connections: number;
}

/** One burst of either kind. */
async function burst(url: string, options: BurstOptions): Promise<Burst> {
  if (options.load === "closed") return closedBurst(url, options);
  const result = await runPacedLoadInChild({
    url,
    rate: options.rate ?? HEALTH_RATE,
    seconds: options.seconds,
    sockets: options.connections,
    // The interleaved warm-up round below warms the servers; this only opens the sockets.
    warmupSeconds: 0.5,
  });
  return {
    p50: result.p50,
    p99: result.p99,
    rps: result.rps,
    errors: result.errors,
    dispatchLagP99: result.dispatchLagP99,
    fromDispatchP99: result.fromDispatchP99,
    generatorCpuMsPerSecond: result.cpuMsPerSecond,
  };
}

/** One autocannon burst; latencies (ms) recorded per 2xx response at full resolution. */
async function closedBurst(
  url: string,
  options: { seconds: number; rate?: number; connections: number },
): Promise<Burst> {
  const latencies: number[] = [];
  let errors = 0;
  const instance = autocannon({
    url,
    connections: options.connections,
    duration: options.seconds,
    ...(options.rate !== undefined ? { overallRate: options.rate } : {}),
  });
  instance.on("response", (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
    else errors++;
  });
  const result = await instance;
  return {
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    rps: result.requests.total / (result.duration > 0 ? result.duration : options.seconds),
    errors: errors + result.errors + result.timeouts,
    dispatchLagP99: Number.NaN,
    fromDispatchP99: Number.NaN,
    generatorCpuMsPerSecond: Number.NaN,
  };
}

async function countSeries(url: string): Promise<number> {
  const text = await (await fetch(url)).text();
  return text.split("\n").filter((line) => line.startsWith("bench_series_value")).length;
}

async function endpoints(quick: boolean): Promise<Figure[]> {
  const preload = preloadPath();
  if (!preload) {
    return [
      notMeasured(
        "/health p99 at 1,000 req/s while trading (vs idle)",
        "dist/tracing.js is not built",
        "<= 5 ms",
      ),
      notMeasured(
        `/metrics p99 with ${SERIES} series (vs idle process)`,
        "dist/tracing.js is not built",
        "<= 50 ms",
      ),
    ];
  }
  const sink = await startOtlpSink();
  const procs: Preloaded[] = [];
  const start = async (mode: "idle" | "trading" | "series") => {
    const started = await startPreloaded({
      preload,
      endpoint: sink.url,
      mode,
      cardinalityLimit: SERIES * 2,
      env: { BENCH_SERIES: String(SERIES) },
    });
    procs.push(started);
    return started;
  };
  let bare: Launched | undefined;
  try {
    const idle = await start("idle");
    const trading = await start("trading");
    const series = await start("series");
    const barePort = await freePort();
    bare = launch({
      command: process.execPath,
      args: [join(REPO_ROOT, "bench", "fixtures", "bare-server.js")],
      env: { ...process.env, BENCH_PORT: String(barePort) },
    });
    await bare.waitFor(/^started bare$/m, 30_000);
    const seriesCount = await countSeries(`${series.base}/metrics`);

    const rounds = quick ? 3 : 7;
    const seconds = quick ? 2 : 5;
    const bursts: Record<string, Burst[]> = {
      healthBare: [],
      healthIdle: [],
      healthTrading: [],
      metricsIdle: [],
      metricsSeries: [],
    };
    const paced = { load: "paced", rate: HEALTH_RATE, connections: HEALTH_SOCKETS } as const;
    const closed = { load: "closed", connections: 1 } as const;
    const plan: [string, string, Omit<BurstOptions, "seconds">][] = [
      ["healthBare", `http://127.0.0.1:${barePort}/health`, paced],
      ["healthIdle", `${idle.base}/health`, paced],
      ["healthTrading", `${trading.base}/health`, paced],
      ["metricsIdle", `${idle.base}/metrics`, closed],
      ["metricsSeries", `${series.base}/metrics`, closed],
    ];
    // A one-second warm-up burst each, then rounds in rotating order.
    for (const [, url, options] of plan) await burst(url, { ...options, seconds: 1 });
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < plan.length; i++) {
        const [key, url, options] = plan[(i + round) % plan.length]!;
        bursts[key]!.push(await burst(url, { ...options, seconds }));
      }
    }
    const stat = (key: string, field: keyof Burst) => summarize(bursts[key]!.map((b) => b[field]));
    const errors = (key: string) => bursts[key]!.reduce((n, b) => n + b.errors, 0);
    const tradingNote = trading.synthetic
      ? "dist/main.js not built: a synthetic trading loop (bench/fixtures/app.js load) stood in"
      : "reference process dist/main.js --scenario calm";
    const hTrading99 = stat("healthTrading", "p99");
    const lag = (key: string) =>
      `${fmt(stat(key, "dispatchLagP99").median)} ms (p99 from the actual dispatch ${fmt(stat(key, "fromDispatchP99").median)} ms)`;
    const loadNote = `steady open-loop load (bench/paced-load.ts in its own process, woken at each send time by a ticker thread; its CPU ${fmt(stat("healthTrading", "generatorCpuMsPerSecond").median)} ms/s): ${HEALTH_RATE} req/s, 1 request every ${1_000 / HEALTH_RATE} ms over ${HEALTH_SOCKETS} keep-alive sockets, latency from the scheduled send time to the end of the response`;
    return [
      compareFigure({
        name: "/health p99 at 1,000 req/s while trading (vs idle)",
        unit: "ms",
        subject: hTrading99,
        baseline: stat("healthIdle", "p99"),
        target: "<= 5 ms",
        check: (value) => value <= 5 && stat("healthTrading", "rps").median >= 950,
        note: `${tradingNote}; ${loadNote}; median of per-burst p99 over ${rounds} x ${seconds} s bursts; the generator's own dispatch lag p99 (counted in the latency) ${lag("healthTrading")} trading, ${lag("healthIdle")} idle; non-2xx/errors: ${errors("healthTrading")}`,
      }),
      compareFigure({
        name: "/health p99 at 1,000 req/s, idle process (vs bare node:http server)",
        unit: "ms",
        subject: stat("healthIdle", "p99"),
        baseline: stat("healthBare", "p99"),
        target: null,
        note: `the floor: what the machine and the load generator cost without ticktrace (bench/fixtures/bare-server.js); same paced load; bare p50 ${fmt(stat("healthBare", "p50").median)} ms, generator dispatch lag p99 ${lag("healthBare")}; non-2xx/errors: ${errors("healthIdle")} idle, ${errors("healthBare")} bare`,
      }),
      compareFigure({
        name: "/health p50 at 1,000 req/s while trading (vs idle)",
        unit: "ms",
        subject: stat("healthTrading", "p50"),
        baseline: stat("healthIdle", "p50"),
        target: null,
      }),
      compareFigure({
        name: "/health requests/s achieved while trading (vs idle)",
        unit: "req/s",
        subject: stat("healthTrading", "rps"),
        baseline: stat("healthIdle", "rps"),
        target: ">= 950 req/s (rate 1,000)",
        check: (value) => value >= 950,
        note: "2xx responses per second from the first scheduled send to the last response",
      }),
      compareFigure({
        name: `/metrics p99 with ${SERIES} series (vs idle process)`,
        unit: "ms",
        subject: stat("metricsSeries", "p99"),
        baseline: stat("metricsIdle", "p99"),
        target: "<= 50 ms",
        check: (value) => value <= 50,
        note: `${seriesCount} series exposed; autocannon, closed loop: 1 connection back to back; non-2xx/errors: ${errors("metricsSeries")}`,
      }),
      compareFigure({
        name: `/metrics p50 with ${SERIES} series (vs idle process)`,
        unit: "ms",
        subject: stat("metricsSeries", "p50"),
        baseline: stat("metricsIdle", "p50"),
        target: null,
      }),
      compareFigure({
        name: `/metrics requests/s with ${SERIES} series (vs idle process)`,
        unit: "req/s",
        subject: stat("metricsSeries", "rps"),
        baseline: stat("metricsIdle", "rps"),
        target: null,
      }),
    ];
  } finally {
    await Promise.all([...procs.map((p) => p.proc.stop()), bare?.stop()]);
    await sink.shutdown();
  }
}

export const benchmarks: Benchmark[] = [{ name: "endpoints", run: ({ quick }) => endpoints(quick) }];
