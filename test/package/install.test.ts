/**
 * The package as a user gets it: `npm pack` (its `prepack` builds), `npm install <tarball>` into a
 * fresh project, and the quickstart bots of `examples/quickstart/` run from there with the
 * preload: CommonJS, ESM with `--require` and with `--import`, and TypeScript (typechecked with
 * `nodenext` and with `node` + `esModuleInterop`). Each trips a breaker through
 * `getRuntime().events`; the alert must reach the JSONL file and a fake Telegram Bot API on
 * 127.0.0.1, and the bot's metrics must show on `/metrics`. Beside them, the TypeScript bot of
 * `examples/own-strategy/` (typechecked in both modes too) runs its own `Strategy` in
 * `createTrader` against the exchange simulator of `ticktrace/testing`: its orders must show on
 * `/metrics` and its ticks arrive as traces at an OTLP receiver on 127.0.0.1.
 *
 * The pack runs in a copy of the sources, so the repository's own `dist/` is never rebuilt
 * under the other tests. The install uses the npm cache first (`--prefer-offline`).
 */
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { promisify } from "node:util";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeTelegram, type FakeTelegram } from "../bot/fake-telegram.js";
import { ROOT, tempDir } from "../telemetry/helpers.js";
import { attributes, eventually, OtlpReceiver } from "../telemetry/otlp-receiver.js";

const NPM = process.platform === "win32" ? "npm.cmd" : "npm";
const TOKEN = "123456:TEST-token_abc";
const OPTIONAL = ["better-sqlite3", "pg", "grammy"];

let work: string;
let project: string;
let telegram: FakeTelegram;
let receiver: OtlpReceiver;
let otlpEndpoint: string;

