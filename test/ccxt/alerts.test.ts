import { spawn, type ChildProcess } from "node:child_process";
import {
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
import { pickPort } from "../support/processes.js";
import { ensureBuilt, PRELOAD, ROOT, tempDir } from "../telemetry/helpers.js";
import { eventually } from "../telemetry/otlp-receiver.js";
import { API_KEY, API_SECRET, FakeBinance } from "./fake-binance.js";

interface AlertLine {
  rule: string;
  severity: string;
  status: string;
  title: string;
  labels: Record<string, string>;
  event: string;
}

/**
 * A ccxt bot gets the exchange alerts from config alone: under the preload, with JSONL alerts
 * on, a silent stream raises `exchange_disconnected` (WARNING, then ERROR after
 * `alerts.escalation.exchange_disconnect_ms`) and resolves it when messages resume, and a 429
 * raises `rate_limit_exceeded`. The bot has no ticktrace code at all.
 */
describe("alerts for a ccxt bot, from config alone", () => {
  const fake = new FakeBinance();
  let dir: string;
  let child: ChildProcess;
  let out = "";
  let healthUrl = "";

  const alerts = (): AlertLine[] => {
    const alertDir = join(dir, "alerts");
    if (!existsSync(alertDir)) return [];
    return readdirSync(alertDir)
      .filter((file) => file.endsWith(".jsonl"))
      .flatMap((file) => readFileSync(join(alertDir, file), "utf8").split("\n").filter(Boolean))
      .map((line) => JSON.parse(line) as AlertLine);
  };
  const health = async () =>
    (
      (await (await fetch(`${healthUrl}/health`)).json()) as {
        components: { exchanges: Record<string, { status: string }> };
      }
    ).components.exchanges["exchange.binance"]?.status;

  beforeAll(async () => {
    ensureBuilt();
    await fake.start();
    dir = tempDir("ccxt-alerts");
    mkdirSync(join(dir, "node_modules"));
    symlinkSync(join(ROOT, "node_modules", "ccxt"), join(dir, "node_modules", "ccxt"));
    const port = await pickPort();
    healthUrl = `http://127.0.0.1:${port}`;
    writeFileSync(
      join(dir, "config.yaml"),
      [
        "service:",
        "  name: ccxt-alert-bot",
        "health:",
        `  port: ${port}`,
        "telemetry:",
        "  otlp:",
        "    endpoint: http://127.0.0.1:9",
        "  traces:",
        "    enabled: false",
        "  logs:",
        "    enabled: false",
        "  ccxt:",
        "    ws_silence_ms: 500",
        "alerts:",
        "  jsonl:",
        "    enabled: true",
        "    dir: ./alerts",
        "  outbox:",
        "    dir: ./outbox",
        "  escalation:",
        "    exchange_disconnect_ms: 800",
        "",
      ].join("\n"),
    );
    writeFileSync(
      join(dir, "bot.cjs"),
      `
const ccxt = require("ccxt");
const base = process.env.EXCHANGE_URL;
const exchange = new ccxt.pro.binance({
  apiKey: process.env.KEY, secret: process.env.SECRET,
  urls: { api: { public: base + "/api/v3", private: base + "/api/v3", sapi: base + "/sapi/v1", ws: { spot: base.replace("http", "ws") + "/ws" } } },
  options: { fetchMarkets: { types: ["spot"] }, fetchCurrencies: false, ws: { backoff: { base: 50, max: 200 } } },
});
let polling = false;
async function main() {
  await exchange.loadHttpProxyAgent();
  for (;;) {
    try {
      const ticker = await exchange.watchTicker("BTC/USDT");
      console.log("TICK", ticker.last);
    } catch (error) {
      console.log("WATCH ERROR", error.name);
    }
  }
}
setInterval(() => {
  if (polling) return;
  polling = true;
  exchange.fetchTicker("BTC/USDT").then(() => console.log("POLL ok"), (e) => console.log("POLL " + e.name)).finally(() => (polling = false));
}, 200);
main();
`,
    );
    child = spawn(process.execPath, ["--require", PRELOAD, "bot.cjs"], {
      cwd: dir,
      env: { PATH: process.env.PATH, EXCHANGE_URL: fake.baseUrl, KEY: API_KEY, SECRET: API_SECRET },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
    await eventually(() => (out.match(/TICK 40000/g) ?? []).length >= 3, "ticks");
  });

  afterAll(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }
    await fake.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a silent stream: WARNING, ERROR after the escalation time, /health down; resolved when it resumes", async () => {
    expect(await health()).toBe("up");
    fake.wsSilent = true;
    await eventually(
      () => alerts().some((a) => a.rule === "exchange_disconnected" && a.severity === "WARNING"),
      `WARNING in the alert log\n${out}`,
    );
    expect(await health()).toBe("down");
    await eventually(
      () => alerts().some((a) => a.rule === "exchange_disconnected" && a.severity === "ERROR"),
      "ERROR after the escalation",
    );
    const error = alerts().find((a) => a.rule === "exchange_disconnected" && a.severity === "ERROR")!;
    expect(error.labels).toMatchObject({ exchange: "binance" });
    fake.wsSilent = false;
    await eventually(
      () => alerts().some((a) => a.rule === "exchange_disconnected" && a.status === "resolved"),
      "the alert resolved",
    );
    expect(await health()).toBe("up");
  });

  it("a 429 from the exchange raises the rate-limit alert", async () => {
    fake.next("/api/v3/ticker/24hr", { kind: "status", status: 429, retryAfter: "1" });
    await eventually(
      () => alerts().some((a) => a.rule === "rate_limit_exceeded"),
      `rate-limit alert\n${out}`,
    );
    const alert = alerts().find((a) => a.rule === "rate_limit_exceeded")!;
    expect(alert.labels).toMatchObject({ exchange: "binance" });
    expect(alert.severity).toBe("WARNING");
    const log =
      alerts()
        .map((a) => JSON.stringify(a))
        .join("\n") + out;
    expect(log).not.toContain(API_KEY);
    expect(log).not.toContain(API_SECRET);
  });
});
