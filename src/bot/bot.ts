import type { Bot, Context } from "grammy";
import type { InlineKeyboardMarkup } from "grammy/types";
import { escapeHtml, TELEGRAM_MAX_MESSAGE_CHARS } from "../format/telegram-html.js";
import { systemClock, type Clock, type TimerHandle } from "../clock.js";
import { describeError, redact, TicktraceError } from "../errors.js";
import { createFetch, HttpError } from "../http/client.js";
import { createSilentLogger, type Logger } from "../logging/logger.js";
import { requireOptional } from "../optional.js";
import { createCommandHandlers, actorName, type Actor, type BotProviders } from "./commands.js";
import { BOT_COMMANDS, clip, parseReasoningCallback, type BotReply } from "./format.js";

export interface TelegramBotOptions extends BotProviders {
  /** The bot token (`alerts.telegram.bot_token`). */
  token: string;
  /** Bot API base URL (`alerts.telegram.api_url`); default `https://api.telegram.org`. */
  apiUrl?: string;
  /** Chats whose messages are answered; everything else is refused without data and logged. */
  adminChatIds: readonly string[];
  /** When non-empty, only these users (within the admin chats) are answered. */
  adminUserIds?: readonly string[];
  /** Long-polling timeout of `getUpdates`, seconds. Default 25. */
  pollTimeoutSeconds?: number;
  /** First delay before retrying after Telegram could not be reached; doubles up to `retryMaxMs`. Default 1000. */
  retryInitialMs?: number;
  /** Default 60000. */
  retryMaxMs?: number;
  /** Register the command menu with `setMyCommands` on start. Default true. */
  registerCommands?: boolean;
  logger?: Logger;
  clock?: Clock;
}

export interface TelegramBot {
  /** Starts long polling in the background and returns at once; Telegram being down never blocks it. */
  start(): void;
  /** Whether `getUpdates` is being polled now. */
  readonly polling: boolean;
  /** Idempotent: stops polling (bounded wait) and cancels retries. */
  shutdown(): Promise<void>;
}

/** The health component the bot reports as. */
export const BOT_HEALTH_COMPONENT = "telegram_bot";

/**
 * The Telegram command bot (grammY, long polling): `/reasoning`, `/last_decision`, `/portfolio`,
 * `/status`, `/health`, `/alerts`, `/ack`, `/help`, the pages of `/reasoning` and the
 * Acknowledge button of alert messages (`ack:<id>`). Only `adminChatIds` (and `adminUserIds`
 * when set) get answers.
 */
