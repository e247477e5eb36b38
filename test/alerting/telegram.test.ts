import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTelegramChannel } from "../../src/alerting/channels/telegram.js";
import { telegramBlocks } from "../../src/alerting/format.js";
import { splitMessage } from "../../src/format/telegram-html.js";
import { traceLink } from "../../src/format/trace-link.js";
import { AlertManager } from "../../src/alerting/manager.js";
import { HealthRegistry } from "../../src/health/registry.js";
import { startFakeHttpServer, type FakeHttpServer } from "./fake-http.js";
import { createCapturingLogger, testAlert } from "./helpers.js";

const TOKEN = "123456:ABC-secret_token";
const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";

const breaker = {
  rule: "circuit_breaker_tripped",
  level: "CRITICAL" as const,
  title: "Circuit breaker tripped",
  message: "Daily PnL -1,600 < limit -1,500 & <falling>",
  labels: { breaker: "daily_loss" },
  fields: { daily_pnl: -1600 },
  traceId: TRACE,
};

let server: FakeHttpServer;
let dir: string;
beforeEach(async () => {
  server = await startFakeHttpServer();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "ticktrace-alert-tg-"));
});
afterEach(async () => {
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function telegram(timeoutMs = 2000) {
  return createTelegramChannel({
    botToken: TOKEN,
    chatId: "-100123",
    apiUrl: server.url,
    minLevel: "WARNING",
    timeoutMs,
    grafana: { url: "http://grafana.local:3000/", tempoDatasourceUid: "tempo-uid" },
  });
}

function manager(options: { timeoutMs?: number; outbox?: boolean } = {}) {
  const capture = createCapturingLogger();
  const health = new HealthRegistry();
  const m = new AlertManager({
    channels: [telegram(options.timeoutMs)],
    logger: capture.logger,
    health,
    ...(options.outbox === false ? {} : { outboxDir: path.join(dir, "outbox") }),
    retry: { initialDelayMs: 50, maxDelayMs: 200 },
  }).start();
  return { m, health, ...capture };
}

describe("Telegram channel", () => {
  it("posts sendMessage to <api_url>/bot<token>/sendMessage with escaped HTML, trace link and an Acknowledge button", async () => {
    const { m } = manager();
    const alert = m.raise(breaker)!;
    const [request] = await server.waitForAccepted(1);
    expect(request!.method).toBe("POST");
    expect(request!.path).toBe(`/bot${TOKEN}/sendMessage`);
    expect(request!.headers["content-type"]).toBe("application/json");
    const link = traceLink({ url: "http://grafana.local:3000", tempoDatasourceUid: "tempo-uid" }, TRACE)!;
    expect(link).toBe(
      "http://grafana.local:3000/explore?schemaVersion=1&orgId=1&panes=" +
        encodeURIComponent(
          JSON.stringify({
            trace: {
              datasource: "tempo-uid",
              queries: [
                {
                  refId: "A",
                  datasource: { type: "tempo", uid: "tempo-uid" },
                  queryType: "traceql",
                  query: TRACE,
                },
              ],
              range: { from: "now-1h", to: "now" },
            },
          }),
        ),
    );
    expect(request!.body).toEqual({
      chat_id: "-100123",
      parse_mode: "HTML",
      link_preview_options: { is_disabled: true },
      text: [
        "🚨 <b>CRITICAL Circuit breaker tripped</b>",
        "",
        "Daily PnL -1,600 &lt; limit -1,500 &amp; &lt;falling&gt;",
        "",
        "<b>breaker</b>: daily_loss\n<b>daily_pnl</b>: -1600",
        "",
        `rule <code>circuit_breaker_tripped</code> · id <code>${alert.id}</code> · since ${alert.timestamp}`,
        "",
        `<a href="${link.replace(/&/g, "&amp;").replace(/"/g, "&quot;")}">Open trace in Grafana</a>`,
      ].join("\n"),
      reply_markup: { inline_keyboard: [[{ text: "Acknowledge", callback_data: `ack:${alert.id}` }]] },
    });
    m.resolve(breaker.rule, breaker.labels);
    const requests = await server.waitForAccepted(2);
    expect(requests[1]!.body.text).toMatch(/^✅ <b>RESOLVED Circuit breaker tripped<\/b>/);
    expect(requests[1]!.body.reply_markup).toBeUndefined();
    await m.shutdown();
  });

  it("splits a long message under 4096 characters without cutting an entity; the button rides on the last part", async () => {
    const { m } = manager();
    const message = "x&y ".repeat(2400); // 9600 chars, 19 200 once escaped
    const alert = m.raise({ ...breaker, message })!;
    await m.idle();
    const parts = server
      .accepted()
      .map(
        (r) => r.body as { text: string; reply_markup?: { inline_keyboard: { callback_data: string }[][] } },
      );
    expect(parts.length).toBe(5); // 19 200 escaped characters, a header, fields and a link
    for (const part of parts) expect(part.text.length).toBeLessThanOrEqual(4096);
    const whole = telegramBlocks(alert, undefined, {
      url: "http://grafana.local:3000/",
      tempoDatasourceUid: "tempo-uid",
    });
    expect(whole[1]).toBe(message.replace(/&/g, "&amp;"));
    const unseparated = (text: string) => text.replace(/\n\n/g, "");
    expect(unseparated(parts.map((p) => p.text).join(""))).toBe(unseparated(whole.join("\n\n")));
    for (const part of parts) expect(part.text).not.toMatch(/&(a|am|amp)?$/);
    expect(parts.slice(0, -1).every((p) => p.reply_markup === undefined)).toBe(true);
    expect(parts.at(-1)!.reply_markup!.inline_keyboard[0]![0]!.callback_data).toBe(`ack:${alert.id}`);
    await m.shutdown();
  });

  it("honours 429 parameters.retry_after, then delivers once", async () => {
    const { m, health } = manager();
    server.queue.push({ kind: "telegram429", retryAfterSeconds: 1 });
    const started = Date.now();
    m.raise(breaker);
    await server.waitForAccepted(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(server.requests).toHaveLength(2);
    await m.idle();
    expect(health.snapshot().components.alerts).toMatchObject({ "alerts.telegram": { status: "up" } });
    await m.shutdown();
  });

  it("retries a 500 and a hanging server (per-attempt timeout), and never shows the token in logs or /health", async () => {
    const { m, health, text } = manager({ timeoutMs: 300 });
    server.queue.push(
      { kind: "status", status: 500, body: `internal error for /bot${TOKEN}/sendMessage` },
      { kind: "hang" },
    );
    m.raise(breaker);
    await new Promise((resolve) => setTimeout(resolve, 120));
    const degraded = JSON.stringify(health.snapshot());
    expect(degraded).toContain(
      "Telegram sendMessage failed (500: internal error for /bot<redacted>/sendMessage)",
    );
    await server.waitForAccepted(1);
    expect(server.requests).toHaveLength(3);
    await m.idle();
    expect(text()).toContain("Telegram sendMessage failed (500");
    expect(text()).not.toContain(TOKEN);
    expect(JSON.stringify(health.snapshot())).not.toContain(TOKEN);
    await m.shutdown();
  });

  it("an unreachable API is a retryable UNREACHABLE error without the token; an abort is TIMEOUT", async () => {
    const url = server.url;
    await server.close();
    const channel = createTelegramChannel({ botToken: TOKEN, chatId: "1", apiUrl: url });
    const error = await channel.send(FIXED, new AbortController().signal).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "UNREACHABLE", retryable: true });
    expect((error as Error).message).toBe(
      `Telegram sendMessage could not reach POST ${url}/bot<redacted>/sendMessage: ECONNREFUSED; check alerts.telegram.api_url and the network`,
    );
    expect((error as Error).message).not.toContain(TOKEN);
    server = await startFakeHttpServer();
    server.mode = { kind: "hang" };
    const hanging = createTelegramChannel({ botToken: TOKEN, chatId: "1", apiUrl: server.url });
    const timedOut = await hanging.send(FIXED, AbortSignal.timeout(100)).catch((e: unknown) => e);
    expect(timedOut).toMatchObject({
      code: "TIMEOUT",
      message: `Telegram sendMessage was aborted (timeout) before POST ${server.url}/bot<redacted>/sendMessage answered; check alerts.telegram.api_url and the network`,
    });
  });

  it("a restart during an outage loses nothing and repeats nothing", async () => {
    server.mode = { kind: "status", status: 502, body: "bad gateway" };
    const first = manager();
    const a = first.m.raise(breaker)!;
    const b = first.m.raise({
      ...breaker,
      rule: "strategy_panic",
      labels: { strategy: "mm" },
      title: "Strategy panic",
    })!;
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(server.accepted()).toHaveLength(0);
    expect(server.requests.length).toBeGreaterThanOrEqual(1);
    await first.m.shutdown({ drainMs: 0 }); // the process goes away with both undelivered

    server.mode = { kind: "ok" };
    const second = manager();
    await server.waitForAccepted(2);
    await second.m.idle();
    expect(
      server.accepted().map((r) => String(r.body.reply_markup.inline_keyboard[0][0].callback_data)),
    ).toEqual([`ack:${a.id}`, `ack:${b.id}`]);
    // The restored alerts are the previous run's: listed until raised again or the grace ends.
    expect(
      second.m
        .active()
        .map((x) => x.id)
        .sort(),
    ).toEqual([a.id, b.id].sort());
    expect(second.m.active().every((x) => x.runId === first.m.runId)).toBe(true);
    // This run's own breaker trip notifies: it is a new alert, not a repeat of the old one.
    const again = second.m.raise(breaker)!;
    expect(again.id).not.toBe(a.id);
    expect(again.runId).toBe(second.m.runId);
    const [resent] = (await server.waitForAccepted(3)).slice(2);
    expect(String(resent!.body.text)).toContain("Fired again after a restart");
    await second.m.shutdown();

    const third = manager();
    await new Promise((resolve) => setTimeout(resolve, 150));
    await third.m.idle();
    expect(server.accepted()).toHaveLength(3); // nothing delivered is sent again
    await third.m.shutdown();
  });
});

const FIXED = testAlert({ id: "abc123-1", level: "ERROR", title: "T" });

describe("Telegram formatting", () => {
  it("packs blocks and never splits inside an entity", () => {
    const blocks = ["a".repeat(4094) + "&amp;" + "b".repeat(10)];
    const parts = splitMessage(blocks, 4096);
    expect(parts[0]).toBe("a".repeat(4094));
    expect(parts[1]).toBe("&amp;" + "b".repeat(10));
    expect(splitMessage(["one", "two"], 4096)).toEqual(["one\n\ntwo"]);
  });

  it("summaries and repeats have their own headline", () => {
    const alert = testAlert({ id: "x-1", title: "T", message: "" });
    const ctx = { notificationId: "n", attempt: 1, createdAtMs: 0 };
    expect(telegramBlocks(alert, { ...ctx, event: "repeat" })[0]).toBe("⚠️ <b>WARNING (still firing) T</b>");
    expect(telegramBlocks(alert, { ...ctx, event: "escalated" })[0]).toBe("⚠️ <b>WARNING (escalated) T</b>");
    expect(telegramBlocks(alert, { ...ctx, event: "summary" })[0]).toBe("🌩 <b>T</b>");
  });
});