/** Runs a command without blocking the test worker (vitest talks to it while npm and tsc run). */
async function run(command: string, args: string[], cwd: string): Promise<string> {
  const { stdout } = await promisify(execFile)(command, args, {
    cwd,
    encoding: "utf8",
    env: { ...process.env, npm_config_update_notifier: "false", npm_config_fund: "false" },
    timeout: 240_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}

/** Runs node with arguments to the end; never rejects. */
function node(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, {
      cwd,
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

function duKiB(dir: string): number {
  return Number(execFileSync("du", ["-sk", dir], { encoding: "utf8" }).split("\t")[0]);
}

beforeAll(async () => {
  work = tempDir("package");
  // A copy of what `npm pack` reads, so `prepack` builds into the copy's own dist/.
  const source = join(work, "source");
  mkdirSync(source);
  for (const entry of [
    "package.json",
    "tsconfig.json",
    "tsconfig.build.json",
    "config.yaml",
    "README.md",
    "LICENSE",
    "src",
  ])
    cpSync(join(ROOT, entry), join(source, entry), { recursive: true });
  symlinkSync(join(ROOT, "node_modules"), join(source, "node_modules"));
  const packed = JSON.parse(await run(NPM, ["pack", "--json", "--pack-destination", work], source)) as {
    filename: string;
    files: { path: string }[];
  }[];
  const tarball = join(work, packed[0]!.filename);
  const shipped = packed[0]!.files.map((file) => file.path);
  expect(shipped).toEqual(
    expect.arrayContaining(["LICENSE", "dist/tracing.js", "dist/index.d.ts", "dist/testing.js"]),
  );
  // Every source map points at a file that ships.
  const map = JSON.parse(readFileSync(join(source, "dist", "tracing.js.map"), "utf8")) as {
    sources: string[];
  };
  for (const file of map.sources) expect(shipped).toContain(join("dist", file));

  project = join(work, "bot");
  mkdirSync(project);
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({ name: "my-bot", private: true, type: "module" }),
  );
  await run(
    NPM,
    ["install", tarball, "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"],
    project,
  );
  telegram = await startFakeTelegram(TOKEN);
  receiver = new OtlpReceiver();
  otlpEndpoint = await receiver.start();
}, 400_000);

afterAll(async () => {
  await (telegram as FakeTelegram | undefined)?.close(); // unset when beforeAll failed
  await (receiver as OtlpReceiver | undefined)?.stop();
  if (work) rmSync(work, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
});

interface BotRun {
  name: string;
  chatId: number;
  args: string[];
}

/** A bot started from the installed package, its output kept. */
interface InstalledBot {
  readonly child: ChildProcess;
  out(): string;
  err(): string;
  /** Its exit code, once it has exited. */
  readonly exited: Promise<number | null>;
  /** The `/metrics` base URL the bot's runtime logged at start. */
  metricsUrl(): Promise<string>;
}

/**
 * Runs `node args` in `cwd` with the health port, JSON logs and OTLP endpoint every bot here
 * uses, plus `env`.
 */
function startInstalledBot(
  name: string,
  cwd: string,
  args: string[],
  env: Record<string, string> = {},
): InstalledBot {
  const child = spawn(process.execPath, args, {
    cwd,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      HEALTH_PORT: "0",
      LOG_FORMAT: "json",
      OTLP_ENDPOINT: otlpEndpoint,
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    child,
    out: () => out,
    err: () => err,
    exited,
    async metricsUrl() {
      let url: string | undefined;
      await eventually(
        () => (url = /metrics at (http:\/\/127\.0\.0\.1:\d+)\/metrics/.exec(out)?.[1]) !== undefined,
        `the ${name} bot's metrics URL`,
        30_000,
      );
      return url ?? "";
    },
  };
}

/** Runs one bot from the installed package until its alert arrived everywhere, then stops it. */
async function runBot(bot: BotRun): Promise<void> {
  const cwd = join(project, bot.name);
  mkdirSync(cwd, { recursive: true });
  cpSync(join(ROOT, "examples", "quickstart", "config.yaml"), join(cwd, "config.yaml"));
  const run = startInstalledBot(bot.name, cwd, bot.args, {
    TELEGRAM_ENABLED: "true",
    TELEGRAM_BOT_TOKEN: TOKEN,
    TELEGRAM_CHAT_ID: String(bot.chatId),
    TELEGRAM_API_URL: telegram.url,
  });
  try {
    const url = await run.metricsUrl();
    const message = await telegram.waitFor(
      "sendMessage",
      (body) => String(body.chat_id) === String(bot.chatId),
      20_000,
    );
    expect(String(message.body.text)).toContain("Circuit breaker tripped");
    // The fake checks the request like the Bot API does (token, chat, HTML); nothing was refused.
    expect(telegram.rejected()).toEqual([]);

    // The JSONL channel has its own queue: the line may land just after the Telegram message.
    const dir = join(cwd, "logs", "alerts");
    const alertLines = () =>
      (existsSync(dir) ? readdirSync(dir) : [])
        .filter((file) => file.endsWith(".jsonl"))
        .flatMap((file) => readFileSync(join(dir, file), "utf8").split("\n"))
        .filter((line) => line.trim() !== "")
        .map((line) => JSON.parse(line) as Record<string, unknown>);
    const tripped = (line: Record<string, unknown>) =>
      line.rule === "circuit_breaker_tripped" && line.severity === "CRITICAL" && line.event === "firing";
    const until = Date.now() + 10_000;
    while (!alertLines().some(tripped) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    expect(alertLines().filter(tripped)).toHaveLength(1);

    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^trading_orders_placed_total\{[^}]*exchange="paper"[^}]*\} [1-9]/m);
    expect(metrics).toMatch(/^trading_pnl_daily_usd\{strategy="quickstart"[^}]*\} -1600/m);
    expect(metrics).toMatch(/^ticktrace_alerts_raised_total\{[^}]*rule="circuit_breaker_tripped"/m);
  } catch (error) {
    // Say which bot and what it printed: the assertion alone does not tell.
    throw new Error(`${bot.name}: ${String(error)}\nstdout:\n${run.out()}\nstderr:\n${run.err()}`, {
      cause: error,
    });
  } finally {
    run.child.kill("SIGTERM");
  }
  expect(await run.exited).toBe(143);
  // Nothing went wrong on the way: no stack trace, no warning from Node or from ticktrace.
  expect(run.err()).toBe("");
}

/**
 * Runs the own-strategy bot from the installed package: its orders must show on `/metrics` and,
 * once it stopped (shutdown flushes the traces), its ticks must have arrived as traces.
 */
async function runOwnStrategyBot(script: string): Promise<void> {
  const cwd = join(project, "own-strategy");
  mkdirSync(cwd, { recursive: true });
  cpSync(join(ROOT, "examples", "own-strategy", "config.yaml"), join(cwd, "config.yaml"));
  const run = startInstalledBot("own-strategy", cwd, ["--require", "ticktrace/tracing", script]);
  try {
    const url = await run.metricsUrl();
    const scrape = async () => (await fetch(`${url}/metrics`)).text();
    // Tick-path metrics are folded once a second; a few ticks of the simulator's stream are enough.
    const placed =
      /^trading_orders_placed_total\{exchange="simex",symbol="BTC\/USDT",side="(buy|sell)",type="limit"[^}]*\} [1-9]/gm;
    await eventually(
      async () => new Set([...(await scrape()).matchAll(placed)].map((m) => m[1])).size === 2,
      "orders of both sides on /metrics",
      20_000,
    );
    const metrics = await scrape();
    expect(metrics).toMatch(
      /^trading_ticks_total\{[^}]*strategy="my-strategy"[^}]*outcome="ok"[^}]*\} [1-9]/m,
    );
    expect(metrics).toMatch(/^trading_tick_to_trade_duration_seconds_count\{[^}]*stage="ack"[^}]*\} [1-9]/m);
    expect(metrics).toMatch(
      /^trading_exchange_request_duration_seconds_count\{[^}]*operation="place_order"[^}]*\} [1-9]/m,
    );
  } catch (error) {
    throw new Error(`own-strategy: ${String(error)}\nstdout:\n${run.out()}\nstderr:\n${run.err()}`, {
      cause: error,
    });
  } finally {
    run.child.kill("SIGTERM");
  }
  expect(await run.exited).toBe(143);
  expect(run.err()).toBe("");
  // Each tick is a trace: root `tick` of the user's strategy, its stage spans, and the exchange
  // client's HTTP calls under it.
  const spans = receiver.spans
    .filter((s) => s.resource["service.name"] === "own-strategy-bot")
    .map((s) => s.item);
  const roots = spans.filter(
    (s) => s.name === "tick" && attributes(s.attributes)["strategy.id"] === "my-strategy",
  );
  expect(roots.length, "tick traces").toBeGreaterThan(0);
  const traced = roots.map((root) =>
    spans.filter((s) => s.traceId === root.traceId && s.parentSpanId === root.spanId),
  );
  expect(
    traced.some(
      (children) => children.some((s) => s.name === "place_order") && children.some((s) => s.kind === 3),
    ),
  ).toBe(true);
}