export function createTelegramBot(options: TelegramBotOptions): TelegramBot {
  if (options.token.trim() === "") {
    throw new TicktraceError("CONFIG_INVALID", "the Telegram bot needs a token (alerts.telegram.bot_token)");
  }
  if (options.adminChatIds.length === 0) {
    throw new TicktraceError(
      "CONFIG_INVALID",
      "the Telegram bot needs at least one admin chat (bot.admin_chat_ids or alerts.telegram.chat_id)",
    );
  }
  const clock = options.clock ?? systemClock;
  const logger = (options.logger ?? createSilentLogger()).child({ component: "bot" });
  const pollTimeoutSeconds = options.pollTimeoutSeconds ?? 25;
  const retryInitialMs = options.retryInitialMs ?? 1_000;
  const retryMaxMs = options.retryMaxMs ?? 60_000;
  const admins = new Set(options.adminChatIds.map(String));
  const users = new Set((options.adminUserIds ?? []).map(String));
  const secrets = [options.token];
  const handlers = createCommandHandlers(options, logger);
  const health = options.health;
  health?.register(BOT_HEALTH_COMPONENT, { group: "alerts" }, { state: "degraded", detail: "starting" });

  // Loaded here, not on import: grammY is an optional package, needed only when the bot runs.
  const grammy = requireOptional("grammy", {
    key: "bot.enabled",
    because: "turns the Telegram command bot on",
    orElse: "set bot.enabled: false",
  }) as { Bot: typeof Bot };
  const bot = new grammy.Bot(options.token, {
    client: {
      apiRoot: (options.apiUrl ?? "https://api.telegram.org").replace(/\/+$/, ""),
      // A hung request must not outlive the long poll by much.
      timeoutSeconds: pollTimeoutSeconds + 15,
      // Our HTTP client (Node's fetch) instead of grammY's node-fetch: the bot's calls are traced
      // like the alert channels' (undici instrumentation), and a failure is an HttpError naming
      // the method and the redacted URL. grammY wraps it in its HttpError, which we log redacted.
      fetch: createFetch({
        operation: (url) => `Telegram ${url.slice(url.lastIndexOf("/") + 1)}`,
        secrets,
        fix: "check alerts.telegram.api_url and the network",
      }),
    },
  });

  let polling = false;
  let pollFailing = false;
  // Watch getUpdates so /health shows a Telegram outage while grammY retries it.
  bot.api.config.use(async (prev, method, payload, signal) => {
    try {
      const result = await prev(method, payload, signal);
      if (method === "getUpdates" && pollFailing) {
        pollFailing = false;
        logger.info("Telegram reachable again; polling resumed");
        health?.report(BOT_HEALTH_COMPONENT, { state: "up", detail: "polling" });
      }
      return result;
    } catch (error) {
      if (method === "getUpdates" && polling && !stopping && !pollFailing) {
        pollFailing = true;
        const detail = redact(callErrorText(error), secrets);
        logger.warn("Telegram getUpdates failed; grammY retries in the background", { error: detail });
        health?.report(BOT_HEALTH_COMPONENT, { state: "degraded", detail: `polling failed: ${detail}` });
      }
      throw error;
    }
  });

  const actorOf = (ctx: Context): Actor => {
    const actor: Actor = { chatId: String(ctx.chat?.id ?? "") };
    if (ctx.from?.id !== undefined) actor.userId = String(ctx.from.id);
    if (ctx.from?.username) actor.username = ctx.from.username;
    return actor;
  };

  // Authorization first: anything from elsewhere is dropped without a word and logged.
  bot.use(async (ctx, next) => {
    const actor = actorOf(ctx);
    const allowed =
      admins.has(actor.chatId) &&
      (users.size === 0 || (actor.userId !== undefined && users.has(actor.userId)));
    if (allowed) return next();
    logger.warn("unauthorized Telegram update refused", {
      chat_id: actor.chatId || undefined,
      user_id: actor.userId,
      username: actor.username,
      update_id: ctx.update.update_id,
      update_type: ctx.callbackQuery ? "callback_query" : ctx.message ? "message" : "other",
    });
  });

  const markup = (reply: BotReply): { reply_markup?: InlineKeyboardMarkup } =>
    reply.buttons?.some((row) => row.length > 0)
      ? {
          reply_markup: {
            inline_keyboard: reply.buttons.map((row) =>
              row.map((button) => ({ text: button.text, callback_data: button.callbackData })),
            ),
          },
        }
      : {};

  const send = async (ctx: Context, replies: readonly BotReply[]) => {
    for (const reply of replies) {
      await ctx.reply(reply.text, {
        parse_mode: "HTML",
        link_preview_options: { is_disabled: true },
        ...markup(reply),
      });
    }
  };

  const commandNames = [...BOT_COMMANDS.map((c) => c.command), "start"];
  for (const name of commandNames) {
    bot.command(name, async (ctx) => {
      logger.info("bot command", {
        command: name,
        chat_id: String(ctx.chat.id),
        user_id: ctx.from ? String(ctx.from.id) : undefined,
      });
      await send(ctx, await handlers.run(name, typeof ctx.match === "string" ? ctx.match : "", actorOf(ctx)));
    });
  }
  bot.on("message:entities:bot_command", async (ctx) => {
    // Telegram sends entities with a text; the guard stays for an update that breaks that rule.
    const text = (ctx.message.text as string | undefined) ?? "";
    const name = /^\/([A-Za-z0-9_]+)/.exec(text)?.[1] ?? "";
    await send(ctx, await handlers.run(name, "", actorOf(ctx)));
  });

  bot.callbackQuery(/^rsn:/, async (ctx) => {
    const parsed = parseReasoningCallback(ctx.callbackQuery.data);
    const reply = parsed ? await handlers.reasoningPage(parsed.sessionId, parsed.page) : undefined;
    if (!reply) {
      await ctx.answerCallbackQuery({ text: "That session is no longer stored." });
      return;
    }
    await ctx.answerCallbackQuery();
    await ctx.editMessageText(reply.text, {
      parse_mode: "HTML",
      link_preview_options: { is_disabled: true },
      ...markup(reply),
    });
  });

  bot.callbackQuery(/^ack:/, async (ctx) => {
    const alertId = ctx.callbackQuery.data.slice("ack:".length);
    const actor = actorOf(ctx);
    const result = handlers.acknowledge(alertId, actor, "button");
    if (!result.ok) {
      await ctx.answerCallbackQuery({ text: "Not acknowledged: no active alert with this id." });
      return;
    }
    await ctx.answerCallbackQuery({ text: "Acknowledged" });
    const message = ctx.callbackQuery.message;
    const original =
      message && "text" in message && typeof message.text === "string" ? message.text : result.alert.title;
    const stamp = `✔️ <b>Acknowledged</b> by ${escapeHtml(actorName(actor).replace(/^telegram:/, ""))} at ${new Date(clock.now()).toISOString()}`;
    const room = TELEGRAM_MAX_MESSAGE_CHARS - stamp.length - 2;
    let body = escapeHtml(clip(original, room));
    while (body.length > room)
      body = escapeHtml(clip(original, Math.floor(room * (room / body.length)) - 10));
    // Editing without reply_markup removes the button.
    await ctx.editMessageText(`${body}\n\n${stamp}`, {
      parse_mode: "HTML",
      link_preview_options: { is_disabled: true },
    });
  });

  bot.on("callback_query:data", async (ctx) => {
    await ctx.answerCallbackQuery();
  });

  bot.catch((error) => {
    logger.error("bot failed to handle an update", {
      update_id: error.ctx.update.update_id,
      error: redact(describeError(error.error), secrets),
    });
  });

  let started = false;
  let stopping = false;
  // Read through a call: shutdown() sets `stopping` while run() awaits, which narrowing cannot see.
  const isStopping = (): boolean => stopping;
  let loop: Promise<void> | undefined;
  let stopped: Promise<void> | undefined;
  let retryTimer: TimerHandle | undefined;
  let wakeRetry: (() => void) | undefined;
  const abort = new AbortController();
  // grammY types its signal with the abort-controller shim; our fetch (createFetch) takes either.
  const signal = abort.signal as unknown as Parameters<typeof bot.api.getMe>[0];

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      wakeRetry = resolve;
      retryTimer = clock.setTimeout(resolve, ms);
    });

  async function run(): Promise<void> {
    let delayMs = retryInitialMs;
    let commandsRegistered = options.registerCommands === false;
    while (!stopping) {
      try {
        if (!bot.isInited()) bot.botInfo = await bot.api.getMe(signal);
        if (!commandsRegistered) {
          await bot.api.setMyCommands(BOT_COMMANDS, undefined, signal).catch((error: unknown) => {
            logger.warn("setMyCommands failed; the command menu stays as it was", {
              error: redact(callErrorText(error), secrets),
            });
          });
          commandsRegistered = true;
        }
        if (isStopping()) break;
        await bot.start({
          allowed_updates: ["message", "callback_query"],
          timeout: pollTimeoutSeconds,
          onStart: (me) => {
            polling = true;
            delayMs = retryInitialMs;
            logger.info("Telegram bot polling", { bot_username: me.username, admin_chats: admins.size });
            health?.report(BOT_HEALTH_COMPONENT, { state: "up", detail: "polling" });
          },
        });
        polling = false;
      } catch (error) {
        polling = false;
        if (isStopping()) break;
        const detail = redact(callErrorText(error), secrets);
        logger.warn("Telegram bot cannot poll; retrying in the background", {
          error: detail,
          retry_in_ms: delayMs,
        });
        health?.report(BOT_HEALTH_COMPONENT, {
          state: "degraded",
          detail: `cannot reach Telegram: ${detail}`,
        });
        await sleep(delayMs);
        delayMs = Math.min(retryMaxMs, delayMs * 2);
      }
    }
  }

  const within = (promise: Promise<unknown>, ms: number) =>
    Promise.race([
      promise.then(
        () => undefined,
        () => undefined,
      ),
      new Promise<void>((resolve) => clock.setTimeout(resolve, ms)),
    ]);

  return {
    start() {
      if (started || stopping) return;
      started = true;
      // Background loop: run() catches everything; a Telegram outage never reaches the caller.
      loop = run();
    },
    get polling() {
      return polling;
    },
    shutdown() {
      stopped ??= (async () => {
        stopping = true;
        abort.abort();
        if (retryTimer) clock.clearTimeout(retryTimer);
        wakeRetry?.();
        if (bot.isRunning()) await within(bot.stop(), 3_000);
        if (loop) await within(loop, 3_000);
        polling = false;
        health?.report(BOT_HEALTH_COMPONENT, { state: "down", detail: "stopped" });
      })();
      return stopped;
    },
  };
}

/**
 * What a failed Bot API call says. grammY's own HttpError says only "Network request for
 * 'getMe' failed!"; the transport's error it wraps (ours, from `createFetch`) names the
 * redacted URL, the reason and the fix, so it is added.
 */
function callErrorText(error: unknown): string {
  const inner = (error as { error?: unknown } | undefined)?.error;
  return inner instanceof HttpError ? `${describeError(error)} (${inner.message})` : describeError(error);
}
