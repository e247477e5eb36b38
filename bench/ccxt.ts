/**
 * Cost of the ccxt instrumentation per unified call: the real ccxt package calling
 * `fetchTicker` on a fake Binance on loopback (test/ccxt/fake-binance.ts), in three client
 * processes side by side in one run, rounds interleaved, and in several generations of the
 * three, one after another (a process's layout luck lasts its life, so it must not decide a
 * difference):
 *   bare    plain `node`: uninstrumented ccxt;
 *   preload `--require dist/tracing.js` with `telemetry.instrumentations: []` (the SDK, the
 *           context manager and the runtime metrics, nothing that sees ccxt's requests);
 *   ccxt    the same preload with `telemetry.instrumentations: [ccxt]`.
 * Both preloaded clients export traces and metrics to a local OTLP sink, as a bot with a
 * reachable collector does. The figure is `ccxt - preload` per round (what the instrumentation
 * adds to one call: the unified-call span, the HTTP-attempt span, the metrics) against the
 * targets of at most 20 us and at most 2% of the call; `ccxt - bare` (the whole preload) is in
 * the note. With the default list the undici instrumentation is on too; it skips requests made
 * inside a ccxt call, so it adds nothing to a ccxt call. `BENCH_NO_TRACES=1` turns traces off
 * in both preloaded clients, to tell the spans' share from the rest.
 *
 * Both preloaded clients enter one context at start (see the fixture): AsyncLocalStorage's
 * promise hook, which costs every promise from then on, is on in every preloaded process after
 * its first metric export or first instrumented request, so without it the rounds before the
 * "preload" client's first export would charge the hook to the instrumentation.
 */
