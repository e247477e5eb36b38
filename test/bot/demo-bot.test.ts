/**
 * The bot inside the reference process, end to end: the built demo (`node --require
 * ./dist/tracing.js dist/main.js`, flash-crash scenario) with Telegram pointed at the fake Bot
 * API. The strategy's recorded decisions answer `/last_decision`, `/reasoning` and `/portfolio`;
 * the circuit-breaker alert arrives with its Acknowledge button, and pressing it acknowledges.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt } from "../telemetry/helpers.js";
import { parseTelegramHtml, startFakeTelegram, type FakeTelegram } from "./fake-telegram.js";

const ROOT = resolve(__dirname, "../..");
const CHAT = 42;

describe("the bot in the reference process", () => {
  let fake: FakeTelegram;
  let child: ChildProcess;
  let dir: string;
  let output = "";

  beforeAll(async () => {
    ensureBuilt();
    fake = await startFakeTelegram();
    dir = mkdtempSync(join(tmpdir(), "ticktrace-demo-bot-"));
    const config = {
      health: { port: 0 },
      telemetry: { otlp: { endpoint: "http://127.0.0.1:9" }, shutdown_timeout_ms: 2_000 },
      logging: { format: "json" },
      alerts: {
        telegram: { enabled: true, bot_token: fake.token, chat_id: String(CHAT), api_url: fake.url },
      },
      bot: { poll_timeout_seconds: 1 },
      decisions: { record_interval_ms: 300, flush_interval_ms: 100 },
      trading: {
        scenario: { incident_after_ms: 1_500, incident_duration_ms: 3_000, status_interval_ms: 2_000 },
      },
    };
    writeFileSync(join(dir, "config.yaml"), JSON.stringify(config));
    child = spawn(
      process.execPath,
      [
        "--require",
        join(ROOT, "dist/tracing.js"),
        join(ROOT, "dist/main.js"),
        "--scenario",
        "flash-crash",
        "--duration",
        "40",
        "--config",
        "config.yaml",
      ],
      {
        cwd: dir,
        env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: "" },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    await fake.waitFor("getUpdates", () => true, 30_000);
  }, 120_000);

  afterAll(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Sends a command and returns the texts of the replies once the bot has handled it. */
  async function ask(text: string): Promise<string[]> {
    const start = fake.requests.length;
    const updateId = fake.sendText(CHAT, text, { id: 7, username: "alice" });
    await fake.waitFor("getUpdates", (b) => Number(b.offset) > updateId, 10_000, start);
    return fake.requests
      .slice(start)
      .filter((r) => r.method === "sendMessage" && r.body.chat_id === CHAT && !r.body.reply_markup)
      .map((r) => r.body.text as string);
  }

  it("shows the strategy's recorded reasoning, positions, status and health", async () => {
    // Wait for a recorded decision to reach the store.
    let last: string[] = [];
    for (let i = 0; i < 50; i++) {
      last = await ask("/last_decision mm-1");
      if (last[0]?.startsWith("🧠")) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const text = parseTelegramHtml(last[0]!).text;
    expect(text).toMatch(
      /^🧠 Latest decision · session \S+\nagent market_maker · strategy mm-1 · [A-Z]+\/[A-Z]+ · completed/,
    );
    expect(text).toContain("Strategy reasoning:");
    expect(text).toContain("🔧 Tool: risk_check");
    expect(text).toMatch(/🎯 Decision: quote(_skew_(up|down))? · regime (calm|volatile)/);

    const sessionId = /session (\S+)/.exec(text)![1]!;
    const [reasoning] = await ask(`/reasoning ${sessionId}`);
    expect(parseTelegramHtml(reasoning!).text).toContain(`session ${sessionId}`);

    const [status] = await ask("/status");
    expect(parseTelegramHtml(status!).text).toMatch(
      /State: (running|faulted|stopped) · strategy mm-1\nPnL \(USD\): realized/,
    );

    const [health] = await ask("/health");
    expect(parseTelegramHtml(health!).text).toMatch(/^🩺 Health: /);
    expect(parseTelegramHtml(health!).text).toContain("telegram_bot: polling");

    let portfolio = "";
    for (let i = 0; i < 50; i++) {
      portfolio = parseTelegramHtml((await ask("/portfolio"))[0]!).text;
      if (portfolio.includes("Why:")) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(portfolio).toMatch(/^💼 Portfolio · \d+ open positions?/);
    expect(portfolio).toMatch(/Why: quote/);
    expect(portfolio).toMatch(/Full reasoning: \/reasoning \S+/);
    expect(fake.rejected()).toEqual([]);
  });

  it("delivers the circuit-breaker alert with an Acknowledge button that acknowledges it", async () => {
    const alert = await fake.waitFor(
      "sendMessage",
      (b) => JSON.stringify(b.reply_markup ?? "").includes('"ack:'),
      30_000,
    );
    const data = (alert.body.reply_markup as { inline_keyboard: { callback_data: string }[][] })
      .inline_keyboard[0]![0]!.callback_data;
    const messageId = [...Array(2_000).keys()]
      .map((i) => i + 100)
      .find((id) => fake.message(CHAT, id)?.html === alert.body.text)!;
    const start = fake.requests.length;
    fake.pressButton(CHAT, messageId, data, { id: 7, username: "alice" });
    const edit = await fake.waitFor("editMessageText", () => true, 10_000, start);
    expect(edit.body.text).toContain("✔️ <b>Acknowledged</b> by @alice");
    expect(fake.calls("answerCallbackQuery").at(-1)).toMatchObject({ text: "Acknowledged" });
    const [alerts] = await ask("/alerts");
    expect(alerts).toContain(`acknowledged by telegram:@alice`);
    expect(output).toContain('"message":"alert acknowledged from Telegram"');
    expect(fake.rejected()).toEqual([]);
  });
});
