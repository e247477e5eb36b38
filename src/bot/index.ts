export { createTelegramBot, BOT_HEALTH_COMPONENT, type TelegramBot, type TelegramBotOptions } from "./bot.js";
export {
  createCommandHandlers,
  actorName,
  type Actor,
  type BotProviders,
  type CommandHandlers,
} from "./commands.js";
export {
  BOT_COMMANDS,
  HELP_TEXT,
  REASONING_PAGE_SIZE,
  formatReasoning,
  formatPortfolio,
  formatStatus,
  formatHealth,
  formatAlerts,
  type BotReply,
  type BotStatus,
  type InlineButton,
  type PortfolioPosition,
} from "./format.js";
export { botAdminChats, botEnabled, startTelegramBotFromConfig } from "./from-config.js";
