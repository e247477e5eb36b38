import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createManualClock } from "../../src/clock.js";
import { createTelegramBot, HELP_TEXT, type TelegramBot } from "../../src/bot/index.js";
import {
  createDecisionRecorder,
  createSqliteDecisionStore,
  type DecisionRecorder,
} from "../../src/decisions/index.js";
import { TicktraceError } from "../../src/errors.js";
import { HealthRegistry } from "../../src/health/registry.js";
import { parseTelegramHtml, startFakeTelegram, type FakeTelegram } from "./fake-telegram.js";
import { createCapturingLogger, createFakeAlerter } from "./fakes.js";
import { createTelemetryHarness } from "../decisions/harness.js";

const ADMIN = 42;
const SEND_OPTIONS = { parse_mode: "HTML", link_preview_options: { is_disabled: true } };

describe("Telegram command bot", () => {
  let fake: FakeTelegram;
  let bot: TelegramBot;
  let recorder: DecisionRecorder;
  const clock = createManualClock(Date.UTC(2026, 0, 1));
  const alerter = createFakeAlerter();
  const health = new HealthRegistry({ clock });
  const { logger, entries } = createCapturingLogger();
  let shortTraceId: string | undefined;
  const telemetry = createTelemetryHarness();

  /** Sends `text` from the admin chat and returns the bot's answers once it has handled it. */
  async function ask(text: string, from: { id: number; username?: string } = { id: 7, username: "alice" }) {
    const start = fake.requests.length;
    const updateId = fake.sendText(ADMIN, text, from);
    await handled(updateId, start);
    return fake.requests
      .slice(start)
      .filter((r) => r.method === "sendMessage")
      .map((r) => r.body);
  }

  /** Resolves once the bot polls past `updateId`: grammY handles an update fully before the next poll. */
  async function handled(updateId: number, start: number): Promise<void> {
    await fake.waitFor("getUpdates", (b) => Number(b.offset) > updateId, 5_000, start);
  }

  beforeAll(async () => {
    fake = await startFakeTelegram();
    recorder = createDecisionRecorder({
      store: createSqliteDecisionStore({ path: ":memory:" }),
      clock,
      tracer: telemetry.tracer,
    });

    const short = recorder.startSession({
      agent: "market_maker",
      strategyId: "mm-btc",
      symbol: "BTC/USDT",
      id: "sess-short",
    });
    shortTraceId = short.traceId;
    short.step("Mid 50,000; spread 12 bps.");
    short.toolCall({ name: "check_risk", args: { symbol: "BTC/USDT" }, result: "approved" });
    short.modelUsage({
      provider: "openai",
      model: "gpt-4o-mini",
      inputTokens: 1200,
      outputTokens: 300,
      costUsd: 0.0004,
    });
    short.decision({
      action: "quote",
      regime: "ranging",
      confidence: 0.8,
      approved: true,
      riskScore: 0.2,
      reason: "within limits",
    });
    short.end();

    clock.advance(1000);
    const paged = recorder.startSession({
      agent: "market_maker",
      strategyId: "mm-eth",
      symbol: "ETH/USDT",
      id: "sess-paged",
    });
    for (let i = 1; i <= 24; i++) paged.step(`Thought number ${i}: ${"x".repeat(i === 12 ? 5_000 : 20)}`);
    paged.decision({
      action: "skew_down",
      regime: "trending_down",
      confidence: 0.6,
      approved: false,
      riskScore: 0.9,
      reason: "position limit",
    });
    paged.end();

    clock.advance(1000);
    const long = recorder.startSession({ agent: "market_maker", strategyId: "mm-sol", id: "sess-long" });
    for (let i = 0; i < 3; i++) long.step(`${"Long thought. ".repeat(250)}#${i}`);
    long.end();

    clock.advance(1000);
    const nasty = recorder.startSession({
      agent: "market_maker",
      strategyId: "mm-esc",
      symbol: "SOL/USDT",
      id: "sess-esc",
    });
    nasty.step(`<script>alert("x")</script> & <b>bold?</b> 1 < 2 > 0 &amp;`);
    nasty.decision({
      action: "buy",
      regime: "volatile",
      confidence: 0.5,
      approved: true,
      reason: "a<b & c>d",
    });
    nasty.end();
    await recorder.flush();

    health.register("exchange", { group: "exchanges" });
    health.report("exchange", { state: "up", detail: "connected" });
    health.report("risk_monitor", { state: "degraded", detail: "daily loss at 80% of limit" });

    bot = createTelegramBot({
      token: fake.token,
      apiUrl: `${fake.url}/`,
      adminChatIds: [String(ADMIN), "-100200"],
      pollTimeoutSeconds: 1,
      decisions: recorder.reader,
      alerter,
      health,
      logger,
      clock,
      status: () => ({
        state: "running",
        strategyId: "mm-btc",
        realizedPnlUsd: 12.5,
        unrealizedPnlUsd: -3.25,
        dailyPnlUsd: 9.25,
        breaker: { active: false },
      }),
      portfolio: () => [
        { symbol: "BTC/USDT", quantity: 0.5, entryPrice: 50_000, markPrice: 50_100, unrealizedPnl: 50 },
        { symbol: "ETH/USDT", quantity: -2, entryPrice: 3_000 },
        { symbol: "DOGE/USDT", quantity: 100 },
        { symbol: "XRP/USDT", quantity: 0 },
      ],
    });
    bot.start();
    await fake.waitFor("getUpdates");
  });

  afterEach(() => {
    // Every call the bot made was valid for the Bot API (HTML parsed, lengths, known messages).
    expect(fake.rejected()).toEqual([]);
  });

  afterAll(async () => {
    await bot.shutdown();
    await recorder.shutdown();
    await fake.close();
    await telemetry.shutdown();
  });

  it("initialises with getMe, registers its commands and long-polls for messages and button presses", () => {
    expect(fake.requests.slice(0, 4).map((r) => r.method)).toEqual([
      "getMe",
      "setMyCommands",
      "deleteWebhook",
      "getUpdates",
    ]);
    expect(fake.calls("setMyCommands")[0]).toEqual({
      commands: [
        { command: "reasoning", description: "Agent reasoning for a session id" },
        { command: "last_decision", description: "Latest decision of a strategy" },
        { command: "portfolio", description: "Open positions and why" },
        { command: "status", description: "Running state, PnL, breaker, alerts" },
        { command: "health", description: "Component health" },
        { command: "alerts", description: "Active alerts" },
        { command: "ack", description: "Acknowledge an alert by id" },
        { command: "help", description: "List commands" },
      ],
    });
    expect(fake.calls("getUpdates")[0]).toEqual({
      offset: 1,
      timeout: 1,
      allowed_updates: ["message", "callback_query"],
    });
    expect(bot.polling).toBe(true);
    expect(health.snapshot().components.alerts).toMatchObject({
      telegram_bot: { status: "up", detail: "polling" },
    });
  });

  it("/help lists the commands", async () => {
    expect(await ask("/help")).toEqual([{ chat_id: ADMIN, text: HELP_TEXT, ...SEND_OPTIONS }]);
  });

  it("/reasoning shows numbered steps, tool calls with arguments, token usage and the decision", async () => {
    const [reply] = await ask("/reasoning sess-short");
    expect(reply).toEqual({
      chat_id: ADMIN,
      ...SEND_OPTIONS,
      text: [
        "🧠 <b>Agent reasoning</b> · session <code>sess-short</code>\nagent market_maker · strategy mm-btc · BTC/USDT · completed · 2026-01-01T00:00:00Z",
        "<b>1.</b> Mid 50,000; spread 12 bps.",
        "🔧 <b>Tool</b>: <code>check_risk</code>\n   Args: {&quot;symbol&quot;:&quot;BTC/USDT&quot;}\n   ↳ result (8 chars): approved",
        "📊 Tokens: 1500 (in 1200 / out 300) · openai/gpt-4o-mini · $0.00040",
        "🎯 <b>Decision</b>: <code>quote</code> · regime ranging · confidence 0.80 · risk 0.20 · ✅ approved: within limits",
        `Σ tokens 1500 · cost $0.00040 · trace <code>${shortTraceId!}</code>`,
      ].join("\n\n"),
    });
  });

  it("/reasoning without an id or with an unknown one explains and lists recent sessions", async () => {
    const recent =
      "Recent sessions:\n• <code>sess-esc</code> · mm-esc · SOL/USDT · buy · 2026-01-01T00:00:03Z\n" +
      "• <code>sess-long</code> · mm-sol · 2026-01-01T00:00:02Z\n" +
      "• <code>sess-paged</code> · mm-eth · ETH/USDT · skew_down · 2026-01-01T00:00:01Z\n" +
      "• <code>sess-short</code> · mm-btc · BTC/USDT · quote · 2026-01-01T00:00:00Z";
    expect((await ask("/reasoning"))[0]?.text).toBe(`Usage: /reasoning &lt;session_id&gt;\n\n${recent}`);
    expect((await ask("/reasoning nope-123"))[0]?.text).toBe(
      `No session <code>nope-123</code> found (it may be past retention).\n\n${recent}`,
    );
    expect((await ask("/reasoning <bad id>"))[0]?.text).toBe(
      `<code>&lt;bad</code> is not a session id.\n\n${recent}`,
    );
  });

  it("splits a long reasoning over several messages under 4096 characters", async () => {
    const replies = await ask("/reasoning sess-long");
    expect(replies.length).toBeGreaterThanOrEqual(2);
    const plain = replies.map((r) => {
      expect((r.text as string).length).toBeLessThanOrEqual(4096);
      return parseTelegramHtml(r.text as string).text;
    });
    // Cut only where needed: put back together, every step is there in full.
    const all = plain.join("");
    for (let i = 0; i < 3; i++) expect(all).toContain(`${i + 1}. ${"Long thought. ".repeat(250)}#${i}`);
  });

  it("paginates more than 10 steps with buttons that edit the message", async () => {
    const [first] = await ask("/reasoning sess-paged");
    const text = first!.text as string;
    expect(text).toContain("· page 1/3");
    expect(text.length).toBeLessThanOrEqual(4096);
    expect(parseTelegramHtml(text).text).toContain("10. Thought number 10:");
    expect(text).not.toContain("Thought number 11");
    expect(first!.reply_markup).toEqual({
      inline_keyboard: [[{ text: "Next ▶", callback_data: "rsn:sess-paged:2" }]],
    });

    const sent = fake.requests.filter((r) => r.method === "sendMessage").length;
    const stored = findStored(text);
    const start = fake.requests.length;
    const queryId = fake.pressButton(ADMIN, stored, "rsn:sess-paged:2", { id: 7, username: "alice" });
    const edit = await fake.waitFor("editMessageText", () => true, 5_000, start);
    expect(fake.calls("answerCallbackQuery")).toContainEqual({ callback_query_id: queryId });
    expect(edit.body).toMatchObject({ chat_id: ADMIN, message_id: stored, ...SEND_OPTIONS });
    const page2 = edit.body.text as string;
    expect(page2).toContain("· page 2/3");
    expect(page2.length).toBeLessThanOrEqual(4096);
    // Step 12 is 5,000 characters: shortened so the page fits one message, its length shown.
    expect(parseTelegramHtml(page2).text).toMatch(/12\. Thought number 12: x+… \(5019 chars\)/);
    expect(edit.body.reply_markup).toEqual({
      inline_keyboard: [
        [
          { text: "◀ Prev", callback_data: "rsn:sess-paged:1" },
          { text: "Next ▶", callback_data: "rsn:sess-paged:3" },
        ],
      ],
    });
    expect(fake.requests.filter((r) => r.method === "sendMessage")).toHaveLength(sent); // edited, not re-sent
    const start3 = fake.requests.length;
    fake.pressButton(ADMIN, stored, "rsn:sess-paged:3");
    const edit3 = await fake.waitFor("editMessageText", () => true, 5_000, start3);
    expect(parseTelegramHtml(edit3.body.text as string).text).toContain(
      "🎯 Decision: skew_down · regime trending_down · confidence 0.60 · risk 0.90 · ⛔ rejected: position limit",
    );
    expect(fake.message(ADMIN, stored)?.text).toContain("page 3/3");
  });

  it("escapes text for HTML parse mode", async () => {
    const [reply] = await ask("/reasoning sess-esc");
    const text = reply!.text as string;
    expect(text).toContain(
      "<b>1.</b> &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;bold?&lt;/b&gt; 1 &lt; 2 &gt; 0 &amp;amp;",
    );
    expect(parseTelegramHtml(text).text).toContain(
      `<script>alert("x")</script> & <b>bold?</b> 1 < 2 > 0 &amp;`,
    );
    expect(parseTelegramHtml(text).text).toContain("✅ approved: a<b & c>d");
  });

  it("/last_decision shows the latest decision of a strategy and its reasoning", async () => {
    const [reply] = await ask("/last_decision mm-btc");
    expect(reply!.text).toMatch(/^🧠 <b>Latest decision<\/b> · session <code>sess-short<\/code>/);
    expect(reply!.text).toContain("<b>1.</b> Mid 50,000; spread 12 bps.");
    expect((await ask("/last_decision mm-nope"))[0]?.text).toBe(
      "No decision recorded for strategy <code>mm-nope</code>.",
    );
    expect((await ask("/last_decision"))[0]?.text).toBe(
      "Usage: /last_decision &lt;strategy_id&gt;\nStrategies with recent sessions: <code>mm-esc</code>, <code>mm-sol</code>, <code>mm-eth</code>, <code>mm-btc</code>",
    );
  });

  it("/portfolio shows open positions with the latest reasoning for each", async () => {
    const [reply] = await ask("/portfolio");
    expect(reply!.text).toBe(
      [
        "💼 <b>Portfolio</b> · 3 open positions",
        "<b>BTC/USDT</b>: long 0.5 · entry 50,000.00 · mark 50,100.00 · uPnL +50.00\n" +
          "Why: <code>quote</code> · regime ranging · confidence 0.80 · risk 0.20 · ✅ approved: within limits\n" +
          "1. Mid 50,000; spread 12 bps.\n" +
          "Full reasoning: /reasoning sess-short (2026-01-01T00:00:00Z)",
        "<b>ETH/USDT</b>: short 2 · entry 3,000.00\n" +
          "Why: <code>skew_down</code> · regime trending_down · confidence 0.60 · risk 0.90 · ⛔ rejected: position limit\n" +
          "1. Thought number 1: xxxxxxxxxxxxxxxxxxxx\n2. Thought number 2: xxxxxxxxxxxxxxxxxxxx\n3. Thought number 3: xxxxxxxxxxxxxxxxxxxx\n" +
          "Full reasoning: /reasoning sess-paged (2026-01-01T00:00:01Z)",
        "<b>DOGE/USDT</b>: long 100\n<i>No recorded decision for this symbol.</i>",
      ].join("\n\n"),
    );
  });

  it("/status shows running state, PnL, breaker and open alerts", async () => {
    alerter.raise({
      rule: "daily_loss_warning",
      level: "WARNING",
      title: "Daily loss at 80%",
      message: "PnL -80 of -100",
    });
    const [reply] = await ask("/status");
    expect(reply!.text).toBe(
      "📈 <b>Status</b>\nState: <b>running</b> · strategy mm-btc\nPnL (USD): realized +12.50 · unrealized -3.25 · today +9.25\n" +
        "Circuit breaker: 🟢 armed\nHealth: 🟡 degraded\nOpen alerts: 1 (1 unacknowledged) · /alerts",
    );
  });

  it("/health shows the registry snapshot", async () => {
    const [reply] = await ask("/health");
    expect(reply!.text).toBe(
      "🩺 <b>Health</b>: 🟡 degraded · ready yes · up 3s\n<b>exchanges</b>\n  🟢 exchange: connected\n" +
        "🟡 risk_monitor: daily loss at 80% of limit\n<b>alerts</b>\n  🟢 telegram_bot: polling",
    );
  });

  it("/alerts lists active alerts and /ack acknowledges one, audited in the log", async () => {
    const alert = alerter.raise({
      rule: "circuit_breaker_tripped",
      level: "CRITICAL",
      title: "Circuit breaker <tripped>",
      message: "loss & more",
    });
    const [list] = await ask("/alerts");
    expect(list!.text).toContain(
      `🚨 <b>Circuit breaker &lt;tripped&gt;</b>\nloss &amp; more\nid <code>${alert!.id}</code>`,
    );
    expect(list!.text).toContain(`/ack ${alert!.id}`);
    const [ack] = await ask(`/ack ${alert!.id}`);
    expect(ack!.text).toBe(
      `✔️ Acknowledged <b>Circuit breaker &lt;tripped&gt;</b> (<code>${alert!.id}</code>).`,
    );
    expect(alerter.acknowledgements).toContainEqual({ id: alert!.id, by: "telegram:@alice" });
    expect(entries).toContainEqual(
      expect.objectContaining({
        message: "alert acknowledged from Telegram",
        component: "bot",
        chat_id: "42",
        user_id: "7",
        username: "alice",
        alert_id: alert!.id,
        via: "command",
        audit: true,
      }),
    );
    expect((await ask("/ack al-999"))[0]?.text).toBe(
      "No active alert has id <code>al-999</code> (resolved already?). /alerts lists them.",
    );
    expect((await ask("/ack"))[0]?.text).toBe("Usage: /ack &lt;alert_id&gt; (/alerts lists the ids)");
  });

  it("handles the Acknowledge button of alert messages", async () => {
    const alert = alerter.raise({
      rule: "exchange_disconnected",
      level: "ERROR",
      title: "Exchange down",
      message: "simex",
    });
    const messageId = fake.seedBotMessage(ADMIN, `🔴 <b>ERROR Exchange down</b>\n\nsimex &amp; co`, {
      inline_keyboard: [[{ text: "Acknowledge", callback_data: `ack:${alert!.id}` }]],
    });
    const start = fake.requests.length;
    const queryId = fake.pressButton(ADMIN, messageId, `ack:${alert!.id}`, { id: 8, username: "bob" });
    const edit = await fake.waitFor("editMessageText", () => true, 5_000, start);
    expect(fake.calls("answerCallbackQuery")).toContainEqual({
      callback_query_id: queryId,
      text: "Acknowledged",
    });
    expect(edit.body).toEqual({
      chat_id: ADMIN,
      message_id: messageId,
      text: `🔴 ERROR Exchange down\n\nsimex &amp; co\n\n✔️ <b>Acknowledged</b> by @bob at ${new Date(clock.now()).toISOString()}`,
      ...SEND_OPTIONS,
    });
    expect(fake.message(ADMIN, messageId)?.reply_markup).toBeUndefined(); // the button is gone
    expect(alerter.acknowledgements).toContainEqual({ id: alert!.id, by: "telegram:@bob" });
    expect(entries).toContainEqual(
      expect.objectContaining({ message: "alert acknowledged from Telegram", via: "button", user_id: "8" }),
    );

    // Pressing it again after the alert is gone: an answer, no edit.
    const again = fake.requests.length;
    const second = fake.pressButton(ADMIN, messageId, "ack:al-gone");
    await fake.waitFor("answerCallbackQuery", (b) => b.callback_query_id === second, 5_000, again);
    expect(fake.calls("answerCallbackQuery")).toContainEqual({
      callback_query_id: second,
      text: "Not acknowledged: no active alert with this id.",
    });
  });

  it("gives an unauthorized chat nothing and logs its chat id", async () => {
    const start = fake.requests.length;
    fake.sendText(999, "/status", { id: 999, username: "mallory" });
    fake.pressButton(999, 5, "ack:al-1", { id: 999 });
    const [help] = await ask("/help"); // processed after the two above
    expect(help?.chat_id).toBe(ADMIN);
    const after = fake.requests.slice(start);
    expect(after.filter((r) => r.body.chat_id === 999 || r.method === "answerCallbackQuery")).toEqual([]);
    expect(alerter.acknowledgements.some((a) => a.id === "al-1")).toBe(false);
    expect(entries).toContainEqual(
      expect.objectContaining({
        message: "unauthorized Telegram update refused",
        chat_id: "999",
        user_id: "999",
        update_type: "message",
      }),
    );
    expect(entries).toContainEqual(
      expect.objectContaining({
        message: "unauthorized Telegram update refused",
        chat_id: "999",
        update_type: "callback_query",
      }),
    );
  });

  it("answers unknown commands with a hint and a failing store with a short reason, never a stack", async () => {
    expect((await ask("/frobnicate now"))[0]?.text).toBe(
      "Unknown command /frobnicate. /help lists the commands.",
    );
    const getSession = recorder.reader.getSession.bind(recorder.reader);
    recorder.reader.getSession = () =>
      Promise.reject(new TicktraceError("IO", "decision store (sqlite x): read failed: disk I/O error"));
    try {
      expect((await ask("/reasoning sess-short"))[0]?.text).toBe(
        "⚠️ Could not run /reasoning: decision store (sqlite x): read failed: disk I/O error",
      );
      recorder.reader.getSession = () => Promise.reject(new Error("secret internals at /home/x.ts:12"));
      expect((await ask("/reasoning sess-short"))[0]?.text).toBe(
        "⚠️ Could not run /reasoning: unexpected error (see the process log)",
      );
    } finally {
      recorder.reader.getSession = getSession;
    }
  });

  /** The message id the fake stored for a text the bot sent. */
  function findStored(text: string): number {
    for (let id = 100; id < 1_000; id++) if (fake.message(ADMIN, id)?.html === text) return id;
    throw new Error("message not stored");
  }
});

