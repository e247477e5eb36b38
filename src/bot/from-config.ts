import type { Config } from "../config/schema.js";
import type { Clock } from "../clock.js";
import type { Logger } from "../logging/logger.js";
import type { BotProviders } from "./commands.js";
import { createTelegramBot, type TelegramBot } from "./bot.js";

/** Whether `config.yaml` turns the bot on: `bot.enabled`, defaulting to `alerts.telegram.enabled`. */
export function botEnabled(config: Pick<Config, "bot" | "alerts">): boolean {
  return config.bot.enabled ?? config.alerts.telegram.enabled;
}

/** Admin chats: `bot.admin_chat_ids`, defaulting to `alerts.telegram.chat_id`. */
export function botAdminChats(config: Pick<Config, "bot" | "alerts">): string[] {
  if (config.bot.admin_chat_ids.length > 0) return [...config.bot.admin_chat_ids];
  const chat = config.alerts.telegram.chat_id.trim();
  return chat === "" ? [] : [chat];
}

/**
 * The bot as `config.yaml` describes it, started (polling in the background), or undefined when
 * it is off. Register `bot.shutdown` with the runtime's `onShutdown`.
 */
export function startTelegramBotFromConfig(
  config: Pick<Config, "bot" | "alerts" | "grafana">,
  providers: BotProviders & { logger?: Logger; clock?: Clock },
): TelegramBot | undefined {
  if (!botEnabled(config)) return undefined;
  const bot = createTelegramBot({
    grafana: { url: config.grafana.url, tempoDatasourceUid: config.grafana.tempo_datasource_uid },
    ...providers,
    token: config.alerts.telegram.bot_token,
    apiUrl: config.alerts.telegram.api_url,
    adminChatIds: botAdminChats(config),
    adminUserIds: config.bot.admin_user_ids,
    pollTimeoutSeconds: config.bot.poll_timeout_seconds,
  });
  bot.start();
  return bot;
}
