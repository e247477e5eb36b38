/**
 * Memory under pressure, measured on processes started with the preload:
 *  - collector unreachable vs reachable: two identical trading processes side by side, one
 *    exporting to a local OTLP sink, one to a closed port; RSS growth over 10 minutes
 *    (`--quick`: 30 seconds), and the live heap after full GCs and the non-heap RSS, which tell a
 *    leak from V8 sizing its heap (RSS swings by tens of MiB with the heap's reserved size);
 *  - a label flood: a million distinct `symbol` values on one catalogue counter, with
 *    collections between chunks; the series on `/metrics` must stay within
 *    `telemetry.cardinality_limit` (the overflow series counted in it) with no increment lost,
 *    and RSS must stay flat once the cap is reached.
 */
import { dirname, join } from "node:path";
import {
  MiB,
  freePort,
  notMeasured,
  preloadPath,
  sampleRss,
  sleep,
  spreadText,
  summarize,
  type Benchmark,
  type Figure,
  type Launched,
} from "./lib.js";
import { startOtlpSink } from "./otlp-sink.js";
import { FIXTURE_APP, startPreloaded } from "./preloaded.js";

const FLOOD = 1_000_000;
const CARDINALITY_LIMIT = 2_000;

/** RSS growth (MiB): median of the last 10% of samples minus median of the samples just after warm-up. */
function growth(
  samples: { atMs: number; bytes: number }[],
  warmupMs: number,
): { growthMiB: number; spread: string } {
  const after = samples.filter((s) => s.atMs >= warmupMs);
  const tenth = Math.max(3, Math.floor(after.length / 10));
  const start = summarize(after.slice(0, tenth).map((s) => s.bytes / MiB));
  const end = summarize(after.slice(-tenth).map((s) => s.bytes / MiB));
  return {
    growthMiB: end.median - start.median,
    spread: `RSS ${start.median.toFixed(1)} -> ${end.median.toFixed(1)} MiB; end window ${spreadText(end, "MiB")}`,
  };
}

/** `bench/fixtures/heap-probe.js`: prints the live heap after each full GC and the non-heap RSS. */
const HEAP_PROBE = join(dirname(FIXTURE_APP), "heap-probe.js");

/**
 * Growth (MiB) of one `heap-probe` series in a process's output: median of the values in the last
 * `fraction` (at least 90 s) of the post-warm-up time (up to the last value printed) minus the
 * median of those in the first (null when a window holds no value). Times are the probe's, from the
 * process's start, a moment before the RSS samplers started.
 */
function probeGrowth(
  output: string,
  kind: "gc" | "nonheap",
  warmupMs: number,
  fraction: number,
): { growthMiB: number; text: string } | null {
  const values = [...output.matchAll(new RegExp(`^heap-probe ${kind} (\\d+) (\\d+)$`, "gm"))].map((m) => ({
    atMs: Number(m[1]),
    mib: Number(m[2]) / MiB,
  }));
  const endMs = values.reduce((end, v) => Math.max(end, v.atMs), 0);
  // Full GCs come in bursts every ~30-40 s in the reference process: a window spans at least 90 s
  // (at most half the measured time).
  const span = endMs - warmupMs;
  const window = Math.min(span / 2, Math.max(span * fraction, 90_000));
  const first = values.filter((v) => v.atMs >= warmupMs && v.atMs < warmupMs + window).map((v) => v.mib);
  const last = values.filter((v) => v.atMs > endMs - window).map((v) => v.mib);
  if (window <= 0 || first.length === 0 || last.length === 0) return null;
  const a = summarize(first).median;
  const b = summarize(last).median;
  return { growthMiB: b - a, text: `${a.toFixed(1)} -> ${b.toFixed(1)} MiB` };
}

