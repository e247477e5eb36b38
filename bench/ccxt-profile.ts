/**
 * Development tool: where a ccxt call's time goes inside the client process. Runs the ccxt
 * client of `bench/ccxt.ts` against the fake Binance on loopback under `--cpu-prof`, once with
 * the preload and no instrumentations and once with the ccxt instrumentation, and prints the
 * main thread's self time per call in the code ticktrace adds (its own `dist/`, the
 * OpenTelemetry packages, AsyncLocalStorage's hooks), by function.
 *
 *   flock /tmp/ticktrace-bench.lock npx tsx bench/ccxt-profile.ts 20000
 *
 * Self time of the sampled functions, not the process's CPU: it leaves out the exporter
 * thread, the garbage collector and the cost the added code imposes on ccxt's own (caches,
 * inlining). It tells which parts of the wrapper cost what, which the CPU differences of
 * `npm run bench -- --only ccxt-loopback` cannot (they move by more than the parts).
 */
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FakeBinance } from "../test/ccxt/fake-binance.js";
import { REPO_ROOT, preloadPath, tempConfig } from "./lib.js";
import { configYaml, startClient, type Sample } from "./ccxt.js";
import { startOtlpSink } from "./otlp-sink.js";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  startTime: number;
  endTime: number;
}

/** The code a preloaded process runs that a bare one does not. */
function isAddedCode(url: string): boolean {
  return (
    (url.includes(`${REPO_ROOT}/dist/`) && !url.includes("/node_modules/")) ||
    url.includes("/node_modules/@opentelemetry/") ||
    url === "node:async_hooks" ||
    url === "node:internal/async_hooks"
  );
}

/** Self time in microseconds by function, for the functions of the code the preload adds. */
function addedSelfTime(profile: Profile): Map<string, number> {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const usPerSample = (profile.endTime - profile.startTime) / profile.samples.length;
  const byFunction = new Map<string, number>();
  for (const id of profile.samples) {
    const frame = nodes.get(id)?.callFrame;
    if (frame === undefined || !isAddedCode(frame.url)) continue;
    const file = frame.url
      .replace(/.*\/node_modules\//, "")
      .replace(`file://${REPO_ROOT}/`, "")
      .replace(`${REPO_ROOT}/`, "");
    const name = `${frame.functionName || "(anonymous)"} ${file}:${frame.lineNumber + 1}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + usPerSample);
  }
  return byFunction;
}

async function profileClient(
  exchangeUrl: string,
  otlp: string,
  ccxt: boolean,
  calls: number,
): Promise<{ sample: Sample; profile: Profile; calls: number }> {
  const profileDir = join(mkdtempSync(join(tmpdir(), "ticktrace-ccxt-profile-")), "profile");
  const client = await startClient(exchangeUrl, preloadPath(), tempConfig(configYaml(otlp, ccxt)), false, [
    "--cpu-prof",
    "--cpu-prof-dir",
    profileDir,
    "--cpu-prof-interval",
    "50",
  ]);
  const warmup = Math.min(2000, calls);
  await client.run(warmup);
  const sample = await client.run(calls);
  await client.stop(); // the preload exits on SIGTERM, and node writes the profile at exit
  const file = readdirSync(profileDir).find((name) => name.endsWith(".cpuprofile"));
  if (file === undefined) throw new Error(`ccxt profile: no .cpuprofile in ${profileDir}`);
  const profile = JSON.parse(readFileSync(join(profileDir, file), "utf8")) as Profile;
  // the profile spans the process's life: loading, the warm-up and the measured calls
  return { sample, profile, calls: warmup + calls };
}

async function main(): Promise<void> {
  const calls = Number(process.argv[2] ?? 20_000);
  const top = Number(process.argv[3] ?? 25);
  if (!preloadPath())
    throw new Error("ccxt profile: dist/tracing.js is not built; run `npm run build` first");
  const fake = new FakeBinance();
  await fake.start();
  const sink = await startOtlpSink();
  try {
    const selfPerCall: number[] = [];
    for (const ccxt of [false, true]) {
      const label = ccxt ? "ccxt instrumentation" : "preload, no instrumentations";
      const run = await profileClient(fake.baseUrl, sink.url, ccxt, calls);
      const self = addedSelfTime(run.profile);
      const total = [...self.values()].reduce((sum, us) => sum + us, 0);
      selfPerCall.push(total / run.calls);
      console.log(
        `\n${label}: ${(run.sample.cpuNsPerCall / 1000).toFixed(1)} us CPU per call (process), ` +
          `${(run.sample.nsPerCall / 1000).toFixed(1)} us wall; self time in added code ${(total / run.calls).toFixed(1)} us per call`,
      );
      for (const [name, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top))
        console.log(`  ${(us / run.calls).toFixed(2).padStart(6)} us  ${name}`);
    }
    const [off = 0, on = 0] = selfPerCall;
    console.log(
      `\nadded by the instrumentation, self time on the main thread: ${(on - off).toFixed(1)} us per call`,
    );
  } finally {
    await sink.shutdown();
    await fake.stop();
  }
}

void main();
