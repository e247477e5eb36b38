import { z } from "zod";
import { section } from "./common.js";

export const botSection = section({
  /** Telegram command bot; unset means "on whenever Telegram alerts are on". */
  enabled: z.boolean().optional(),
  /** Chats allowed to use the bot; defaults to `alerts.telegram.chat_id`. */
  admin_chat_ids: z.array(z.string().min(1)).default([]),
  /** When set, only these Telegram user ids get answers (in addition to the chat check). */
  admin_user_ids: z.array(z.string().min(1)).default([]),
  /** Long-polling timeout for `getUpdates`, seconds. */
  poll_timeout_seconds: z.int().min(0).max(50).default(25),
});