async function collectorDown(quick: boolean): Promise<Figure[]> {
  const name = "RSS growth with the collector unreachable (vs reachable)";
  const preload = preloadPath();
  if (!preload) return [notMeasured(name, "dist/tracing.js is not built", "<= 20 MB growth")];
  const durationMs = quick ? 30_000 : 600_000;
  const warmupMs = quick ? 8_000 : 60_000;
  const sink = await startOtlpSink();
  const closedPort = await freePort(); // nothing listens here: connection refused, like a collector that is down
  const procs: Launched[] = [];
  const start = async (endpoint: string) => {
    const started = await startPreloaded({
      preload,
      endpoint,
      mode: "trading",
      metricsPush: true,
      logLevel: "info",
      nodeArgs: ["--require", HEAP_PROBE],
    });
    procs.push(started.proc);
    return started;
  };
  try {
    const up = await start(sink.url);
    const down = await start(`http://127.0.0.1:${closedPort}`);
    const upRss = sampleRss(up.proc.pid, 1_000);
    const downRss = sampleRss(down.proc.pid, 1_000);
    await sleep(durationMs);
    upRss.stop();
    downRss.stop();
    const reachable = growth(upRss.samples, warmupMs);
    const unreachable = growth(downRss.samples, warmupMs);
    const minutes = durationMs / 60_000;
    const fraction = 1 / 10;
    const live = (proc: Launched) => probeGrowth(proc.output(), "gc", warmupMs, fraction);
    const native = (proc: Launched) => probeGrowth(proc.output(), "nonheap", warmupMs, fraction);
    const [liveUp, liveDown, nativeUp, nativeDown] = [
      live(up.proc),
      live(down.proc),
      native(up.proc),
      native(down.proc),
    ];
    const workload = up.synthetic
      ? "synthetic trading loop (dist/main.js not built)"
      : "reference process, scenario calm";
    return [
      {
        name,
        value: unreachable.growthMiB,
        unit: "MiB",
        baseline: reachable.growthMiB,
        ratio: null,
        target: "<= 20 MB growth",
        met: unreachable.growthMiB <= 20,
        spread: unreachable.spread,
        note:
          `${minutes < 1 ? `${durationMs / 1000} s (--quick shortens the 10 min run)` : `${minutes} min`}, ${workload}, ` +
          `traces+logs+metrics push every 1 s; reachable: ${reachable.spread}; sink received ${sink.counts.requests} requests`,
      },
      {
        name: "Live heap growth (after full GCs) with the collector unreachable (vs reachable)",
        value: liveDown?.growthMiB ?? Number.NaN,
        unit: "MiB",
        baseline: liveUp?.growthMiB ?? null,
        ratio: null,
        target: "<= 20 MB growth",
        met: liveDown === null ? null : liveDown.growthMiB <= 20,
        spread: liveDown?.text ?? `no full GC in a window${quick ? " (--quick is too short)" : ""}`,
        note:
          "same processes; heap used right after each mark-sweep (bench/fixtures/heap-probe.js), median of the " +
          `first vs the last tenth (>= 90 s) after warm-up: what a leak moves, without V8's heap sizing, which makes RSS ` +
          `swing by tens of MiB; reachable: ${liveUp?.text ?? "n/a"}; non-heap RSS (rss - heapTotal): ` +
          `unreachable ${nativeDown?.text ?? "n/a"}, reachable ${nativeUp?.text ?? "n/a"}`,
      },
    ];
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    await sink.shutdown();
  }
}

async function labelFlood(quick: boolean): Promise<Figure[]> {
  const name = `RSS growth under a label flood (${FLOOD / 1e6}M distinct symbols)`;
  const preload = preloadPath();
  if (!preload) return [notMeasured(name, "dist/tracing.js is not built", "bounded by the cardinality cap")];
  const sink = await startOtlpSink();
  let proc: Launched | undefined;
  try {
    const flood = await startPreloaded({
      preload,
      endpoint: sink.url,
      mode: "flood",
      metricsPush: true,
      cardinalityLimit: CARDINALITY_LIMIT,
      env: { BENCH_FLOOD: String(FLOOD) },
      nodeArgs: ["--expose-gc"],
    });
    proc = flood.proc;
    await proc.waitFor(/^flood done rss (\d+)$/m, quick ? 120_000 : 300_000);
    const checkpoints = [...proc.output().matchAll(/^flood (\d+) rss (\d+)$/gm)].map((m) => ({
      symbols: Number(m[1]),
      mib: Number(m[2]) / MiB,
    }));
    const first = checkpoints[0]!;
    const last = checkpoints[checkpoints.length - 1]!;
    const text = await (await fetch(`${flood.base}/metrics`)).text();
    const series = text.split("\n").filter((line) => line.startsWith("trading_orders_placed_total{"));
    const overflow = series.some((line) => line.includes('otel_metric_overflow="true"'));
    const counted = series.reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(" ") + 1)), 0);
    const growthMiB = last.mib - first.mib;
    // The SDK counts the otel.metric.overflow series within the limit, and so does ticktrace.
    const cap = CARDINALITY_LIMIT;
    return [
      {
        name: "series on /metrics after a label flood (1M distinct symbols)",
        value: series.length,
        unit: "series",
        baseline: cap,
        ratio: series.length / cap,
        target: `<= ${cap} (telemetry.cardinality_limit, overflow series included), no increment lost`,
        met: series.length <= cap && counted === FLOOD,
        note:
          `trading_orders_placed_total, ${FLOOD} symbols in 10 chunks with a collection (OTLP push, 1 s) between chunks; ` +
          `${overflow ? "overflow series present" : "no overflow series"}; ${counted} of ${FLOOD} increments on /metrics`,
      },
      {
        name,
        value: growthMiB,
        unit: "MiB",
        baseline: null,
        ratio: null,
        target: `<= 20 MB from ${first.symbols} to ${last.symbols} symbols`,
        met: growthMiB <= 20,
        spread: `RSS at checkpoints ${checkpoints.map((c) => c.mib.toFixed(0)).join(", ")} MiB`,
        note: `cardinality_limit ${CARDINALITY_LIMIT}; the cap holds for the life of the process, so later chunks only add to the overflow series`,
      },
    ];
  } finally {
    await proc?.stop();
    await sink.shutdown();
  }
}

export const benchmarks: Benchmark[] = [
  { name: "label-flood", run: ({ quick }) => labelFlood(quick) },
  { name: "collector-down", run: ({ quick }) => collectorDown(quick) },
];
