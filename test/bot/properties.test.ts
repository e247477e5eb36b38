/**
 * Property-based tests of the bot's update handling, against the fake Bot API on 127.0.0.1:
 * random text, commands with random arguments, random callback data and malformed updates,
 * from chats that may and may not talk to the bot.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTelegramBot, type TelegramBot } from "../../src/bot/index.js";
import { createManualClock } from "../../src/clock.js";
import { HealthRegistry } from "../../src/health/registry.js";
import { startFakeTelegram, type FakeTelegram } from "./fake-telegram.js";
import { createCapturingLogger, createFakeAlerter } from "./fakes.js";

const ADMIN = 42;
const STRANGER = 1_234_567;
/** Every property runs this often; each run is a few HTTP round trips. */
const RUNS = 25;
const SEED = 20_261_201;

let fake: FakeTelegram;
let bot: TelegramBot;
const { logger, entries } = createCapturingLogger();
const alerter = createFakeAlerter();

beforeAll(async () => {
  fake = await startFakeTelegram();
  const clock = createManualClock(Date.UTC(2026, 0, 1));
  alerter.raise({
    rule: "exchange_disconnected",
    level: "WARNING",
    title: "down",
    message: "simex <down> & out",
  });
  bot = createTelegramBot({
    token: fake.token,
    apiUrl: `${fake.url}/`,
    adminChatIds: [String(ADMIN)],
    pollTimeoutSeconds: 1,
    alerter,
    health: new HealthRegistry({ clock }),
    logger,
    clock,
    status: () => ({
      state: "running",
      strategyId: "mm-1",
      realizedPnlUsd: 1,
      unrealizedPnlUsd: 0,
      dailyPnlUsd: 1,
      breaker: { active: false },
    }),
    portfolio: () => [{ symbol: "BTC/USDT", quantity: 0.5 }],
  });
  bot.start();
  await fake.waitFor("getUpdates");
});

afterAll(async () => {
  await bot.shutdown();
  await fake.close();
});

/** Resolves once the bot polled past `updateId` (grammY finishes an update before polling again). */
async function handled(updateId: number, start: number): Promise<void> {
  await fake.waitFor("getUpdates", (b) => Number(b.offset) > updateId, 5_000, start);
}

/** Calls the fake refused since request `start`. */
function rejectedSince(start: number) {
  const recent = new Set(fake.requests.slice(start));
  return fake.rejected().filter((request) => recent.has(request));
}

const COMMANDS = [
  "reasoning",
  "last_decision",
  "portfolio",
  "status",
  "health",
  "alerts",
  "ack",
  "help",
  "start",
  "nope",
];

/** Text a user might type: anything, or a command with anything after it. */
const userText = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.string({ unit: "grapheme", maxLength: 300 }),
  fc
    .tuple(fc.constantFrom(...COMMANDS), fc.string({ unit: "grapheme", maxLength: 200 }))
    .map(([command, args]) => `/${command} ${args}`),
  fc.constantFrom("/ack al-1", "/reasoning <b>", "/last_decision &amp;", `/ack ${"x".repeat(5000)}`),
);

/** Button data: the bot's own prefixes with random tails, and anything else (at most 64 bytes, as Telegram allows). */
const callbackData = fc.oneof(
  fc.constant("ack:al-1"),
  fc.string({ maxLength: 64 }),
  fc.string({ maxLength: 60 }).map((tail) => `ack:${tail}`),
  fc.string({ maxLength: 60 }).map((tail) => `rsn:${tail}`),
  fc.tuple(fc.string({ maxLength: 20 }), fc.integer()).map(([id, page]) => `rsn:${id}:${page}`),
);

describe("bot: random input", () => {
  it("from a chat that is not an admin chat: nothing is answered, every update is logged as refused", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          userText.map((text) => ({ text })),
          callbackData.map((data) => ({ data })),
        ),
        async (input) => {
          const start = fake.requests.length;
          const refusedBefore = entries.filter(
            (e) => e.message === "unauthorized Telegram update refused",
          ).length;
          const updateId =
            "text" in input
              ? fake.sendText(STRANGER, input.text, { id: 9 })
              : fake.pushUpdate({
                  callback_query: {
                    id: `cb-${fake.requests.length}`,
                    from: { id: 9, is_bot: false, first_name: "Eve" },
                    message: { message_id: 1, chat: { id: STRANGER, type: "private" }, date: 0 },
                    chat_instance: "ci-stranger",
                    data: input.data,
                  },
                });
          await handled(updateId, start);
          const answered = fake.requests
            .slice(start)
            .filter((r) => r.method !== "getUpdates" && r.method !== "deleteWebhook");
          expect(answered).toEqual([]);
          await expect
            .poll(() => entries.filter((e) => e.message === "unauthorized Telegram update refused").length)
            .toBeGreaterThan(refusedBefore);
        },
      ),
      { numRuns: RUNS, seed: SEED },
    );
  });

  it("from the admin chat: every answer is valid for the Bot API (HTML, length) and no update makes the bot fail", async () => {
    await fc.assert(
      fc.asyncProperty(userText, async (text) => {
        const start = fake.requests.length;
        const updateId = fake.sendText(ADMIN, text, { id: 7, username: "alice" });
        await handled(updateId, start);
        expect(rejectedSince(start)).toEqual([]);
        expect(entries.filter((e) => e.message === "bot failed to handle an update")).toEqual([]);
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });

  it("from the admin chat: random button data is answered once, with valid edits only", async () => {
    const messageId = fake.seedBotMessage(ADMIN, "<b>alert</b> text");
    await fc.assert(
      fc.asyncProperty(callbackData, async (data) => {
        const start = fake.requests.length;
        const callbackId = fake.pressButton(ADMIN, messageId, data, { id: 7 });
        const answer = await fake.waitFor(
          "answerCallbackQuery",
          (b) => b.callback_query_id === callbackId,
          5_000,
          start,
        );
        await expect.poll(() => answer.status).toBe(200);
        // The edit (if any) follows the answer; the next poll comes after it.
        await fake.waitFor("getUpdates", () => true, 5_000, fake.requests.indexOf(answer) + 1);
        expect(rejectedSince(start)).toEqual([]);
        expect(entries.filter((e) => e.message === "bot failed to handle an update")).toEqual([]);
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });

  it("malformed and unusual updates (no chat, no sender, odd shapes) never stop the polling", async () => {
    const oddUpdate = fc.oneof(
      fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 }),
      fc.record({ message: fc.record({ message_id: fc.integer(), date: fc.integer(), text: fc.string() }) }),
      fc.record({
        message: fc.record({
          message_id: fc.nat(),
          date: fc.nat(),
          chat: fc.record({ id: fc.constantFrom(ADMIN, STRANGER), type: fc.constant("private") }),
          text: userText,
        }),
      }),
      fc.record({ edited_message: fc.jsonValue({ maxDepth: 2 }) }),
    );
    await fc.assert(
      fc.asyncProperty(oddUpdate, async (update) => {
        const start = fake.requests.length;
        const updateId = fake.pushUpdate(update);
        await handled(updateId, start);
        expect(bot.polling).toBe(true);
      }),
      { numRuns: RUNS, seed: SEED },
    );
    // Still answering real commands afterwards.
    const start = fake.requests.length;
    const updateId = fake.sendText(ADMIN, "/help", { id: 7 });
    await handled(updateId, start);
    expect(fake.requests.slice(start).some((r) => r.method === "sendMessage" && r.status === 200)).toBe(true);
  });
});
