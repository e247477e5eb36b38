/**
 * Start-up time and resident memory of a small bot (http, its own express app, winston) started with the
 * ticktrace preload, against plain `node` and the full `@opentelemetry/auto-instrumentations-node`
 * bundle, interleaved round by round.
 *
 * The auto-instrumentations bundle is not a project dependency. It is a benchmark-only baseline
 * installed outside the repository:
 *   npm install --prefix /tmp/ticktrace-bench-autoinst @opentelemetry/auto-instrumentations-node@0.81.2
 * (override the directory with BENCH_AUTOINST_DIR). Without it, its rows say "not measured".
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  MiB,
  REPO_ROOT,
  compareFigure,
  interleave,
  launch,
  notMeasured,
  preloadPath,
  summarize,
  tempConfig,
  type Benchmark,
  type Figure,
} from "./lib.js";
import { startOtlpSink } from "./otlp-sink.js";

const FIXTURE = join(REPO_ROOT, "bench", "fixtures", "startup-app.js");
const AUTOINST_DIR = process.env.BENCH_AUTOINST_DIR ?? "/tmp/ticktrace-bench-autoinst";
const AUTOINST_REGISTER = join(
  AUTOINST_DIR,
  "node_modules/@opentelemetry/auto-instrumentations-node/build/src/register.js",
);

interface Run {
  ms: number;
  rssBytes: number;
}

/** The bot's first line: prints `ready` and its RSS, then idles until stopped. */
const FIRST_LINE = [
  "-e",
  'process.stdout.write("ready\\nrss " + process.memoryUsage().rss + "\\n"); setInterval(() => {}, 60000);',
];
const PHASES = join(REPO_ROOT, "bench", "fixtures", "startup-phases.js");

async function startOnce(
  preload: string | undefined,
  env: NodeJS.ProcessEnv,
  script: readonly string[] = [FIXTURE],
): Promise<Run> {
  const args = preload === undefined ? [...script] : ["--require", preload, ...script];
  const t0 = performance.now();
  const child = launch({ command: process.execPath, args, env });
  await child.waitFor(/^ready$/m, 30_000);
  const ms = performance.now() - t0;
  const match = await child.waitFor(/^rss (\d+)$/m, 30_000);
  await child.stop();
  return { ms, rssBytes: Number(match[1]) };
}

