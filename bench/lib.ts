/**
 * Shared pieces of the benchmark harness: the module contract (`Benchmark`, `Figure`),
 * interleaved A/B measurement, percentiles, an RSS sampler, a free-port helper and a
 * child-process launcher. Benchmarks are not tests: nothing here asserts a timing.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createServer, type AddressInfo } from "node:net";
import { join, resolve } from "node:path";

/** One measured (or honestly unmeasured) number. `value: NaN` means "not measured" (`null` in JSON). */
export interface Figure {
  name: string;
  value: number;
  unit: string;
  /** The baseline measured side by side in the same run, or null when the figure has none. */
  baseline: number | null;
  /** `value / baseline`, or null without a baseline. */
  ratio: number | null;
  /** Human-readable target, e.g. `<= 5 us`, or null. */
  target: string | null;
  /** Whether the target is met; null when there is no target or nothing was measured. */
  met: boolean | null;
  /** Spread of `value` over the repetitions, e.g. `p25-p75 410-455 ns (n=15)`. */
  spread?: string;
  /** Anything a reader needs to interpret the row (what was skipped and why, what was shortened). */
  note?: string;
}

/** A named benchmark in a `bench/*.ts` module; each module exports `benchmarks: Benchmark[]`. */
export interface Benchmark {
  name: string;
  run(opts: { quick: boolean }): Promise<Figure[]>;
}

/** Absolute path of the repository root (bench/ is one level below). */
export const REPO_ROOT = resolve(__dirname, "..");

// ---------------------------------------------------------------------------------------------
// Statistics

/** Percentile `p` (0..100) of already sorted numbers, linear interpolation; NaN when empty. */
export function percentileSorted(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  return a + (b - a) * (rank - lo);
}

/** Percentile `p` (0..100) of numbers in any order. */
export function percentile(values: readonly number[], p: number): number {
  return percentileSorted(
    [...values].sort((x, y) => x - y),
    p,
  );
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

export interface Summary {
  n: number;
  median: number;
  p25: number;
  p75: number;
  p99: number;
  min: number;
  max: number;
  /** Median absolute deviation from the median. */
  mad: number;
}

export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((x, y) => x - y);
  const med = percentileSorted(sorted, 50);
  const deviations = sorted.map((v) => Math.abs(v - med));
  return {
    n: sorted.length,
    median: med,
    p25: percentileSorted(sorted, 25),
    p75: percentileSorted(sorted, 75),
    p99: percentileSorted(sorted, 99),
    min: sorted[0] ?? Number.NaN,
    max: sorted[sorted.length - 1] ?? Number.NaN,
    mad: median(deviations),
  };
}

/** Rounds for display: 3 significant digits, integers above 1,000. */
export function fmt(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "n/a";
  if (Math.abs(value) >= 1000) return Math.round(value).toString();
  return Number(value.toPrecision(3)).toString();
}

/** `p25-p75 a-b unit (n=N)` for a summary. */
export function spreadText(s: Summary, unit: string): string {
  return `p25-p75 ${fmt(s.p25)}-${fmt(s.p75)} ${unit} (n=${s.n})`;
}

// ---------------------------------------------------------------------------------------------
// Interleaved A/B measurement

export interface InterleavedResult<K extends string> {
  /** Per-subject samples in round order. */
  samples: Record<K, number[]>;
  summaries: Record<K, Summary>;
}

/**
 * Runs every subject once per round, rotating which goes first, for `rounds` rounds, so a
 * noisy neighbour hurts all subjects alike. Each subject returns one sample (a number: ns/op,
 * ms, bytes). `warmupRounds` are run and discarded first.
 */
export async function interleave<K extends string>(options: {
  subjects: Record<K, () => number | Promise<number>>;
  rounds: number;
  warmupRounds?: number;
}): Promise<InterleavedResult<K>> {
  const keys = Object.keys(options.subjects) as K[];
  const samples = Object.fromEntries(keys.map((k) => [k, [] as number[]])) as Record<K, number[]>;
  const warmup = options.warmupRounds ?? 1;
  for (let round = 0; round < warmup + options.rounds; round++) {
    for (let i = 0; i < keys.length; i++) {
      const key = keys[(i + round) % keys.length]!;
      const value = await options.subjects[key]();
      if (round >= warmup) samples[key].push(value);
    }
  }
  const summaries = Object.fromEntries(keys.map((k) => [k, summarize(samples[k])])) as Record<K, Summary>;
  return { samples, summaries };
}

/** Nanoseconds per call of `fn` over `iterations` calls (one sample). */
export function nsPerOp(fn: (i: number) => void, iterations: number): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn(i);
  return Number(process.hrtime.bigint() - start) / iterations;
}

