import { spawn, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { dashboardExpressions } from "../../deploy/grafana/dashboards.js";
import { GO_LISTENING, spawnListening, stopChild } from "../support/processes.js";
import {
  readYaml,
  repoPath,
  run,
  startRecordingServer,
  tempDir,
  waitFor,
  type RecordingServer,
} from "./helpers.js";
import {
  PROMETHEUS_BUILTIN_SERIES,
  catalogueSeriesNames,
  expandVariables,
  metricNames,
  withoutThreshold,
} from "./promql.js";

/**
 * Every PromQL expression of the dashboards and the alert rules, run against a real Prometheus
 * (Debian's 2.42) that scrapes the reference process every second:
 *   - each parses and evaluates (2.42 accepts it, so no v3-only functions);
 *   - each selects only metrics the process produces (the catalogue) or Prometheus makes (up, ALERTS);
 *   - each whose selectors all match series the process serves returns data. Rules are run
 *     without their threshold (`x > 0.8` -> `x`), so the signal shows while nothing is wrong.
 * The process runs with the committed deploy/app/config.yaml, the Prometheus config is the
 * committed one with the targets and intervals changed for a test (see `prometheusConfig`).
 */

const SERVICE = "ticktrace-demo";

/**
 * Metric families a calm market-making run need not produce: incidents (failures, breaker trips,
 * reconnects, 429s), alert delivery (no alert in a calm run), the AI/LLM families (the
 * reference strategy makes no model calls), and the ccxt-only families (the reference process
 * has its own exchange client; test/ccxt covers them against a fake exchange). A query whose selectors match nothing may only
 * involve these; anything else not served is a failure.
 */
const QUIET_IN_CALM = [
  /^trading_orders_failed_total$/,
  /^trading_orders_rejected_total$/,
  /^trading_circuit_breaker_trips_total$/,
  /^trading_risk_limit_breaches_total$/,
  /^trading_exchange_reconnects_total$/,
  /^trading_exchange_rate_limit_hits_total$/,
  /^trading_exchange_ratelimit_wait_seconds_/,
  /^trading_worker_errors_total$/,
  /^trading_exchange_errors_total$/,
  /^trading_exchange_http_duration_seconds_/,
  /^trading_exchange_ws_/,
  /^trading_position_duration_seconds_/,
  /^trading_(agent|llm|ai|policy)_/,
  /^ticktrace_alert/,
  /^ticktrace_telemetry_export_failures_total$/,
  /^ALERTS$/,
];

interface RuleFile {
  groups: { rules: { alert: string; expr: string }[] }[];
}
interface QueryResponse {
  status: string;
  error?: string;
  data?: { result: unknown[] };
}

const temp = tempDir("live-prometheus");
interface App {
  readonly scenario: string;
  /** Known once the process logged the port it got. */
  url: string;
  target: string;
  readonly child: ChildProcess;
  log: string;
}
/** Two instances of the service: calm (the normal run) and flash-crash (breaker, alerts, rejections). */
const apps: App[] = [];
let prometheus: ChildProcess | undefined;
let otlpSink: RecordingServer | undefined;
let promUrl = "";
let promLog = "";

/** Starts the reference process on health port 0 and resolves once it logged the port it got. */
async function startApp(scenario: string, sinkUrl: string): Promise<App> {
  const workdir = join(temp.dir, scenario);
  mkdirSync(workdir);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: temp.dir,
    NODE_ENV: "production",
    SERVICE_NAME: SERVICE,
    DEPLOY_ENV: "test",
    HEALTH_HOST: "127.0.0.1",
    HEALTH_PORT: "0",
    OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl,
    ALERTMANAGER_URL: sinkUrl,
  };
  const args = [
    "--scenario",
    scenario,
    "--duration",
    "300",
    "--seed",
    "7",
    "--config",
    repoPath("deploy/app/config.yaml"),
  ];
  const child = spawn(
    process.execPath,
    ["--require", repoPath("dist/tracing.js"), repoPath("dist/main.js"), ...args],
    {
      cwd: workdir,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const app: App = { scenario, url: "", target: "", child, log: "" };
  let everything = "";
  const keep = (chunk: Buffer) => {
    app.log = (app.log + chunk.toString()).slice(-20_000);
    if (!app.url) everything += chunk.toString();
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  await waitFor(
    `the ${scenario} process's health URL`,
    () => {
      if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}\n${app.log}`);
      return Promise.resolve(/"health_url":"http:\/\/([^"]+)"/.exec(everything)?.[1]);
    },
    30_000,
  ).then((target) => {
    app.url = `http://${target}`;
    app.target = target;
  });
  return app;
}

function appLogs(): string {
  return apps.map((a) => `--- ${a.scenario} output ---\n${a.log}`).join("\n");
}

/**
 * The committed prometheus.yml for 2.42 and a test: v3 `otlp` block out, 1 s intervals, and of
 * the scrape jobs the app (at its local port) and Prometheus itself (a `role="monitoring"`
 * target); the collector, Loki, Tempo and Alertmanager do not run here.
 */
function prometheusConfig(appTargets: string[], promPort: number | undefined): string {
  const config = readYaml("deploy/prometheus/prometheus.yml") as Record<string, unknown> & {
    scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
  };
  delete config.otlp;
  delete config.alerting;
  config.global = { scrape_interval: "1s", evaluation_interval: "1s" };
  const job = config.scrape_configs.find((c) => c.job_name === SERVICE)!;
  job.static_configs[0]!.targets = appTargets;
  (job as Record<string, unknown>).scrape_interval = "1s";
  const self = config.scrape_configs.find((c) => c.job_name === "prometheus")!;
  // Its own port is known only once it listens (port 0): the self job is added by a reload.
  self.static_configs[0]!.targets = promPort === undefined ? [] : [`127.0.0.1:${promPort}`];
  config.scrape_configs = promPort === undefined ? [job] : [job, self];
  cpSync(repoPath("deploy/prometheus/rules"), join(temp.dir, "rules"), { recursive: true });
  const path = join(temp.dir, "prometheus.yml");
  writeFileSync(path, stringify(config));
  return path;
}

async function query(expr: string): Promise<QueryResponse> {
  const response = await fetch(`${promUrl}/api/v1/query`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ query: expr }),
  });
  return (await response.json()) as QueryResponse;
}