describe("Telegram bot authorization by user", () => {
  it("answers only admin users inside an admin chat when admin_user_ids is set", async () => {
    const fake = await startFakeTelegram();
    const { logger, entries } = createCapturingLogger();
    const bot = createTelegramBot({
      token: fake.token,
      apiUrl: fake.url,
      adminChatIds: ["-100"],
      adminUserIds: ["1"],
      pollTimeoutSeconds: 1,
      registerCommands: false,
      logger,
    });
    try {
      bot.start();
      await fake.waitFor("getUpdates");
      fake.sendText(-100, "/help", { id: 2, username: "eve" });
      fake.sendText(-100, "/help@ticktrace_test_bot", { id: 1 });
      const reply = await fake.waitFor("sendMessage");
      expect(reply.body).toEqual({ chat_id: -100, text: HELP_TEXT, ...SEND_OPTIONS });
      expect(fake.calls("sendMessage")).toHaveLength(1);
      expect(entries).toContainEqual(
        expect.objectContaining({
          message: "unauthorized Telegram update refused",
          chat_id: "-100",
          user_id: "2",
        }),
      );
    } finally {
      await bot.shutdown();
      await fake.close();
    }
  });
});

describe("Telegram outage", () => {
  it("calls go through our HTTP client: an unreachable API is reported with the redacted URL and the fix", async () => {
    // A port that was free a moment ago: nothing answers there.
    const spare = createServer().listen(0, "127.0.0.1");
    await once(spare, "listening");
    const port = (spare.address() as AddressInfo).port;
    await new Promise((resolve) => spare.close(resolve));
    const token = "123456:AAHunreachableTokenXYZ";
    const health = new HealthRegistry();
    const { logger, entries } = createCapturingLogger();
    const bot = createTelegramBot({
      token,
      apiUrl: `http://127.0.0.1:${port}`,
      adminChatIds: ["5"],
      retryInitialMs: 5_000,
      registerCommands: false,
      health,
      logger,
    });
    try {
      bot.start();
      await waitUntil(() => health.stateOf("telegram_bot") === "degraded" && entries.length > 0);
      expect(health.snapshot().components.alerts).toMatchObject({
        telegram_bot: {
          status: "degraded",
          detail: `cannot reach Telegram: Network request for 'getMe' failed! (Telegram getMe could not reach POST http://127.0.0.1:${port}/bot<redacted>/getMe: ECONNREFUSED; check alerts.telegram.api_url and the network)`,
        },
      });
      expect(JSON.stringify(entries)).not.toContain("AAHunreachableTokenXYZ");
    } finally {
      await bot.shutdown();
    }
  });

  it("never blocks start-up, reports degraded health and recovers in the background", async () => {
    const fake = await startFakeTelegram();
    fake.down = true;
    const health = new HealthRegistry();
    const { logger, entries } = createCapturingLogger();
    const bot = createTelegramBot({
      token: fake.token,
      apiUrl: fake.url,
      adminChatIds: ["5"],
      pollTimeoutSeconds: 1,
      retryInitialMs: 20,
      retryMaxMs: 100,
      registerCommands: false,
      health,
      logger,
    });
    try {
      bot.start(); // returns at once
      expect(bot.polling).toBe(false);
      await fake.waitFor("getMe", () => true);
      await waitUntil(() => fake.calls("getMe").length >= 3); // retried with backoff
      expect(health.snapshot().components.alerts).toMatchObject({
        telegram_bot: {
          status: "degraded",
          detail: "cannot reach Telegram: Call to 'getMe' failed! (502: Bad Gateway)",
        },
      });
      expect(JSON.stringify(entries)).not.toContain(fake.token);
      fake.down = false;
      await waitUntil(() => bot.polling);
      fake.sendText(5, "/help");
      expect((await fake.waitFor("sendMessage")).body.chat_id).toBe(5);
      expect(health.snapshot().components.alerts).toMatchObject({ telegram_bot: { status: "up" } });
    } finally {
      await Promise.all([bot.shutdown(), bot.shutdown()]);
      await fake.close();
    }
    expect(health.snapshot().components.alerts).toMatchObject({
      telegram_bot: { status: "down", detail: "stopped" },
    });
  });

  it("refuses to start without a token or an admin chat", () => {
    expect(() => createTelegramBot({ token: "", adminChatIds: ["1"] })).toThrow(
      "the Telegram bot needs a token (alerts.telegram.bot_token)",
    );
    expect(() => createTelegramBot({ token: "1:a", adminChatIds: [] })).toThrow(
      "the Telegram bot needs at least one admin chat (bot.admin_chat_ids or alerts.telegram.chat_id)",
    );
  });
});

async function waitUntil(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
