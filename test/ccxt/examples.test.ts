import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { cpSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pickPort } from "../support/processes.js";
import { ensureBuilt, ROOT, tempDir } from "../telemetry/helpers.js";
import { attributes, eventually, OtlpReceiver } from "../telemetry/otlp-receiver.js";
import { API_KEY, API_SECRET, FakeBinance } from "./fake-binance.js";

/**
 * The examples/ccxt-bot bots as a user runs them: copied into a fresh directory with
 * `ticktrace` and `ccxt` in its node_modules, started with nothing but `--require
 * ticktrace/tracing` (CommonJS) or `--import ticktrace/tracing` (ESM) and the example's
 * config.yaml, against a fake Binance on 127.0.0.1 and an OTLP receiver.
 */
interface Bot {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  healthUrl: string;
  stop(): Promise<void>;
}

async function startBot(dir: string, args: string[], env: Record<string, string>): Promise<Bot> {
  const port = await pickPort();
  const child = spawn(process.execPath, args, {
    cwd: dir,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      HEALTH_PORT: String(port),
      OTEL_BSP_SCHEDULE_DELAY: "200",
      OTEL_BLRP_SCHEDULE_DELAY: "200",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    child,
    out: () => out,
    err: () => err,
    healthUrl: `http://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

function userProject(prefix: string): string {
  const dir = tempDir(prefix);
  cpSync(join(ROOT, "examples", "ccxt-bot"), dir, { recursive: true });
  mkdirSync(join(dir, "node_modules"));
  symlinkSync(ROOT, join(dir, "node_modules", "ticktrace"));
  symlinkSync(join(ROOT, "node_modules", "ccxt"), join(dir, "node_modules", "ccxt"));
  return dir;
}

async function text(url: string): Promise<string> {
  const response = await fetch(url);
  return response.text();
}

/** Series names in a /metrics text that have a sample, without `_bucket`/`_sum`/`_count`. */
function families(metrics: string): Set<string> {
  return new Set(
    metrics
      .split("\n")
      .filter((line) => line !== "" && !line.startsWith("#"))
      .map((line) => line.split(/[{ ]/)[0]!.replace(/_(bucket|sum|count)$/, "")),
  );
}

function promtoolCheck(metrics: string): { status: number | null; output: string } {
  const run = spawnSync("promtool", ["check", "metrics"], { input: metrics, encoding: "utf8" });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

const EXCHANGE_METRICS = [
  "trading_exchange_request_duration_seconds",
  "trading_exchange_ratelimit_wait_seconds",
  "trading_exchange_http_duration_seconds",
  "trading_exchange_ws_connects_total",
  "trading_exchange_connected",
  "trading_exchange_ws_messages_total",
  "trading_exchange_ws_message_lag_seconds",
  "trading_exchange_ws_last_message_age_seconds",
];

const RUNTIME = [
  "nodejs_eventloop_delay_p99_seconds",
  "nodejs_eventloop_utilization_ratio",
  "v8js_memory_heap_used_bytes",
  "process_memory_usage_bytes",
];

describe.each([
  ["CommonJS", ["--require", "ticktrace/tracing", "bot.cjs"]],
  ["ESM", ["--import", "ticktrace/tracing", "bot.js"]],
])("examples/ccxt-bot, %s", (kind, args) => {
  const fake = new FakeBinance();
  const receiver = new OtlpReceiver();
  let bot: Bot;
  let dir: string;
  let metrics = "";

  beforeAll(async () => {
    ensureBuilt();
    await fake.start();
    const endpoint = await receiver.start();
    dir = userProject(`ccxt-${kind}`);
    bot = await startBot(dir, args, {
      EXCHANGE_URL: fake.baseUrl,
      BINANCE_API_KEY: API_KEY,
      BINANCE_SECRET: API_SECRET,
      OTEL_COLLECTOR_URL: endpoint,
    });
    await eventually(
      () => (bot.out().match(/BTC\/USDT 40000 best bid/g) ?? []).length >= 2,
      "the bot's ticks",
    );
    metrics = await text(`${bot.healthUrl}/metrics`);
  });

  afterAll(async () => {
    await (bot as Bot | undefined)?.stop(); // unset when beforeAll failed
    await fake.stop();
    await receiver.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("/metrics shows the exchange and runtime metrics, and promtool finds nothing wrong", () => {
    const seen = families(metrics);
    for (const name of [...EXCHANGE_METRICS, ...RUNTIME]) expect(seen, name).toContain(name);
    expect(metrics).toMatch(
      /trading_exchange_request_duration_seconds_count\{exchange="binance",operation="fetchOrderBook",outcome="ok",[^}]*\} [1-9]/,
    );
    expect(metrics).toMatch(
      /trading_exchange_ws_messages_total\{exchange="binance",channel="ticker",[^}]*\} [1-9]/,
    );
    expect(metrics).toMatch(/trading_exchange_connected\{exchange="binance",[^}]*\} 1/);
    const check = promtoolCheck(metrics);
    expect(check.output).toBe("");
    expect(check.status).toBe(0);
  });

  it("/health has the exchange component", async () => {
    const health = JSON.parse(await text(`${bot.healthUrl}/health`)) as {
      components: { exchanges?: Record<string, { status: string }> };
    };
    expect(health.components.exchanges?.["exchange.binance"]?.status).toBe("up");
  });

  it("exports the span tree of a signed call, and no key, secret or signature anywhere", async () => {
    await eventually(
      () => receiver.spans.some((s) => s.item.name === "binance fetchBalance"),
      "the fetchBalance span",
    );
    const call = receiver.spans.find((s) => s.item.name === "binance fetchBalance")!.item;
    const attempts = receiver.spans.filter((s) => s.item.parentSpanId === call.spanId).map((s) => s.item);
    const signed = attempts.find((s) =>
      String(attributes(s.attributes)["url.full"]).includes("/api/v3/account"),
    );
    expect(attributes(signed!.attributes)).toMatchObject({
      "http.request.method": "GET",
      "http.response.status_code": 200,
    });
    expect(attributes(call.attributes)).toMatchObject({
      "exchange.name": "binance",
      "exchange.operation": "fetchBalance",
    });
    expect(String(attributes(signed!.attributes)["url.full"])).toMatch(/signature=REDACTED$/);
    expect(fake.hits("/api/v3/account")[0]!.signatureValid).toBe(true);
    const signatures = fake.requests
      .map((r) => /signature=([0-9a-f]+)/.exec(`${r.query}&${r.body}`)?.[1])
      .filter((s): s is string => s !== undefined);
    expect(signatures.length).toBeGreaterThan(0);
    const everything = [
      JSON.stringify(receiver.spans),
      JSON.stringify(receiver.logs),
      JSON.stringify(receiver.metrics),
      metrics,
      bot.out(),
      bot.err(),
    ].join("\n");
    for (const secret of [API_KEY, API_SECRET, ...signatures]) expect(everything).not.toContain(secret);
  });
});

/**
 * A bot that uses node:http, fetch (undici) and ccxt side by side, with signed query strings
 * and an API-key header on its own requests: the http and undici spans carry redacted URLs and
 * no key header, and /metrics serves each family once.
 */
describe("a bot using http, fetch and ccxt", () => {
  const fake = new FakeBinance();
  const receiver = new OtlpReceiver();
  let bot: Bot;
  let dir: string;

  beforeAll(async () => {
    ensureBuilt();
    await fake.start();
    const endpoint = await receiver.start();
    dir = userProject("ccxt-mixed");
    writeFileSync(
      join(dir, "mixed.cjs"),
      `
const http = require("node:http");
const ccxt = require("ccxt");
const { exchangeOptions } = require("./exchange-options.cjs");
const base = process.env.EXCHANGE_URL;
const signed = "/api/v3/account?timestamp=1&signature=c0ffee${"ab".repeat(28)}&apiKey=" + process.env.BINANCE_API_KEY;
async function main() {
  const exchange = new ccxt.binance(exchangeOptions());
  for (let i = 0; i < 2; i++) {
    await exchange.fetchTicker("BTC/USDT");
    await fetch(base + signed, { headers: { "X-MBX-APIKEY": process.env.BINANCE_API_KEY } }).then((r) => r.text());
    await new Promise((resolve) => http.get(base + signed, { headers: { "X-MBX-APIKEY": process.env.BINANCE_API_KEY } }, (r) => { r.resume(); r.on("end", resolve); }));
  }
  console.log("MIXED DONE");
  setInterval(() => {}, 1000);
}
main().catch((error) => { console.error(error); process.exit(1); });
`,
    );
    bot = await startBot(dir, ["--require", "ticktrace/tracing", "mixed.cjs"], {
      EXCHANGE_URL: fake.baseUrl,
      BINANCE_API_KEY: API_KEY,
      BINANCE_SECRET: API_SECRET,
      OTEL_COLLECTOR_URL: endpoint,
    });
    await eventually(() => bot.out().includes("MIXED DONE"), "the mixed bot", 20_000);
  });

  afterAll(async () => {
    await (bot as Bot | undefined)?.stop(); // unset when beforeAll failed
    await fake.stop();
    await receiver.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("/metrics serves every family once and promtool check metrics is clean", async () => {
    const metrics = await text(`${bot.healthUrl}/metrics`);
    const help = metrics.split("\n").filter((line) => line.startsWith("# HELP "));
    const names = help.map((line) => line.split(" ")[2]);
    expect(names.filter((name, i) => names.indexOf(name) !== i)).toEqual([]);
    // both client instrumentations recorded into the one family
    const scopes = new Set(
      [...metrics.matchAll(/^http_client_request_duration_count\{[^}]*otel_scope_name="([^"]+)"/gm)].map(
        (m) => m[1],
      ),
    );
    expect([...scopes].sort()).toEqual([
      "@opentelemetry/instrumentation-http",
      "@opentelemetry/instrumentation-undici",
    ]);
    const check = promtoolCheck(metrics);
    expect(check.output).toBe("");
    expect(check.status).toBe(0);
  });

  it("http and undici spans redact signed query strings and record no key header; ccxt's attempts are not doubled", async () => {
    const clientSpans = () =>
      receiver.spans.filter(
        (s) =>
          s.item.kind === 3 && String(attributes(s.item.attributes)["url.full"]).includes("/api/v3/account"),
      );
    await eventually(() => clientSpans().length >= 4, "the http and fetch spans");
    for (const span of clientSpans()) {
      const attrs = attributes(span.item.attributes);
      expect(String(attrs["url.full"])).toMatch(/timestamp=1&signature=REDACTED&apiKey=REDACTED$/);
      if (attrs["url.query"] !== undefined) expect(String(attrs["url.query"])).not.toContain("c0ffee");
      expect(Object.keys(attrs).filter((key) => key.startsWith("http.request.header"))).toEqual([]);
    }
    const tickerUrls = receiver.spans.filter((s) =>
      String(attributes(s.item.attributes)["url.full"]).includes("/api/v3/ticker/24hr"),
    );
    // one attempt span per fetchTicker, the child of the ccxt call span; none from undici
    expect(tickerUrls.length).toBe(2);
    const calls = new Set(
      receiver.spans.filter((s) => s.item.name === "binance fetchTicker").map((s) => s.item.spanId),
    );
    for (const span of tickerUrls) expect(calls.has(span.item.parentSpanId ?? "")).toBe(true);
    const everything = JSON.stringify(receiver.spans) + JSON.stringify(receiver.logs);
    expect(everything).not.toContain(API_KEY);
    expect(everything).not.toContain("c0ffee");
  });
});

/**
 * A CommonJS bot that loads ccxt with `import()`: covered when `telemetry.ccxt.esm_hook` is
 * `always`, and (as documented) not under the default `auto`, which spares CommonJS bots the
 * loader thread.
 */
describe.each([
  ["always", true],
  ["auto", false],
])("a CommonJS bot that loads ccxt with import(), esm_hook: %s", (esmHook, instrumented) => {
  const fake = new FakeBinance();
  let bot: Bot;
  let dir: string;

  beforeAll(async () => {
    ensureBuilt();
    await fake.start();
    dir = userProject(`ccxt-dynamic-${esmHook}`);
    writeFileSync(
      join(dir, "dynamic.yaml"),
      [
        "service:",
        "  name: ccxt-dynamic",
        "health:",
        "  port: ${HEALTH_PORT}",
        "telemetry:",
        "  otlp:",
        "    endpoint: http://127.0.0.1:9",
        "  ccxt:",
        `    esm_hook: ${esmHook}`,
        "alerts:",
        "  outbox:",
        "    dir: ./outbox",
        "",
      ].join("\n"),
    );
    writeFileSync(
      join(dir, "dynamic.cjs"),
      `
const { exchangeOptions } = require("./exchange-options.cjs");
async function main() {
  const { default: ccxt } = await import("ccxt");
  const exchange = new ccxt.binance(exchangeOptions());
  await exchange.fetchTicker("BTC/USDT");
  console.log("DYNAMIC DONE");
  setInterval(() => {}, 1000);
}
main().catch((error) => { console.error(error); process.exit(1); });
`,
    );
    bot = await startBot(dir, ["--require", "ticktrace/tracing", "dynamic.cjs"], {
      EXCHANGE_URL: fake.baseUrl,
      BINANCE_API_KEY: API_KEY,
      BINANCE_SECRET: API_SECRET,
      TICKTRACE_CONFIG: join(dir, "dynamic.yaml"),
    });
    await eventually(() => bot.out().includes("DYNAMIC DONE"), "the dynamic-import bot", 20_000);
  });

  afterAll(async () => {
    await (bot as Bot | undefined)?.stop(); // unset when beforeAll failed
    await fake.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it(instrumented ? "records the call on /metrics" : "records nothing for ccxt", async () => {
    const metrics = await text(`${bot.healthUrl}/metrics`);
    const recorded =
      /trading_exchange_request_duration_seconds_count\{exchange="binance",operation="fetchTicker",outcome="ok",[^}]*\} [1-9]/;
    if (instrumented) expect(metrics).toMatch(recorded);
    else expect(metrics).not.toMatch(recorded);
    expect(bot.err()).toBe("");
  });
});
