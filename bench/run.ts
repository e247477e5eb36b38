/**
 * `npm run bench [-- --quick] [-- --only NAME] [-- --out FILE]`: runs every benchmark module,
 * prints a table and writes `bench/results/latest.json`. A module that is missing or throws is
 * recorded as a "not measured" row instead of stopping the run.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, freemem, loadavg, release, totalmem } from "node:os";
import { dirname, resolve } from "node:path";
import { REPO_ROOT, fmt, notMeasured, type Benchmark, type Figure } from "./lib.js";

/** Benchmark modules, in the order of the results table. tick-loop, alerts and monitoring are owned by other folders. */
export const MODULES = [
  "core",
  "tick-loop",
  "alerts",
  "monitoring",
  "endpoints",
  "startup",
  "memory",
  "reliability",
  "ccxt",
] as const;

/**
 * The order modules run in: the long memory benchmarks (RSS, little affected by CPU noise) first,
 * so the timing benchmarks run last, when a shared machine is most likely to be quiet.
 */
const RUN_ORDER: readonly (typeof MODULES)[number][] = [
  "memory",
  "core",
  "tick-loop",
  "alerts",
  "monitoring",
  "endpoints",
  "startup",
  "reliability",
  "ccxt",
];

export interface Results {
  machine: {
    cpu: string;
    cores: number;
    memoryBytes: number;
    os: string;
    loadavgAtStart: number[];
    /** Absent in results written before it was recorded. */
    loadavgAtEnd?: number[];
    freeMemoryBytesAtStart: number;
  };
  node: string;
  date: string;
  mode: "full" | "quick";
  only: string | null;
  command: string;
  durationSeconds: number;
  figures: Figure[];
}

interface Args {
  quick: boolean;
  only: string | null;
  out: string;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { quick: false, only: null, out: resolve(REPO_ROOT, "bench/results/latest.json") };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--quick") args.quick = true;
    else if (arg === "--only") args.only = argv[++i] ?? null;
    else if (arg.startsWith("--only=")) args.only = arg.slice("--only=".length);
    else if (arg === "--out") args.out = resolve(argv[++i] ?? args.out);
    else if (arg.startsWith("--out=")) args.out = resolve(arg.slice("--out=".length));
    else if (arg === "--help" || arg === "-h") {
      console.log(
        `usage: npm run bench -- [--quick] [--only NAME] [--out FILE]\nmodules: ${MODULES.join(", ")}`,
      );
      process.exit(0);
    } else {
      console.error(`bench: unknown argument ${arg} (try --help)`);
      process.exit(2);
    }
  }
  return args;
}

async function loadModule(name: string): Promise<{ benchmarks: Benchmark[] } | { error: string }> {
  try {
    const mod = (await import(`./${name}.js`)) as { benchmarks?: unknown };
    if (!Array.isArray(mod.benchmarks))
      return { error: `bench/${name}.ts does not export benchmarks: Benchmark[]` };
    return { benchmarks: mod.benchmarks as Benchmark[] };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const message = error instanceof Error ? error.message.split("\n")[0]! : String(error);
    const missing =
      (code === "MODULE_NOT_FOUND" || code === "ERR_MODULE_NOT_FOUND") && message.includes(name);
    return {
      error: missing ? `bench/${name}.ts does not exist yet` : `bench/${name}.ts failed to load: ${message}`,
    };
  }
}

/** `--only` takes one name or several, comma-separated (modules or benchmarks). */
function selected(only: string | null, moduleName: string, benchmarkName: string): boolean {
  if (only === null) return true;
  const names = only.split(",");
  return names.includes(moduleName) || names.includes(benchmarkName);
}

export async function runAll(args: Args): Promise<Results> {
  const started = performance.now();
  const byModule = new Map<string, Figure[]>();
  const machine = {
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    memoryBytes: totalmem(),
    os: `${process.platform} ${release()}`,
    loadavgAtStart: loadavg().map((v) => Number(v.toFixed(2))),
    freeMemoryBytesAtStart: freemem(),
  };
  let moduleName = "";
  const record = (rows: Figure[]) => {
    for (const row of rows) {
      byModule.set(moduleName, [...(byModule.get(moduleName) ?? []), row]);
      printRow(row);
    }
  };
  printHeader();
  for (moduleName of RUN_ORDER) {
    const loaded = await loadModule(moduleName);
    if ("error" in loaded) {
      if (args.only === null || args.only.split(",").includes(moduleName))
        record([notMeasured(`${moduleName} (module)`, loaded.error)]);
      continue;
    }
    for (const benchmark of loaded.benchmarks) {
      if (!selected(args.only, moduleName, benchmark.name)) continue;
      try {
        record(await benchmark.run({ quick: args.quick }));
      } catch (error) {
        const message = error instanceof Error ? error.message.split("\n")[0]! : String(error);
        record([notMeasured(benchmark.name, `benchmark threw: ${message}`)]);
      }
    }
  }
  if (args.only !== null && byModule.size === 0) {
    record([notMeasured(args.only, `no benchmark or module named ${args.only}`)]);
  }
  const figures = [...MODULES, ""].flatMap((name) => byModule.get(name) ?? []);
  const argv = [...(args.quick ? ["--quick"] : []), ...(args.only !== null ? ["--only", args.only] : [])];
  return {
    machine: { ...machine, loadavgAtEnd: loadavg().map((v) => Number(v.toFixed(2))) },
    node: process.version,
    date: new Date().toISOString(),
    mode: args.quick ? "quick" : "full",
    only: args.only,
    command: `npm run bench${argv.length > 0 ? ` -- ${argv.join(" ")}` : ""}`,
    durationSeconds: Math.round((performance.now() - started) / 1000),
    figures,
  };
}

const COLUMNS = [50, 12, 8, 12, 8, 18, 6];

function printHeader(): void {
  console.log(row(["figure", "value", "unit", "baseline", "ratio", "target", "met"]));
  console.log(COLUMNS.map((w) => "-".repeat(w)).join(" "));
}

function row(cells: string[]): string {
  return cells.map((c, i) => c.padEnd(COLUMNS[i] ?? 10)).join(" ");
}

function printRow(f: Figure): void {
  const met = f.met === null ? "-" : f.met ? "yes" : "NO";
  console.log(row([f.name, fmt(f.value), f.unit, fmt(f.baseline), fmt(f.ratio), f.target ?? "-", met]));
  const extra = [f.spread, f.note].filter((s): s is string => s !== undefined && s !== "");
  if (extra.length > 0) console.log(`    ${extra.join("; ")}`);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const results = await runAll(args);
  mkdirSync(dirname(args.out), { recursive: true });
  writeFileSync(args.out, `${JSON.stringify(results, null, 2)}\n`);
  console.log(
    `\nwrote ${args.out} (${results.figures.length} figures, ${results.durationSeconds} s, ${results.mode})`,
  );
  // Benchmarks may leave unref'd handles of the SDKs they loaded; exit explicitly.
  process.exit(0);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
