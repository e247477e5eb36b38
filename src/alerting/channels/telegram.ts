import { z } from "zod";
import { TicktraceError } from "../../errors.js";
import { splitMessage } from "../../format/telegram-html.js";
import type { GrafanaLinkOptions } from "../../format/trace-link.js";
import { telegramBlocks } from "../format.js";
import type { Alert, AlertChannel, AlertLevel, DeliveryContext } from "../../alert-model/types.js";
import { httpRequest, rejection, type HttpRequest } from "../../http/client.js";

export interface TelegramChannelOptions {
  /** `alerts.telegram.bot_token`; never logged. */
  botToken: string;
  /** `alerts.telegram.chat_id`. */
  chatId: string;
  /** `alerts.telegram.api_url` (default `https://api.telegram.org`). */
  apiUrl?: string;
  /** `alerts.telegram.min_level` (default WARNING). */
  minLevel?: AlertLevel;
  /** `alerts.telegram.timeout_ms`: per-attempt timeout (default 5000). */
  timeoutMs?: number;
  /** `grafana.*`: adds a trace link when the alert has a trace id. */
  grafana?: GrafanaLinkOptions;
  /** Show the "Acknowledge" button (callback data `ack:<alert id>`) on firing alerts (default true). */
  acknowledgeButton?: boolean;
}

/** The error answer of the Bot API, as far as we use it; anything else in the body is ignored. */
const telegramAnswerSchema = z.object({
  description: z.string().optional().catch(undefined),
  parameters: z
    .object({ retry_after: z.number().nonnegative().optional().catch(undefined) })
    .optional()
    .catch(undefined),
});
type TelegramAnswer = z.infer<typeof telegramAnswerSchema>;

/**
 * Telegram: Bot API `sendMessage` to `<api_url>/bot<token>/sendMessage`, HTML parse mode (text
 * escaped: `&`, `<`, `>`), split under 4096 characters, a Grafana trace link when configured,
 * and an inline "Acknowledge" button whose callback data is `ack:<alert id>` (the Telegram bot
 * answers it). A 429 answer's `parameters.retry_after` is honoured by the manager. A message
 * split in several parts is retried whole, so a retry may repeat an earlier part.
 */
export function createTelegramChannel(options: TelegramChannelOptions): AlertChannel {
  if (options.botToken.trim() === "") {
    throw new TicktraceError(
      "CONFIG_INVALID",
      "alerts.telegram.bot_token is required for the Telegram channel",
    );
  }
  if (options.chatId.trim() === "") {
    throw new TicktraceError(
      "CONFIG_INVALID",
      "alerts.telegram.chat_id is required for the Telegram channel",
    );
  }
  const base = (options.apiUrl ?? "https://api.telegram.org").replace(/\/+$/, "");
  const url = `${base}/bot${options.botToken}/sendMessage`;
  const button = options.acknowledgeButton ?? true;
  return {
    name: "telegram",
    kind: "page",
    minLevel: options.minLevel ?? "WARNING",
    timeoutMs: options.timeoutMs ?? 5000,
    secrets: [options.botToken],
    async send(alert: Alert, signal: AbortSignal, context?: DeliveryContext): Promise<void> {
      const messages = splitMessage(telegramBlocks(alert, context, options.grafana));
      const event = context?.event ?? "firing";
      const ackable = button && alert.status === "firing" && !alert.acknowledged && event !== "summary";
      for (let i = 0; i < messages.length; i++) {
        const last = i === messages.length - 1;
        const body = {
          chat_id: options.chatId,
          text: messages[i],
          parse_mode: "HTML",
          link_preview_options: { is_disabled: true },
          ...(last && ackable
            ? {
                reply_markup: {
                  inline_keyboard: [[{ text: "Acknowledge", callback_data: `ack:${alert.id}` }]],
                },
              }
            : {}),
        };
        const request: HttpRequest = {
          operation: "Telegram sendMessage",
          url,
          json: body,
          signal,
          secrets: [options.botToken],
          fix: "check alerts.telegram.api_url and the network",
        };
        const answer = await httpRequest(request);
        if (answer.ok) continue;
        let parsed: TelegramAnswer = {};
        try {
          parsed = telegramAnswerSchema.catch({}).parse(JSON.parse(answer.body));
        } catch {
          // not JSON (a proxy's error page): fall back to the raw text below
        }
        throw rejection(
          answer,
          request,
          parsed.description ?? answer.body,
          parsed.parameters?.retry_after ?? answer.retryAfterSeconds,
        );
      }
    },
  };
}