describe("the packed package, installed from the tarball alone", () => {
  it("installs without the optional packages and reports its size", async () => {
    for (const name of OPTIONAL) expect(existsSync(join(project, "node_modules", name)), name).toBe(false);
    const packages = (JSON.parse(await run(NPM, ["query", "*"], project)) as unknown[]).length;
    const kib = duKiB(join(project, "node_modules"));
    // The figure docs/api.md quotes; printed so a change shows in the test log.
    process.stdout.write(`installed: ${packages} packages, ${(kib / 1024).toFixed(1)} MiB in node_modules\n`);
    expect(packages).toBeGreaterThan(0);
  });

  it("a config that asks for a missing optional package: exit 2 naming the key and the package; the default store, when used", async () => {
    const cwd = join(project, "missing");
    mkdirSync(cwd);
    writeFileSync(
      join(cwd, "config.yaml"),
      'health:\n  port: 0\nbot:\n  enabled: true\nalerts:\n  telegram:\n    bot_token: "123:abc"\n    chat_id: "1"\n',
    );
    const bot = await node(["--require", "ticktrace/tracing", "-e", ""], cwd);
    expect(bot).toEqual({
      code: 2,
      stdout: "",
      stderr: `ticktrace: config error: ${join(cwd, "config.yaml")}: bot.enabled: is true, which needs the optional package grammy; install it (npm install grammy) or set bot.enabled: false\n`,
    });
    writeFileSync(join(cwd, "config.yaml"), "health:\n  port: 0\nlogging:\n  level: error\n");
    const script = `try { require("ticktrace").getRuntime().decisions } catch (error) { process.stdout.write(error.message) }`;
    const decisions = await node(["--require", "ticktrace/tracing", "-e", script], cwd);
    expect(decisions.stdout).toBe(
      `${join(cwd, "config.yaml")}: decisions.store: is "sqlite", which needs the optional package better-sqlite3; install it (npm install better-sqlite3) or set decisions.store: "postgres" or decisions.enabled: false`,
    );
    expect(decisions.code).toBe(0);
  });

  it("runs the CommonJS, ESM and TypeScript quickstart bots (the alert reaches JSONL and Telegram, metrics show on /metrics) and the own-strategy bot (orders on /metrics, ticks traced)", async () => {
    // ticktrace/testing resolves in both TypeScript modes too (exports, and typesVersions for node10).
    writeFileSync(
      join(project, "doubles.ts"),
      'import { createManualClock, createRecordingChannel } from "ticktrace/testing";\n' +
        'import type { AlertChannel } from "ticktrace";\n' +
        "createManualClock().advance(1);\n" +
        "export const channel: AlertChannel = createRecordingChannel();\n",
    );
    for (const file of ["bot.cjs", "bot.mjs", "bot.ts"])
      cpSync(join(ROOT, "examples", "quickstart", file), join(project, file));
    cpSync(join(ROOT, "examples", "own-strategy", "bot.ts"), join(project, "own-strategy.ts"));
    // The compiler for the TypeScript bot, linked in after the size was measured.
    mkdirSync(join(project, "node_modules", "@types"), { recursive: true });
    symlinkSync(join(ROOT, "node_modules", "typescript"), join(project, "node_modules", "typescript"));
    // @types/node may already be there (a dependency's types depend on it).
    if (!existsSync(join(project, "node_modules", "@types", "node")))
      symlinkSync(
        join(ROOT, "node_modules", "@types", "node"),
        join(project, "node_modules", "@types", "node"),
      );
    const common = { strict: true, types: ["node"], target: "ES2022", skipLibCheck: false };
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: { ...common, module: "nodenext", moduleResolution: "nodenext", outDir: "out" },
        files: ["bot.ts", "doubles.ts", "own-strategy.ts"],
      }),
    );
    writeFileSync(
      join(project, "tsconfig.node10.json"),
      JSON.stringify({
        compilerOptions: {
          ...common,
          module: "commonjs",
          moduleResolution: "node",
          esModuleInterop: true,
          noEmit: true,
          ignoreDeprecations: "6.0",
        },
        files: ["bot.ts", "doubles.ts", "own-strategy.ts"],
      }),
    );
    const tsc = join(project, "node_modules", "typescript", "bin", "tsc");
    await run(process.execPath, [tsc, "-p", "tsconfig.node10.json"], project);
    await run(process.execPath, [tsc, "-p", "tsconfig.json"], project);

    // Side by side, each to the end (a failing one must not leave the others running).
    const results = await Promise.allSettled([
      runBot({ name: "cjs", chatId: 1001, args: ["--require", "ticktrace/tracing", "../bot.cjs"] }),
      runBot({ name: "esm-require", chatId: 1002, args: ["--require", "ticktrace/tracing", "../bot.mjs"] }),
      runBot({ name: "esm-import", chatId: 1003, args: ["--import", "ticktrace/tracing", "../bot.mjs"] }),
      runBot({ name: "ts", chatId: 1004, args: ["--require", "ticktrace/tracing", "../out/bot.js"] }),
      runOwnStrategyBot("../out/own-strategy.js"),
    ]);
    for (const result of results) if (result.status === "rejected") throw result.reason;

    // The alert's delivery is a client span of our own fetch: the bot token in Telegram's path
    // never leaves the process (the collector's redaction is only the second line).
    const quickstart = receiver.spans.filter((s) => s.resource["service.name"] === "quickstart-bot");
    const sends = quickstart.filter((s) =>
      String(attributes(s.item.attributes)["url.full"]).endsWith("/sendMessage"),
    );
    expect(sends.length, "Telegram sendMessage client spans").toBeGreaterThan(0);
    for (const send of sends) {
      expect(attributes(send.item.attributes)).toMatchObject({
        "url.full": `${telegram.url}/bot<redacted>/sendMessage`,
        "url.path": "/bot<redacted>/sendMessage",
      });
    }
    expect(JSON.stringify(quickstart)).not.toContain(TOKEN.split(":")[1]);
  }, 120_000);
});
