import { describe, expect, it } from "vitest";
import { botAdminChats, botEnabled, startTelegramBotFromConfig } from "../../src/bot/index.js";
import { parseConfig as parse, type ConfigInput } from "../../src/config/index.js";

const parseConfig = (raw: ConfigInput) => parse(raw, { file: "test.yaml" });
import { startFakeTelegram } from "./fake-telegram.js";

describe("bot configuration", () => {
  it("is on whenever Telegram alerts are, with the alert chat as admin, unless configured", () => {
    const off = parseConfig({});
    expect(botEnabled(off)).toBe(false);
    const alerts = parseConfig({
      alerts: { telegram: { enabled: true, bot_token: "1:x", chat_id: "-100" } },
    });
    expect(botEnabled(alerts)).toBe(true);
    expect(botAdminChats(alerts)).toEqual(["-100"]);
    const explicit = parseConfig({
      alerts: { telegram: { enabled: true, bot_token: "1:x", chat_id: "-100" } },
      bot: { enabled: false, admin_chat_ids: ["5", "6"] },
    });
    expect(botEnabled(explicit)).toBe(false);
    expect(botAdminChats(explicit)).toEqual(["5", "6"]);
    expect(startTelegramBotFromConfig(off, {})).toBeUndefined();
  });

  it("polls alerts.telegram.api_url with the configured timeout", async () => {
    const fake = await startFakeTelegram();
    const config = parseConfig({
      alerts: { telegram: { enabled: true, bot_token: fake.token, chat_id: "9", api_url: fake.url } },
      bot: { poll_timeout_seconds: 1 },
    });
    const bot = startTelegramBotFromConfig(config, {});
    try {
      const poll = await fake.waitFor("getUpdates");
      expect(poll.body).toEqual({ offset: 1, timeout: 1, allowed_updates: ["message", "callback_query"] });
      fake.sendText(9, "/health");
      expect((await fake.waitFor("sendMessage")).body.text).toBe("No health registry in this process.");
    } finally {
      await bot?.shutdown();
      await fake.close();
    }
  });
});