/** Builds a figure comparing `subject` to `baseline` summaries; `met` decided by `check(value, ratio)`. */
export function compareFigure(options: {
  name: string;
  unit: string;
  subject: Summary;
  baseline: Summary | null;
  target: string | null;
  check?: (value: number, ratio: number | null) => boolean;
  note?: string;
}): Figure {
  const value = options.subject.median;
  const baseline = options.baseline ? options.baseline.median : null;
  const ratio = baseline !== null && baseline !== 0 ? value / baseline : null;
  const figure: Figure = {
    name: options.name,
    value,
    unit: options.unit,
    baseline,
    ratio,
    target: options.target,
    met: options.check && Number.isFinite(value) ? options.check(value, ratio) : null,
    spread: spreadText(options.subject, options.unit),
  };
  if (options.note !== undefined) figure.note = options.note;
  return figure;
}

/** A row saying honestly that a figure was not measured, and why. */
export function notMeasured(name: string, reason: string, target: string | null = null): Figure {
  return {
    name,
    value: Number.NaN,
    unit: "",
    baseline: null,
    ratio: null,
    target,
    met: null,
    note: `not measured: ${reason}`,
  };
}

// ---------------------------------------------------------------------------------------------
// Processes, ports, memory

/** Resident set size of a process in bytes (Linux `/proc`), or NaN once it has gone. */
export function rssBytes(pid: number = process.pid): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const match = /VmRSS:\s+(\d+)\s+kB/.exec(status);
    return match ? Number(match[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

export interface RssSampler {
  readonly samples: { atMs: number; bytes: number }[];
  stop(): void;
}

/** Samples a process's RSS every `intervalMs` until stopped (timer unref'd). */
export function sampleRss(pid: number, intervalMs: number): RssSampler {
  const samples: { atMs: number; bytes: number }[] = [];
  const t0 = performance.now();
  const take = () => {
    const bytes = rssBytes(pid);
    if (Number.isFinite(bytes)) samples.push({ atMs: performance.now() - t0, bytes });
  };
  take();
  const timer = setInterval(take, intervalMs);
  timer.unref();
  return {
    samples,
    stop: () => clearInterval(timer),
  };
}

/** A TCP port free on 127.0.0.1 at the time of the call. */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolvePort(port));
    });
  });
}

export interface Launched {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Everything the child wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves with the first match of `pattern` in the output (past or future); rejects on exit or timeout. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL after `graceMs`. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts a child process (no shell), collecting its output. */
export function launch(options: {
  command: string;
  args: readonly string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}): Launched {
  const child = spawn(options.command, [...options.args], {
    cwd: options.cwd ?? REPO_ROOT,
    env: options.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let text = "";
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    text += chunk.toString("utf8");
    if (text.length > 1_000_000) text = text.slice(-500_000);
    for (const listener of listeners) listener();
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  let exitedFlag = false;
  const exited = new Promise<number | string>((resolveExit) => {
    child.on("exit", (code, signal) => {
      exitedFlag = true;
      for (const listener of listeners) listener();
      resolveExit(code ?? signal ?? "unknown");
    });
    child.on("error", (error) => {
      exitedFlag = true;
      text += `\nspawn error: ${error.message}`;
      for (const listener of listeners) listener();
      resolveExit("spawn-error");
    });
  });
  return {
    child,
    pid: child.pid ?? -1,
    output: () => text,
    exited,
    waitFor(pattern, timeoutMs) {
      return new Promise((resolveMatch, reject) => {
        const check = () => {
          const match = text.match(pattern);
          if (match) {
            done();
            resolveMatch(match);
          } else if (exitedFlag) {
            done();
            reject(
              new Error(`process exited before printing ${String(pattern)}; output: ${text.slice(-800)}`),
            );
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(
            new Error(
              `timed out after ${timeoutMs} ms waiting for ${String(pattern)}; output: ${text.slice(-800)}`,
            ),
          );
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
    async stop(graceMs = 3_000) {
      if (exitedFlag) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => {
        if (!exitedFlag) child.kill("SIGKILL");
      }, graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Polls `url` until it answers (any HTTP status) or `timeoutMs` passes. */
export async function waitForHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      await response.arrayBuffer();
      return;
    } catch (error) {
      last = error;
      await sleep(100);
    }
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms (${String(last)})`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export const MiB = 1024 * 1024;

/** Writes `yaml` to a fresh temporary `config.yaml` and returns its path. */
export function tempConfig(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), "ticktrace-bench-"));
  const file = join(dir, "config.yaml");
  writeFileSync(file, yaml);
  return file;
}

/** The built preload, or undefined (with the reason) when `dist/tracing.js` is not there. */
export function preloadPath(): string | undefined {
  const file = join(REPO_ROOT, "dist", "tracing.js");
  return existsSync(file) ? file : undefined;
}
