/**
 * `npm run stack -- up|down|status`: the observability stack as processes on 127.0.0.1, without
 * Docker, from the binaries `npm run stack:build` made, with the configuration files compose
 * uses:
 *   - otel-collector.yaml as it is; its addresses are `${env:VAR:-default}` and set here;
 *   - deploy/prometheus/prometheus.yml with its compose host names replaced by loopback targets
 *     (rendered into the state directory; rule files are the committed ones);
 *   - deploy/alertmanager/alertmanager.yml with compose's paths (/run/secrets, /etc/alertmanager)
 *     replaced by the state directory's and the repo's; two clustered instances (--cluster.peer).
 * Loki and Tempo are not part of it (docs/stack.md says why); the collector's Loki and Tempo
 * exporters point wherever LOKI_OTLP_ENDPOINT / TEMPO_OTLP_GRPC_ENDPOINT say.
 *
 * `up` returns once every server answers its readiness endpoint and writes
 * `<state>/endpoints.json`; `down` stops every process it started and waits for them to exit.
 */
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import path from "node:path";
import YAML from "yaml";
import { REPO, STATE_DIR, builtBinaries, type StackBinaries } from "./lib.js";

/** What `up` writes to `<state>/endpoints.json`. */
export interface StackEndpoints {
  /** OTLP/HTTP base URL of the collector: the value for OTEL_EXPORTER_OTLP_ENDPOINT. */
  otlp_http: string;
  /** OTLP/gRPC address of the collector (host:port). */
  otlp_grpc: string;
  /** The collector's health_check extension and its own metrics. */
  collector_health: string;
  collector_metrics: string;
  prometheus: string;
  /** Every Alertmanager of the cluster, first one first. */
  alertmanager: string[];
  /** Not run here (see docs/stack.md): null, or the endpoint the caller passed in. */
  loki: string | null;
  tempo: string | null;
}

/** One process of the stack, as `up` recorded it. */
export interface StackProcess {
  name: string;
  pid: number;
  /** Command line, to restart it (`restart`) the same way. */
  command: string;
  args: string[];
  env: Record<string, string>;
  log: string;
  /** URL answering 200 when the server is ready. */
  ready: string;
}

export interface StackState {
  endpoints: StackEndpoints;
  processes: StackProcess[];
}

export interface UpOptions {
  /** Where endpoints.json, logs and data go (default `.stack/` of the repo). */
  stateDir?: string | undefined;
  /** `host:port` of the trading process's /metrics, Prometheus's `ticktrace-demo` job target. */
  appTarget?: string | undefined;
  /** How many clustered Alertmanagers (default 2). */
  alertmanagers?: number;
  /** Telegram Bot API base URL for Alertmanager (`global.telegram_api_url`; default Telegram's). */
  telegramApiUrl?: string | undefined;
  /** The bot token Alertmanager reads from its `bot_token_file` (default a placeholder). */
  telegramBotToken?: string | undefined;
  /** Slack webhook URL Alertmanager reads from `api_url_file` (default a placeholder). */
  slackWebhookUrl?: string | undefined;
  /** Prometheus global scrape and evaluation interval (default: the committed 15 s). */
  interval?: string | undefined;
  /** Where the collector's Loki and Tempo exporters send (OTLP/HTTP base, OTLP/gRPC host:port). */
  lokiOtlpEndpoint?: string | undefined;
  tempoOtlpGrpcEndpoint?: string | undefined;
  /** Readiness timeout per server (default 60 s). */
  readyTimeoutMs?: number;
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => done(port));
    });
  });
}

/**
 * `count` free ports, all different: the kernel may hand a port just released by one probe to
 * the next `bind(0)`, and two servers of the stack told the same port cannot both start (seen:
 * the collector's health check and its OTLP receiver on one port).
 */
async function distinctFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** True while `pid` exists (and is not a zombie we could still reap: we are not its parent). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