import { tmpdir } from "node:os";
import { fork, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { FakeBinance } from "../test/ccxt/fake-binance.js";
import {
  REPO_ROOT,
  compareFigure,
  interleave,
  notMeasured,
  preloadPath,
  spreadText,
  summarize,
  tempConfig,
  type Benchmark,
  type Figure,
} from "./lib.js";
import { startOtlpSink } from "./otlp-sink.js";

/** One `run` of the client: wall and CPU time (the client process's own) per call. */
export interface Sample {
  nsPerCall: number;
  cpuNsPerCall: number;
}

export interface Client {
  child: ChildProcess;
  run(calls: number): Promise<Sample>;
  stop(): Promise<void>;
}

/** The preloaded clients' config: OTLP to `otlp`, and the ccxt instrumentation or none. */
export function configYaml(otlp: string, ccxt: boolean): string {
  const list = ccxt ? ["ccxt"] : [];
  return [
    "service:",
    `  name: bench-ccxt-${ccxt ? "on" : "off"}`,
    "health:",
    "  port: 0",
    "logging:",
    "  level: warn",
    "telemetry:",
    "  otlp:",
    `    endpoint: ${otlp}`,
    ...(process.env.BENCH_NO_TRACES ? ["  traces:", "    enabled: false"] : []),
    "  metrics_push:",
    "    enabled: true",
    "    interval_ms: 5000",
    `  instrumentations: [${list.join(", ")}]`,
    // Each client process owns its alert outbox (one process per outbox directory).
    "alerts:",
    "  outbox:",
    `    dir: ${join(tmpdir(), `ticktrace-bench-ccxt-${ccxt ? "on" : "off"}-${process.pid}`)}`,
    "",
  ].join("\n");
}

/**
 * Forks the ccxt client (bench/fixtures/ccxt-client.cjs) and waits until its markets are loaded.
 * `nodeFlags` go to node after the preload (`--cpu-prof` for bench/ccxt-profile.ts).
 */
export async function startClient(
  exchangeUrl: string,
  preload: string | undefined,
  config: string | undefined,
  canned: boolean,
  nodeFlags: string[] = [],
): Promise<Client> {
  const child = fork(join(REPO_ROOT, "bench", "fixtures", "ccxt-client.cjs"), [], {
    cwd: REPO_ROOT,
    execArgv: [...(preload ? ["--require", preload] : []), ...nodeFlags],
    env: {
      PATH: process.env.PATH,
      EXCHANGE_URL: exchangeUrl,
      CANNED: canned ? "1" : "0",
      ...(config ? { TICKTRACE_CONFIG: config } : {}),
    },
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  await new Promise<void>((resolve, reject) => {
    child.once("message", () => resolve());
    child.once("exit", (code) =>
      reject(new Error(`ccxt client exited with ${String(code)} before it was ready`)),
    );
  });
  return {
    child,
    run(calls) {
      return new Promise((resolve) => {
        child.once("message", (message: Sample) => resolve(message));
        child.send({ cmd: "run", calls });
      });
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

async function ccxtCallCost(quick: boolean, canned: boolean): Promise<Figure[]> {
  const label = canned ? "ccxt (answers from memory)" : "ccxt (loopback)";
  const preload = preloadPath();
  if (!preload)
    return [
      notMeasured("ccxt: instrumentation cost per unified call", "dist/tracing.js is not built", "<= 20 us"),
    ];
  const fake = new FakeBinance();
  await fake.start();
  const sink = await startOtlpSink();
  const calls = (quick ? 300 : 1000) * (canned ? 5 : 1);
  // Several generations of client processes, one after another: a process's code and heap
  // layout make it a few percent faster or slower for its whole life (two identical clients
  // differed by 4-8 us per call on loopback), so one process per client would put that luck
  // into every per-round difference.
  const generations = quick ? 2 : 5;
  const roundsPerGeneration = quick ? 3 : 6;
  const warmupRounds = 2;
  const cpu: Record<"bare" | "preload" | "ccxt", number[]> = { bare: [], preload: [], ccxt: [] };
  const samples: Record<"bare" | "preload" | "ccxt", number[]> = { bare: [], preload: [], ccxt: [] };
  try {
    for (let generation = 0; generation < generations; generation++) {
      const clients: Client[] = [];
      try {
        const bare = await startClient(fake.baseUrl, undefined, undefined, canned);
        clients.push(bare);
        const off = await startClient(fake.baseUrl, preload, tempConfig(configYaml(sink.url, false)), canned);
        clients.push(off);
        const on = await startClient(fake.baseUrl, preload, tempConfig(configYaml(sink.url, true)), canned);
        clients.push(on);
        // A fresh process's first rounds run before V8 has optimized ccxt and the wrappers: not recorded.
        for (let i = 0; i < warmupRounds; i++) for (const client of clients) await client.run(calls);
        const sample = async (key: keyof typeof cpu, client: Client) => {
          const result = await client.run(calls);
          cpu[key].push(result.cpuNsPerCall);
          return result.nsPerCall;
        };
        const result = await interleave({
          subjects: {
            bare: () => sample("bare", bare),
            preload: () => sample("preload", off),
            ccxt: () => sample("ccxt", on),
          },
          rounds: roundsPerGeneration,
          warmupRounds: 0,
        });
        for (const key of Object.keys(samples) as (keyof typeof samples)[])
          samples[key].push(...result.samples[key]);
      } finally {
        for (const client of clients) await client.stop();
      }
    }
    const summaries = {
      bare: summarize(samples.bare),
      preload: summarize(samples.preload),
      ccxt: summarize(samples.ccxt),
    };
    // Per-round differences of the client's own CPU time per call: the loopback server and the
    // other processes on the machine move wall time far more than they move this.
    const added = cpu.ccxt.map((v, i) => (v - cpu.preload[i]!) / 1000);
    const addedSummary = summarize(added);
    const preloadCpuUs = summarize(cpu.preload).median / 1000;
    const share = addedSummary.median / (summaries.preload.median / 1000);
    const wallAdded = summarize(samples.ccxt.map((v, i) => (v - samples.preload[i]!) / 1000));
    const note =
      `${calls} sequential fetchTicker calls per sample, ${generations * roundsPerGeneration} interleaved rounds (${generations} generations of client processes, ${roundsPerGeneration} rounds each after ${warmupRounds} unrecorded) ${canned ? "answered from memory (fetchImplementation)" : "on loopback"}; client CPU per call ` +
      `${(summarize(cpu.ccxt).median / 1000).toFixed(0)} us instrumented, ${preloadCpuUs.toFixed(0)} us preload without instrumentations, ` +
      `${(summarize(cpu.bare).median / 1000).toFixed(0)} us bare; wall time per call ${(summaries.ccxt.median / 1000).toFixed(0)} / ` +
      `${(summaries.preload.median / 1000).toFixed(0)} / ${(summaries.bare.median / 1000).toFixed(0)} us, wall difference ` +
      `${wallAdded.median.toFixed(0)} us (p25-p75 ${wallAdded.p25.toFixed(0)}-${wallAdded.p75.toFixed(0)}); ${sink.counts.bySignal.traces ?? 0} trace exports`;
    const addedFigure: Figure = {
      name: `${label}: instrumentation CPU per unified call`,
      value: addedSummary.median,
      unit: "us",
      baseline: null,
      ratio: null,
      target: "<= 20 us",
      met: addedSummary.median <= 20,
      spread: spreadText(addedSummary, "us"),
      note,
    };
    const shareFigure: Figure = {
      name: `${label}: instrumentation share of the call`,
      value: share * 100,
      unit: "%",
      baseline: null,
      ratio: null,
      target: "<= 2 %",
      met: share <= 0.02,
      note: "median added CPU per call over the median wall time of a call with the preload and no instrumentations",
    };
    const callFigure = compareFigure({
      name: `${label}: fetchTicker wall time, instrumented (vs preload, none)`,
      unit: "ns",
      subject: summaries.ccxt,
      baseline: summaries.preload,
      target: null,
    });
    return [addedFigure, shareFigure, callFigure];
  } finally {
    await sink.shutdown();
    await fake.stop();
  }
}

export const benchmarks: Benchmark[] = [
  { name: "ccxt-loopback", run: ({ quick }) => ccxtCallCost(quick, false) },
  { name: "ccxt-memory", run: ({ quick }) => ccxtCallCost(quick, true) },
];
