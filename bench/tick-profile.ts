/**
 * Development tool: drives the synthetic tick loop of `bench/tick-loop.ts` in one mode for
 * profiling (`node --cpu-prof`, `--trace-gc`), rounds of run + flush as the bench does.
 *
 *   flock /tmp/ticktrace-bench.lock node --import tsx --cpu-prof bench/tick-profile.ts worker 20 5000
 *
 * Modes: `disabled`, `worker` (worker tick tracing, every tick traced) and `untraced` (worker
 * tick tracing that samples no tick). The loop runs in this process, under tsx.
 */
import { join } from "node:path";
import { createLoop } from "./tick-loop.js";
import { launch, REPO_ROOT } from "./lib.js";

async function main(): Promise<void> {
  const mode = process.argv[2] ?? "worker";
  const rounds = Number(process.argv[3] ?? 20);
  const ticks = Number(process.argv[4] ?? 5_000);
  const sink = launch({
    command: process.execPath,
    args: [join(REPO_ROOT, "bench", "fixtures", "otlp-sink.js")],
  });
  const match = await sink.waitFor(/otlp-sink (\d+)/, 10_000);
  const url = `http://127.0.0.1:${match[1] ?? ""}/v1/traces`;
  const loop =
    mode === "disabled"
      ? createLoop(undefined)
      : createLoop(mode === "untraced" ? 0 : 1, { tracing: { kind: "worker", url } });
  for (let i = 0; i < rounds; i++) {
    // Bytes allocated per tick (run with a semi-space large enough for a round, e.g.
    // --max-semi-space-size=512, so no scavenge runs in between).
    const heap0 = process.memoryUsage().heapUsed;
    const before = process.cpuUsage();
    await loop.run(ticks);
    const mid = process.cpuUsage(before);
    const heap1 = process.memoryUsage().heapUsed;
    await loop.flush();
    const all = process.cpuUsage(before);
    const heap2 = process.memoryUsage().heapUsed;
    if (process.env.TICK_PROFILE_VERBOSE)
      console.log(
        `round ${i}: heap bytes per tick: run ${((heap1 - heap0) / ticks).toFixed(0)}, flush ${((heap2 - heap1) / ticks).toFixed(0)}`,
      );
    if (process.env.TICK_PROFILE_VERBOSE)
      console.log(
        `round ${i}: run ${((mid.user + mid.system) / ticks).toFixed(2)} µs/tick, with flush ${((all.user + all.system) / ticks).toFixed(2)}; dropped ${JSON.stringify(loop.droppedValues())}`,
      );
  }
  await loop.shutdown();
  await sink.stop();
}

void main();
