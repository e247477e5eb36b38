/**
 * Starting processes with the ticktrace preload for the process benchmarks: a temporary
 * `config.yaml` (health port, OTLP endpoint, cardinality limit, data directories under /tmp)
 * and either the reference process (`dist/main.js --scenario calm`) or a mode of
 * `bench/fixtures/app.js`.
 */
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT, freePort, launch, tempConfig, waitForHttp, type Launched } from "./lib.js";

export const FIXTURE_APP = join(REPO_ROOT, "bench", "fixtures", "app.js");
export const REFERENCE_PROCESS = join(REPO_ROOT, "dist", "main.js");

export interface PreloadedOptions {
  preload: string;
  /** OTLP collector base URL (a local sink, or a closed port for "unreachable"). */
  endpoint: string;
  /** `trading`: the reference process (or the fixture's synthetic loop when it is not built). */
  mode: "idle" | "series" | "load" | "flood" | "trading";
  cardinalityLimit?: number;
  /** Push metrics by OTLP every second as well. */
  metricsPush?: boolean;
  logLevel?: "error" | "warn" | "info";
  /** Extra environment for the fixture (BENCH_SERIES, BENCH_FLOOD, ...). */
  env?: NodeJS.ProcessEnv;
  nodeArgs?: string[];
}

export interface Preloaded {
  proc: Launched;
  /** `http://127.0.0.1:<health port>`. */
  base: string;
  /** Set when `mode: "trading"` fell back to the synthetic loop. */
  synthetic: boolean;
}

/** Writes the config, starts the process and waits until `/health` answers. */
export async function startPreloaded(options: PreloadedOptions): Promise<Preloaded> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "ticktrace-bench-data-"));
  const config = tempConfig(
    [
      `health: { host: 127.0.0.1, port: ${port} }`,
      "telemetry:",
      `  otlp: { endpoint: "${options.endpoint}", timeout_ms: 2000 }`,
      `  metrics_push: { enabled: ${String(options.metricsPush === true)}, interval_ms: 1000 }`,
      `  cardinality_limit: ${options.cardinalityLimit ?? 2000}`,
      `logging: { level: ${options.logLevel ?? "warn"} }`,
      // Its own outbox: processes started side by side must not share one (the outbox lock refuses).
      `alerts: { jsonl: { dir: "${join(dir, "alerts")}" }, outbox: { dir: "${join(dir, "outbox")}" } }`,
      `monitoring: { snapshot_dir: "${join(dir, "monitoring")}" }`,
      "",
    ].join("\n"),
  );
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env, TICKTRACE_CONFIG: config };
  delete env.NODE_OPTIONS;
  const reference = options.mode === "trading" && existsSync(REFERENCE_PROCESS);
  const synthetic = options.mode === "trading" && !reference;
  env.BENCH_MODE = options.mode === "trading" ? "load" : options.mode;
  const script = reference ? [REFERENCE_PROCESS, "--scenario", "calm", "--config", config] : [FIXTURE_APP];
  const proc = launch({
    command: process.execPath,
    args: [...(options.nodeArgs ?? []), "--require", options.preload, ...script],
    env,
  });
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${base}/health`, 30_000);
    if (!reference) await proc.waitFor(/^started/m, 30_000);
  } catch (error) {
    await proc.stop();
    throw error;
  }
  return { proc, base, synthetic };
}
