/**
 * Development tool, not a benchmark row: where the CPU of a traced tick goes, per thread, for
 * the synthetic tick loop of `bench/tick-loop.ts` (`createLoop`), toolkit disabled against
 * worker tick tracing (every tick traced) in interleaved rounds.
 *
 *   flock /tmp/ticktrace-bench.lock npx tsx bench/tick-breakdown.ts [rounds] [ticksPerRound]
 *
 * Per round and mode: the trading thread while ticking (`run`), the trading thread during the
 * round's `flush()` (the hot-path fold, the SDK batch flush, the worker flush round trip), the
 * exporter worker's thread, and every other thread of the process grouped by its name
 * (`/proc/self/task/<tid>/comm`: V8's GC helpers, libuv's pool, ...), all from schedstat, plus
 * the process's user and system time. Prints the medians per tick, worker minus disabled.
 */
import { readdirSync, readFileSync } from "node:fs";
import { createLoop, type Loop } from "./tick-loop.js";
import { launch } from "./lib.js";
import { join } from "node:path";
import { REPO_ROOT } from "./lib.js";

const rounds = Number(process.argv[2] ?? 10);
const ticks = Number(process.argv[3] ?? 5_000);

function threads(): Map<number, { name: string; ns: number }> {
  const out = new Map<number, { name: string; ns: number }>();
  for (const entry of readdirSync("/proc/self/task")) {
    const tid = Number(entry);
    try {
      const ns = Number(readFileSync(`/proc/self/task/${tid}/schedstat`, "utf8").split(" ")[0]);
      const name = readFileSync(`/proc/self/task/${tid}/comm`, "utf8").trim();
      out.set(tid, { name, ns });
    } catch {
      // thread gone
    }
  }
  return out;
}

function main(): Promise<void> {
  return run();
}

async function run(): Promise<void> {
  const sink = launch({
    command: process.execPath,
    args: [join(REPO_ROOT, "bench", "fixtures", "otlp-sink.js")],
  });
  const match = await sink.waitFor(/otlp-sink (\d+)/, 10_000);
  const url = `http://127.0.0.1:${match[1] ?? ""}/v1/traces`;
  const modes = (process.env.BENCH_TICK_MODES ?? "disabled,worker").split(",");
  const loops: Record<string, Loop> = {};
  const workerTids: Record<string, number[]> = {};
  for (const mode of modes) {
    const before = new Set(threads().keys());
    // disabled, worker (every tick traced), enabled (SDK spans), worker1Context-like modes are
    // left to the bench; more modes here make the shared code as polymorphic as in the bench.
    loops[mode] =
      mode === "disabled"
        ? createLoop(undefined)
        : mode === "enabled"
          ? createLoop(1)
          : mode === "sampled1"
            ? createLoop(0.01)
            : createLoop(1, { tracing: { kind: "worker", url } });
    workerTids[mode] = [...threads().keys()].filter((t) => !before.has(t));
  }
  const results: Record<string, Record<string, number>[]> = {};
  for (let round = 0; round < rounds + 2; round++) {
    for (let i = 0; i < modes.length; i++) {
      const mode = modes[(i + round) % modes.length] ?? "disabled";
      const loop = loops[mode];
      if (!loop) continue;
      const t0 = threads();
      const p0 = process.cpuUsage();
      await loop.run(ticks);
      const t1 = threads();
      await loop.flush();
      const t2 = threads();
      const p = process.cpuUsage(p0);
      const row: Record<string, number> = {};
      const main = process.pid;
      const d = (a: Map<number, { ns: number }>, b: Map<number, { ns: number }>, tid: number) =>
        ((b.get(tid)?.ns ?? 0) - (a.get(tid)?.ns ?? 0)) / 1000 / ticks;
      row["main.run"] = d(t0, t1, main);
      row["main.flush"] = d(t1, t2, main);
      const own = new Set(workerTids[mode]);
      row.worker = [...own].reduce((s, tid) => s + d(t0, t2, tid), 0);
      for (const [tid, info] of t2) {
        if (tid === main || own.has(tid)) continue;
        const key = `other:${info.name}`;
        row[key] = (row[key] ?? 0) + d(t0, t2, tid);
      }
      row["process.user"] = p.user / ticks;
      row["process.system"] = p.system / ticks;
      row.process = (p.user + p.system) / ticks;
      if (round >= 2) (results[mode] ??= []).push(row);
    }
  }
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.floor(s.length / 2)] ?? Number.NaN;
  };
  const keys = new Set<string>();
  for (const rows of Object.values(results))
    for (const r of rows) for (const k of Object.keys(r)) keys.add(k);
  const base = results[modes[0] ?? "disabled"] ?? [];
  console.log(`µs per tick, medians of ${rounds} rounds of ${ticks} ticks`);
  console.log(["key", ...modes, ...modes.slice(1).map((m) => `${m}-added`)].join("\t"));
  for (const key of [...keys].sort()) {
    const cols = modes.map((m) => median((results[m] ?? []).map((r) => r[key] ?? 0)).toFixed(2));
    const added = modes
      .slice(1)
      .map((m) => median((results[m] ?? []).map((r, i) => (r[key] ?? 0) - (base[i]?.[key] ?? 0))).toFixed(2));
    console.log([key, ...cols, ...added].join("\t"));
  }
  for (const loop of Object.values(loops)) await loop.shutdown();
  await sink.stop();
}

void main();
