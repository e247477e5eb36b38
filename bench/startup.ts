/**
 * Start-up time and resident memory of a small bot (http, express, winston) started with the
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

async function startOnce(preload: string | undefined, env: NodeJS.ProcessEnv): Promise<Run> {
  const args = preload === undefined ? [FIXTURE] : ["--require", preload, FIXTURE];
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
    const subjects: Record<string, () => Promise<number>> = { plain: subject("plain", undefined, baseEnv) };
    if (preload) subjects.preload = subject("preload", preload, preloadEnv);
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

export const benchmarks: Benchmark[] = [{ name: "startup", run: ({ quick }) => startup(quick) }];