async function waitReady(p: StackProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    if (!alive(p.pid)) {
      throw new Error(`stack: ${p.name} exited during start-up; its log ${p.log} ends:\n${tail(p.log)}`);
    }
    try {
      const r = await fetch(p.ready, { signal: AbortSignal.timeout(2000) });
      if (r.ok) return;
      last = `HTTP ${r.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(200);
  }
  throw new Error(
    `stack: ${p.name} not ready at ${p.ready} after ${timeoutMs} ms (${last}); log ${p.log}:\n${tail(p.log)}`,
  );
}

function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, "utf8").trim().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** Starts one server detached (it outlives `npm run stack -- up`), output into its log file. */
function launch(p: Omit<StackProcess, "pid">): StackProcess {
  const fd = openSync(p.log, "a");
  const child = spawn(p.command, p.args, {
    cwd: REPO,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", ...p.env },
    stdio: ["ignore", fd, fd],
    detached: true,
  });
  closeSync(fd);
  child.unref();
  if (child.pid === undefined) throw new Error(`stack: could not start ${p.name} (${p.command})`);
  return { ...p, pid: child.pid };
}

/** The first entry of a list in deploy/prometheus/prometheus.yml, which the rendering edits in place. */
function firstOf<T>(list: readonly T[], what: string): T {
  const [first] = list;
  if (first === undefined) throw new Error(`deploy/prometheus/prometheus.yml: ${what} is empty`);
  return first;
}

/**
 * deploy/prometheus/prometheus.yml for loopback: each job's compose target replaced by the
 * address of the same server here, rule files from the repo, Alertmanagers of this stack.
 */
export function renderPrometheusConfig(targets: {
  app: string;
  collectorMetrics: string;
  prometheus: string;
  alertmanagers: string[];
  interval?: string | undefined;
}): string {
  const doc = YAML.parse(readFileSync(path.join(REPO, "deploy/prometheus/prometheus.yml"), "utf8")) as {
    global: Record<string, unknown>;
    rule_files: string[];
    alerting: { alertmanagers: { static_configs: { targets: string[] }[] }[] };
    scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
  };
  // Rule files are relative to the config file; the rendered file lives elsewhere.
  doc.rule_files = doc.rule_files.map((f) => path.join(REPO, "deploy/prometheus", f));
  firstOf(
    firstOf(doc.alerting.alertmanagers, "alerting.alertmanagers").static_configs,
    "static_configs",
  ).targets = targets.alertmanagers;
  if (targets.interval) {
    doc.global.scrape_interval = targets.interval;
    doc.global.evaluation_interval = targets.interval;
  }
  const byJob: Record<string, string[]> = {
    "otel-collector": [targets.collectorMetrics],
    prometheus: [targets.prometheus],
    alertmanager: [...targets.alertmanagers],
  };
  const jobs = [];
  for (const job of doc.scrape_configs) {
    const scrape = firstOf(job.static_configs, `${job.job_name} static_configs`);
    const mapped = byJob[job.job_name];
    if (scrape.targets.some((t) => t.startsWith("app:"))) {
      scrape.targets = [targets.app];
    } else if (mapped) {
      scrape.targets = mapped;
    } else {
      // Loki and Tempo do not run in this stack: scraping them would only report them down.
      continue;
    }
    jobs.push(job);
  }
  doc.scrape_configs = jobs;
  return `# Rendered by scripts/stack/stack.ts from deploy/prometheus/prometheus.yml; do not edit.\n${YAML.stringify(doc)}`;
}

/** deploy/alertmanager/alertmanager.yml with compose's file paths mapped to this stack's. */
export function renderAlertmanagerConfig(opts: {
  secretsDir: string;
  telegramApiUrl?: string | undefined;
}): string {
  const text = readFileSync(path.join(REPO, "deploy/alertmanager/alertmanager.yml"), "utf8")
    .replaceAll("/run/secrets/", `${opts.secretsDir}/`)
    .replaceAll("/etc/alertmanager/", `${path.join(REPO, "deploy/alertmanager")}/`);
  const doc = YAML.parse(text) as { global?: Record<string, unknown> };
  if (opts.telegramApiUrl) doc.global = { ...doc.global, telegram_api_url: opts.telegramApiUrl };
  return `# Rendered by scripts/stack/stack.ts from deploy/alertmanager/alertmanager.yml; do not edit.\n${YAML.stringify(doc)}`;
}

function stateFile(stateDir: string): string {
  return path.join(stateDir, "state.json");
}

export function readState(stateDir = STATE_DIR): StackState | undefined {
  const f = stateFile(stateDir);
  return existsSync(f) ? (JSON.parse(readFileSync(f, "utf8")) as StackState) : undefined;
}

export async function up(options: UpOptions = {}): Promise<StackState> {
  const stateDir = path.resolve(options.stateDir ?? STATE_DIR);
  const existing = readState(stateDir);
  if (existing?.processes.some((p) => alive(p.pid))) {
    throw new Error(`stack: already running (${stateFile(stateDir)}); run \`npm run stack -- down\` first`);
  }
  const bins: StackBinaries = builtBinaries();
  for (const d of ["logs", "data", "secrets", "config"])
    mkdirSync(path.join(stateDir, d), { recursive: true });
  const timeout = options.readyTimeoutMs ?? 60_000;

  const amCount = options.alertmanagers ?? 2;
  const ports = await distinctFreePorts(5 + 2 * amCount);
  const port = (): number => {
    const next = ports.shift();
    if (next === undefined) throw new Error("stack: fewer free ports than servers (a bug in up())");
    return next;
  };
  const [grpc, httpPort, health, metrics, prom] = [port(), port(), port(), port(), port()];
  const ams: { web: number; cluster: number }[] = [];
  for (let i = 0; i < amCount; i++) ams.push({ web: port(), cluster: port() });

  const endpoints: StackEndpoints = {
    otlp_http: `http://127.0.0.1:${httpPort}`,
    otlp_grpc: `127.0.0.1:${grpc}`,
    collector_health: `http://127.0.0.1:${health}`,
    collector_metrics: `http://127.0.0.1:${metrics}/metrics`,
    prometheus: `http://127.0.0.1:${prom}`,
    alertmanager: ams.map((a) => `http://127.0.0.1:${a.web}`),
    loki: options.lokiOtlpEndpoint ?? null,
    tempo: options.tempoOtlpGrpcEndpoint ?? null,
  };

  const secrets = path.join(stateDir, "secrets");
  writeFileSync(
    path.join(secrets, "telegram_bot_token"),
    options.telegramBotToken ?? "123456:placeholder-token",
    { mode: 0o600 },
  );
  writeFileSync(
    path.join(secrets, "slack_webhook_url"),
    options.slackWebhookUrl ?? "http://127.0.0.1:9/services/placeholder",
    {
      mode: 0o600,
    },
  );
  const amConfig = path.join(stateDir, "config", "alertmanager.yml");
  writeFileSync(
    amConfig,
    renderAlertmanagerConfig({ secretsDir: secrets, telegramApiUrl: options.telegramApiUrl }),
  );
  const promConfig = path.join(stateDir, "config", "prometheus.yml");
  writeFileSync(
    promConfig,
    renderPrometheusConfig({
      app: options.appTarget ?? "127.0.0.1:8080",
      collectorMetrics: `127.0.0.1:${metrics}`,
      prometheus: `127.0.0.1:${prom}`,
      alertmanagers: ams.map((a) => `127.0.0.1:${a.web}`),
      interval: options.interval,
    }),
  );

  const specs: Omit<StackProcess, "pid">[] = [];
  ams.forEach((a, i) => {
    const name = `alertmanager-${i + 1}`;
    specs.push({
      name,
      command: bins.alertmanager,
      args: [
        `--config.file=${amConfig}`,
        `--storage.path=${path.join(stateDir, "data", name)}`,
        `--web.listen-address=127.0.0.1:${a.web}`,
        `--cluster.listen-address=127.0.0.1:${a.cluster}`,
        // Loopback is not a private address, so Alertmanager cannot pick one to advertise itself.
        `--cluster.advertise-address=127.0.0.1:${a.cluster}`,
        ...ams.filter((_, j) => j !== i).map((p) => `--cluster.peer=127.0.0.1:${p.cluster}`),
        // Gossip settles fast on loopback; the defaults suit a WAN.
        "--cluster.pushpull-interval=5s",
        "--cluster.gossip-interval=200ms",
      ],
      env: {},
      log: path.join(stateDir, "logs", `${name}.log`),
      ready: `http://127.0.0.1:${a.web}/-/ready`,
    });
  });
  specs.push({
    name: "prometheus",
    command: bins.prometheus,
    args: [
      `--config.file=${promConfig}`,
      `--storage.tsdb.path=${path.join(stateDir, "data", "prometheus")}`,
      `--web.listen-address=127.0.0.1:${prom}`,
      "--web.enable-otlp-receiver",
      "--web.enable-lifecycle",
      "--enable-feature=exemplar-storage",
    ],
    env: {},
    log: path.join(stateDir, "logs", "prometheus.log"),
    ready: `http://127.0.0.1:${prom}/-/ready`,
  });
  specs.push({
    name: "otelcol",
    command: bins.otelcol,
    args: [`--config=${path.join(REPO, "otel-collector.yaml")}`],
    env: {
      OTELCOL_OTLP_GRPC_ENDPOINT: `127.0.0.1:${grpc}`,
      OTELCOL_OTLP_HTTP_ENDPOINT: `127.0.0.1:${httpPort}`,
      OTELCOL_HEALTH_ENDPOINT: `127.0.0.1:${health}`,
      OTELCOL_METRICS_HOST: "127.0.0.1",
      OTELCOL_METRICS_PORT: String(metrics),
      PROMETHEUS_OTLP_ENDPOINT: `http://127.0.0.1:${prom}/api/v1/otlp`,
      // Unset, they point at a closed loopback port: the exporters fail and retry, nothing else.
      LOKI_OTLP_ENDPOINT: options.lokiOtlpEndpoint ?? "http://127.0.0.1:9/otlp",
      TEMPO_OTLP_GRPC_ENDPOINT: options.tempoOtlpGrpcEndpoint ?? "127.0.0.1:9",
    },
    log: path.join(stateDir, "logs", "otelcol.log"),
    ready: `http://127.0.0.1:${health}/`,
  });

  const state: StackState = { endpoints, processes: [] };
  try {
    for (const spec of specs) {
      state.processes.push(launch(spec));
      writeFileSync(stateFile(stateDir), JSON.stringify(state, null, 2));
    }
    await Promise.all(state.processes.map((p) => waitReady(p, timeout)));
  } catch (err) {
    await down({ stateDir });
    throw err;
  }
  writeFileSync(path.join(stateDir, "endpoints.json"), JSON.stringify(endpoints, null, 2) + "\n");
  return state;
}

/** Sends SIGTERM, waits up to `graceMs` for the exit, then SIGKILL. */
export async function stopProcess(p: StackProcess, graceMs = 15_000): Promise<void> {
  if (!alive(p.pid)) return;
  try {
    process.kill(p.pid, "SIGTERM");
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (alive(p.pid) && Date.now() < deadline) await sleep(100);
  if (alive(p.pid)) {
    try {
      process.kill(p.pid, "SIGKILL");
    } catch {
      /* exited meanwhile */
    }
    while (alive(p.pid)) await sleep(100);
  }
}

/** Starts a stopped process of the stack again, with the same command line, and waits for it. */
export async function restart(name: string, stateDir = STATE_DIR, timeoutMs = 60_000): Promise<StackProcess> {
  const state = readState(path.resolve(stateDir));
  const p = state?.processes.find((x) => x.name === name);
  if (!state || !p) throw new Error(`stack: no process ${name} in ${stateFile(stateDir)}`);
  await stopProcess(p);
  const started = launch(p);
  state.processes = state.processes.map((x) => (x.name === name ? started : x));
  writeFileSync(stateFile(path.resolve(stateDir)), JSON.stringify(state, null, 2));
  await waitReady(started, timeoutMs);
  return started;
}

export async function down(options: { stateDir?: string } = {}): Promise<void> {
  const stateDir = path.resolve(options.stateDir ?? STATE_DIR);
  const state = readState(stateDir);
  if (!state) return;
  // The collector first so its last batch still reaches Prometheus, then the rest.
  const order = [...state.processes].sort(
    (a, b) => Number(b.name === "otelcol") - Number(a.name === "otelcol"),
  );
  for (const p of order.filter((x) => x.name === "otelcol")) await stopProcess(p);
  await Promise.all(order.filter((x) => x.name !== "otelcol").map((p) => stopProcess(p)));
  rmSync(stateFile(stateDir), { force: true });
  rmSync(path.join(stateDir, "endpoints.json"), { force: true });
}

async function main(): Promise<void> {
  const [cmd] = process.argv.slice(2);
  if (cmd === "up") {
    const state = await up({
      appTarget: process.env.STACK_APP_TARGET,
      telegramApiUrl: process.env.STACK_TELEGRAM_API_URL,
      telegramBotToken: process.env.TELEGRAM_BOT_TOKEN,
      slackWebhookUrl: process.env.SLACK_WEBHOOK_URL,
      lokiOtlpEndpoint: process.env.LOKI_OTLP_ENDPOINT,
      tempoOtlpGrpcEndpoint: process.env.TEMPO_OTLP_GRPC_ENDPOINT,
    });
    process.stdout.write(`${JSON.stringify(state.endpoints, null, 2)}\n`);
    process.stdout.write(
      `stack: up; point a bot at it with OTEL_EXPORTER_OTLP_ENDPOINT=${state.endpoints.otlp_http}; logs in ${path.join(STATE_DIR, "logs")}\n`,
    );
  } else if (cmd === "down") {
    await down();
    process.stdout.write("stack: down\n");
  } else if (cmd === "status") {
    const state = readState();
    if (!state) {
      process.stdout.write("stack: not running\n");
      process.exitCode = 3;
      return;
    }
    process.stdout.write(`${JSON.stringify(state.endpoints, null, 2)}\n`);
    for (const p of state.processes)
      process.stdout.write(`${p.name}\tpid ${p.pid}\t${alive(p.pid) ? "running" : "stopped"}\n`);
  } else {
    process.stderr.write("usage: npm run stack -- up|down|status\n");
    process.exitCode = 2;
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
  });
}