async function startup(quick: boolean): Promise<Figure[]> {
  const sink = await startOtlpSink();
  try {
    const baseEnv: NodeJS.ProcessEnv = { ...process.env, BENCH_SETTLE_MS: "500" };
    delete baseEnv.NODE_OPTIONS;
    const preload = preloadPath();
    const config = tempConfig(
      [
        "health: { port: 0 }",
        `telemetry: { otlp: { endpoint: "${sink.url}" } }`,
        "logging: { level: warn }",
        "alerts: { enabled: false }",
        "monitoring: { enabled: false }",
        "",
      ].join("\n"),
    );
    const preloadEnv = { ...baseEnv, TICKTRACE_CONFIG: config };
    const autoEnv: NodeJS.ProcessEnv = {
      ...baseEnv,
      OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
      OTEL_SERVICE_NAME: "bench-autoinst",
      // The cloud detectors would call metadata servers off the machine; keep to local ones.
      OTEL_NODE_RESOURCE_DETECTORS: "env,host,os,process",
    };
    const haveAuto = existsSync(AUTOINST_REGISTER);
    const rss: Record<string, number[]> = { plain: [], preload: [], auto: [] };
    const subject = (key: string, path: string | undefined, env: NodeJS.ProcessEnv) => async () => {
      const run = await startOnce(path, env);
      rss[key]!.push(run.rssBytes);
      return run.ms;
    };
    const firstLine = (key: string, path: string | undefined, env: NodeJS.ProcessEnv) => async () => {
      const run = await startOnce(path, env, FIRST_LINE);
      rss[key]!.push(run.rssBytes);
      return run.ms;
    };
    rss.plainFirst = [];
    rss.preloadFirst = [];
    const subjects: Record<string, () => Promise<number>> = { plain: subject("plain", undefined, baseEnv) };
    if (preload) {
      subjects.preload = subject("preload", preload, preloadEnv);
      subjects.plainFirst = firstLine("plainFirst", undefined, baseEnv);
      subjects.preloadFirst = firstLine("preloadFirst", preload, preloadEnv);
    }
    if (haveAuto) subjects.auto = subject("auto", AUTOINST_REGISTER, autoEnv);
    const rounds = quick ? 5 : 15;
    const result = await interleave({ subjects, rounds, warmupRounds: 1 });
    // interleave() discards the warm-up round's samples; drop its RSS values too.
    for (const key of Object.keys(rss)) rss[key] = rss[key]!.slice(-rounds);
    const plain = result.summaries.plain!;
    const plainRss = summarize(rss.plain!.map((b) => b / MiB));
    const figures: Figure[] = [];
    const addedNote = (unit: string, values: number[], base: number[]) =>
      `added ${summarize(values.map((v, i) => v - base[i]!)).median.toFixed(1)} ${unit} (median of per-round differences)`;

    if (result.summaries.preload) {
      const timeAdded = summarize(
        result.samples.preload!.map((v, i) => v - result.samples.plain![i]!),
      ).median;
      const rssPreload = rss.preload!.map((b) => b / MiB);
      const rssAdded = summarize(rssPreload.map((v, i) => v - rss.plain![i]! / MiB)).median;
      figures.push(
        compareFigure({
          name: "start-up time with the preload (vs plain node)",
          unit: "ms",
          subject: result.summaries.preload,
          baseline: plain,
          target: "<= 250 ms added",
          check: () => timeAdded <= 250,
          note: addedNote("ms", result.samples.preload!, result.samples.plain!),
        }),
        compareFigure({
          name: "resident memory with the preload (vs plain node)",
          unit: "MiB",
          subject: summarize(rssPreload),
          baseline: plainRss,
          target: "<= 40 MB added",
          check: () => rssAdded <= 40,
          note: `added ${rssAdded.toFixed(1)} MiB (median of per-round differences), RSS 500 ms after start`,
        }),
      );
    } else {
      figures.push(
        notMeasured(
          "start-up time with the preload (vs plain node)",
          "dist/tracing.js is not built (run npm run build)",
          "<= 250 ms added",
        ),
        notMeasured(
          "resident memory with the preload (vs plain node)",
          "dist/tracing.js is not built",
          "<= 40 MB added",
        ),
      );
    }
    if (result.summaries.preloadFirst && result.summaries.plainFirst) {
      const timeAdded = summarize(
        result.samples.preloadFirst!.map((v, i) => v - result.samples.plainFirst![i]!),
      );
      const rssAdded = summarize(rss.preloadFirst.map((v, i) => (v - rss.plainFirst![i]!) / MiB));
      figures.push(
        {
          name: "preload start-up added before the bot's first line (vs node -e)",
          value: timeAdded.median,
          unit: "ms",
          baseline: result.summaries.plainFirst.median,
          ratio: null,
          target: "<= 150 ms",
          met: timeAdded.median <= 150,
          spread: `p25-p75 ${timeAdded.p25.toFixed(0)}-${timeAdded.p75.toFixed(0)} ms (n=${timeAdded.n})`,
          note: "spawn to the first line a one-line bot prints (`node -e`), with and without `--require dist/tracing.js`, median of per-round differences; reachable OTLP sink",
        },
        {
          name: "preload memory added at the bot's first line (vs node -e)",
          value: rssAdded.median,
          unit: "MiB",
          baseline: summarize(rss.plainFirst.map((b) => b / MiB)).median,
          ratio: null,
          target: "<= 30 MiB",
          met: rssAdded.median <= 30,
          spread: `p25-p75 ${rssAdded.p25.toFixed(1)}-${rssAdded.p75.toFixed(1)} MiB (n=${rssAdded.n})`,
          note: "RSS read by the bot on its first line, median of per-round differences",
        },
      );
      figures.push(...(await phases(preloadEnv, quick ? 5 : 11)));
    }
    if (result.summaries.auto) {
      const rssAuto = rss.auto!.map((b) => b / MiB);
      figures.push(
        compareFigure({
          name: "start-up time, auto-instrumentations bundle (vs plain node)",
          unit: "ms",
          subject: result.summaries.auto,
          baseline: plain,
          target: null,
          note: addedNote("ms", result.samples.auto!, result.samples.plain!),
        }),
        compareFigure({
          name: "resident memory, auto-instrumentations bundle (vs plain node)",
          unit: "MiB",
          subject: summarize(rssAuto),
          baseline: plainRss,
          target: null,
          note: addedNote(
            "MiB",
            rssAuto,
            rss.plain!.map((b) => b / MiB),
          ),
        }),
      );
    } else {
      const reason = `baseline not installed in ${AUTOINST_DIR} (see bench/startup.ts for the npm install --prefix command)`;
      figures.push(
        notMeasured("start-up time, auto-instrumentations bundle (vs plain node)", reason),
        notMeasured("resident memory, auto-instrumentations bundle (vs plain node)", reason),
      );
    }
    return figures;
  } finally {
    await sink.shutdown();
  }
}

/** The preload's steps timed one by one (bench/fixtures/startup-phases.js), median per step. */
async function phases(env: NodeJS.ProcessEnv, runs: number): Promise<Figure[]> {
  const samples = new Map<string, number[]>();
  const totals: number[] = [];
  for (let i = 0; i < runs + 1; i++) {
    const child = launch({ command: process.execPath, args: [PHASES], env });
    const match = await child.waitFor(/^(\{"phases".*\})$/m, 30_000);
    await child.stop();
    if (i === 0) continue; // warm-up: disk cache
    const parsed = JSON.parse(match[1]!) as { phases: Record<string, number>; totalMs: number };
    totals.push(parsed.totalMs);
    for (const [name, ms] of Object.entries(parsed.phases)) {
      if (!samples.has(name)) samples.set(name, []);
      samples.get(name)!.push(ms);
    }
  }
  const figures: Figure[] = [...samples].map(([name, values]) => {
    const s = summarize(values);
    return {
      name: `preload phase: ${name}`,
      value: s.median,
      unit: "ms",
      baseline: null,
      ratio: null,
      target: null,
      met: null,
      spread: `p25-p75 ${s.p25.toFixed(1)}-${s.p75.toFixed(1)} ms (n=${s.n})`,
    };
  });
  const total = summarize(totals);
  figures.push({
    name: "preload phases, total (first require to health server listening)",
    value: total.median,
    unit: "ms",
    baseline: null,
    ratio: null,
    target: null,
    met: null,
    spread: `p25-p75 ${total.p25.toFixed(0)}-${total.p75.toFixed(0)} ms (n=${total.n})`,
    note: "the steps of dist/tracing.js run one by one with a clock read between them (bench/fixtures/startup-phases.js), in the process, so node's own start is not included",
  });
  return figures;
}

export const benchmarks: Benchmark[] = [{ name: "startup", run: ({ quick }) => startup(quick) }];