/** `name{matchers}` selectors of an expression (variables already expanded). */
function selectors(expr: string): string[] {
  const names = new Set(metricNames(expr));
  const out: string[] = [];
  for (const match of expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?/g)) {
    if (
      names.has(match[1]!) &&
      !expr
        .slice(match.index + match[0].length)
        .trimStart()
        .startsWith("(")
    )
      out.push(match[0]);
  }
  return [...new Set(out)];
}

beforeAll(async () => {
  if (!existsSync(repoPath("dist/main.js")) || !existsSync(repoPath("dist/tracing.js"))) {
    const build = await run("npx", ["tsc", "-p", "tsconfig.build.json"], { timeoutMs: 120_000 });
    if (!existsSync(repoPath("dist/main.js")))
      throw new Error(`dist/main.js missing after build:\n${build.stdout}${build.stderr}`);
  }
  // Traces, logs and the Alertmanager channel go to a local sink standing in for the collector.
  otlpSink = await startRecordingServer("{}");
  apps.push(await startApp("calm", otlpSink.url), await startApp("flash-crash", otlpSink.url));

  // Port 0: Prometheus logs the address it bound (`msg="Listening on" address=...`).
  const targets = apps.map((a) => a.target);
  const started = await spawnListening(
    "prometheus",
    [
      `--config.file=${prometheusConfig(targets, undefined)}`,
      `--storage.tsdb.path=${join(temp.dir, "tsdb")}`,
      "--web.listen-address=127.0.0.1:0",
      "--web.enable-lifecycle",
      "--log.level=info",
    ],
    { listening: GO_LISTENING },
  );
  prometheus = started.child;
  promUrl = `http://${started.address}`;
  prometheus.stderr!.on("data", (chunk: Buffer) => (promLog = (promLog + chunk.toString()).slice(-20_000)));
  // Now that its port is known, the self-scrape job goes in by a config reload.
  prometheusConfig(targets, started.port);
  const reload = await fetch(`${promUrl}/-/reload`, { method: "POST" });
  if (!reload.ok) throw new Error(`Prometheus config reload failed: ${reload.status} ${await reload.text()}`);

  for (const app of apps) {
    await waitFor(
      `the ${app.scenario} process's /metrics`,
      async () => ((await fetch(`${app.url}/metrics`)).ok ? true : undefined),
      30_000,
    ).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}\n${appLogs()}`);
    });
  }
  // Enough scrapes for rate() over 1m windows, and fills in the calm market.
  const calm = apps[0]!.target;
  await waitFor(
    "Prometheus to scrape fills from the calm process",
    async () => {
      const result = await query(
        `sum(trading_orders_filled_total{instance="${calm}"}) and on() count_over_time(up{instance="${calm}"}[1m]) > 8`,
      );
      return (result.data?.result.length ?? 0) > 0 ? true : undefined;
    },
    45_000,
  ).catch(async (error: unknown) => {
    const targets = await fetch(`${promUrl}/api/v1/targets`).then((r) => r.text(), String);
    throw new Error(`${(error as Error).message}\n${appLogs()}\n--- prometheus ---\n${promLog}\n${targets}`);
  });
  // The flash crash trips the breaker within 20 s; more series then carry data (not required).
  await waitFor(
    "the flash-crash breaker",
    async () => {
      const result = await query(`trading_circuit_breaker_active{instance="${apps[1]!.target}"} > 0`);
      return (result.data?.result.length ?? 0) > 0 ? true : undefined;
    },
    25_000,
  ).catch(() => undefined);
  // A counter that appears at its first increment needs a few scrapes before increase() sees it.
  await new Promise((r) => setTimeout(r, 3_000));
}, 120_000);

afterAll(async () => {
  // Every child has exited before its files go (a TSDB still being written made ENOTEMPTY).
  await Promise.all([...apps.map((app) => stopChild(app.child)), stopChild(prometheus)]);
  await otlpSink?.close();
  temp.cleanup();
});

function expressions(): { where: string; expr: string }[] {
  const rules = (readYaml("deploy/prometheus/rules/ticktrace.yml") as RuleFile).groups.flatMap(
    (g) => g.rules,
  );
  return [
    ...dashboardExpressions().map((e) => ({
      where: `${e.dashboard} / ${e.panel}`,
      expr: expandVariables(e.expr),
    })),
    ...rules.map((r) => ({ where: `rule ${r.alert}`, expr: withoutThreshold(r.expr) })),
  ];
}

describe("dashboards and rules against a real Prometheus scraping the reference process", () => {
  it("scrapes the process as job=service name with the service label", async () => {
    const result = await query(`up{job="${SERVICE}", service="${SERVICE}", role="trading"} == 1`);
    expect(result.data?.result.length, promLog).toBe(apps.length);
  });

  it("serves only catalogue names from the trading process on /metrics", async () => {
    const known = catalogueSeriesNames();
    for (const app of apps) {
      const text = await (await fetch(`${app.url}/metrics`)).text();
      const served = new Set([...text.matchAll(/^(trading_\w+|ticktrace_\w+)/gm)].map((m) => m[1]!));
      expect(
        [...served].filter((name) => !known.has(name)),
        app.scenario,
      ).toEqual([]);
    }
  });

  it("parses and evaluates every expression, and each over series the process serves returns data", async () => {
    const known = catalogueSeriesNames();
    const problems: string[] = [];
    const quiet: string[] = [];
    for (const { where, expr } of expressions()) {
      for (const name of metricNames(expr)) {
        if (!known.has(name) && !PROMETHEUS_BUILTIN_SERIES.has(name))
          problems.push(`${where}: ${name} is not produced by the process`);
      }
      const result = await query(expr);
      if (result.status !== "success") {
        problems.push(`${where}: ${result.error ?? "query failed"}\n    ${expr}`);
        continue;
      }
      if ((result.data?.result.length ?? 0) > 0) continue;
      const empty: string[] = [];
      for (const selector of selectors(expr)) {
        const count = await query(`count(${selector})`);
        if ((count.data?.result.length ?? 0) === 0) empty.push(selector);
      }
      if (empty.length === 0) {
        problems.push(`${where}: returned no data although every series it selects exists\n    ${expr}`);
      } else if (empty.every((s) => QUIET_IN_CALM.some((re) => re.test(s.split("{")[0]!)))) {
        quiet.push(`${where}: ${empty.join(", ")}`);
      } else {
        problems.push(`${where}: selects series the runs do not produce: ${empty.join(", ")}`);
      }
    }
    // Visible in the test output: what a calm run leaves unexercised.
    console.info(
      `not exercised by the calm and flash-crash runs (${quiet.length}):\n  ${quiet.join("\n  ")}`,
    );
    expect(problems, problems.join("\n")).toEqual([]);
  }, 60_000);
});
