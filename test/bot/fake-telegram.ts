import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/**
 * A fake Telegram Bot API on 127.0.0.1 (real HTTP), strict like the real one where it matters:
 * the token in the path, `getUpdates` long polling with `offset`/`timeout`, `sendMessage` and
 * `editMessageText` with HTML parse mode checked (unsupported tags, unescaped `<`/`&`,
 * unbalanced tags -> 400 "can't parse entities"), the 4096-character limit, editing only
 * messages the bot sent, answering only known callback queries, once. Switches: `down` (every
 * call fails with 502), `failNext(method)`.
 */

export interface RecordedRequest {
  method: string;
  body: Record<string, unknown>;
  /** HTTP status of the answer, once sent. */
  status?: number;
  /** `description` of an error answer. */
  error?: string;
}

interface StoredMessage {
  message_id: number;
  chat: { id: number; type: string };
  date: number;
  text: string;
  html: string;
  reply_markup?: unknown;
  from?: unknown;
}

const BOT_USER = { id: 777000111, is_bot: true, first_name: "ticktrace", username: "ticktrace_test_bot" };
const ALLOWED_TAGS = new Set([
  "b",
  "strong",
  "i",
  "em",
  "u",
  "ins",
  "s",
  "strike",
  "del",
  "a",
  "code",
  "pre",
  "blockquote",
  "tg-spoiler",
  "span",
]);

/** Checks Telegram-HTML the way the Bot API does; returns the error text or undefined. Also gives the plain text. */
export function parseTelegramHtml(html: string): { error?: string; text: string } {
  const stack: string[] = [];
  let text = "";
  let i = 0;
  while (i < html.length) {
    const ch = html[i]!;
    if (ch === "<") {
      const end = html.indexOf(">", i);
      if (end === -1) return { error: `Unclosed start tag at byte offset ${i}`, text };
      const raw = html.slice(i + 1, end);
      const closing = raw.startsWith("/");
      const name = (closing ? raw.slice(1) : raw).split(/\s/)[0]!.toLowerCase();
      if (!ALLOWED_TAGS.has(name))
        return { error: `Unsupported start tag "${name}" at byte offset ${i}`, text };
      if (closing) {
        if (stack.pop() !== name)
          return {
            error: `Unmatched end tag at byte offset ${i}, expected "</${stack.at(-1) ?? ""}>"`,
            text,
          };
      } else stack.push(name);
      i = end + 1;
    } else if (ch === "&") {
      const match = /^&(lt|gt|amp|quot|#\d+|#x[0-9a-f]+);/i.exec(html.slice(i));
      if (!match) return { error: `Character entity expected at byte offset ${i}`, text };
      const entity = match[1]!.toLowerCase();
      text +=
        entity === "lt"
          ? "<"
          : entity === "gt"
            ? ">"
            : entity === "amp"
              ? "&"
              : entity === "quot"
                ? '"'
                : String.fromCodePoint(
                    entity.startsWith("#x") ? parseInt(entity.slice(2), 16) : Number(entity.slice(1)),
                  );
      i += match[0].length;
    } else if (ch === ">") {
      return { error: `Unexpected end tag at byte offset ${i}`, text };
    } else {
      text += ch;
      i += 1;
    }
  }
  if (stack.length > 0)
    return { error: `Can't find end tag corresponding to start tag "${stack.at(-1)!}"`, text };
  return { text };
}

export interface FakeTelegram {
  url: string;
  token: string;
  requests: RecordedRequest[];
  /** Every call fails with 502 while true. */
  down: boolean;
  /** The next call of `method` fails with this error. */
  failNext(method: string, errorCode: number, description: string): void;
  /** Queues a text message from a user in a chat (a `/command` gets its bot_command entity). */
  sendText(chatId: number, text: string, from?: { id: number; username?: string }): number;
  /** Queues a button press on a message the bot sent. Returns the callback query id. */
  pressButton(
    chatId: number,
    messageId: number,
    data: string,
    from?: { id: number; username?: string },
  ): string;
  /** Queues an update exactly as given (its `update_id` is assigned); for malformed and unusual updates. */
  pushUpdate(update: Record<string, unknown>): number;
  /** Adds a message as if the bot had sent it (an alert from the alert channel). */
  seedBotMessage(chatId: number, html: string, replyMarkup?: unknown): number;
  /** Resolves with the first request (from `fromIndex`) matching; rejects after `timeoutMs`. */
  waitFor(
    method: string,
    predicate?: (body: Record<string, unknown>) => boolean,
    timeoutMs?: number,
    fromIndex?: number,
  ): Promise<RecordedRequest>;
  /** Calls the fake answered with an error (besides switches): what the bot got wrong. */
  rejected(): RecordedRequest[];
  /** Requests of one method. */
  calls(method: string): Record<string, unknown>[];
  message(chatId: number, messageId: number): StoredMessage | undefined;
  close(): Promise<void>;
}

export async function startFakeTelegram(token = "123456:TEST-token_abc"): Promise<FakeTelegram> {
  const updates: Record<string, unknown>[] = [];
  let nextUpdateId = 1;
  let nextMessageId = 100;
  let nextCallbackId = 1;
  const messages = new Map<string, StoredMessage>();
  const openCallbacks = new Set<string>();
  const failures = new Map<string, { error_code: number; description: string }>();
  const pollers = new Set<() => void>();
  const waiters = new Set<() => void>();
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();

  const wakePollers = () => {
    for (const wake of [...pollers]) wake();
  };
  const notify = () => {
    for (const waiter of [...waiters]) waiter();
  };

  const fake: FakeTelegram = {
    url: "",
    token,
    requests,
    down: false,
    failNext(method, errorCode, description) {
      failures.set(method, { error_code: errorCode, description });
    },
    sendText(chatId, text, from = { id: chatId }) {
      const command = /^\/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?/.exec(text);
      const update = {
        update_id: nextUpdateId++,
        message: {
          message_id: nextMessageId++,
          from: {
            id: from.id,
            is_bot: false,
            first_name: "Op",
            ...(from.username ? { username: from.username } : {}),
          },
          chat: { id: chatId, type: chatId < 0 ? "group" : "private" },
          date: Math.floor(Date.now() / 1000),
          text,
          ...(command ? { entities: [{ type: "bot_command", offset: 0, length: command[0].length }] } : {}),
        },
      };
      updates.push(update);
      wakePollers();
      return update.update_id;
    },
    pressButton(chatId, messageId, data, from = { id: chatId }) {
      const stored = messages.get(`${chatId}:${messageId}`);
      const id = String(9_000_000 + nextCallbackId++);
      openCallbacks.add(id);
      const message = stored
        ? {
            message_id: stored.message_id,
            chat: stored.chat,
            date: stored.date,
            text: stored.text,
            from: BOT_USER,
            ...(stored.reply_markup ? { reply_markup: stored.reply_markup } : {}),
          }
        : { message_id: messageId, chat: { id: chatId, type: "private" }, date: 0 };
      updates.push({
        update_id: nextUpdateId++,
        callback_query: {
          id,
          from: {
            id: from.id,
            is_bot: false,
            first_name: "Op",
            ...(from.username ? { username: from.username } : {}),
          },
          message,
          chat_instance: `ci-${chatId}`,
          data,
        },
      });
      wakePollers();
      return id;
    },
    pushUpdate(update) {
      const updateId = nextUpdateId++;
      updates.push({ ...update, update_id: updateId });
      wakePollers();
      return updateId;
    },
    seedBotMessage(chatId, html, replyMarkup) {
      const parsed = parseTelegramHtml(html);
      if (parsed.error) throw new Error(parsed.error);
      const stored: StoredMessage = {
        message_id: nextMessageId++,
        chat: { id: chatId, type: chatId < 0 ? "group" : "private" },
        date: Math.floor(Date.now() / 1000),
        text: parsed.text,
        html,
        ...(replyMarkup ? { reply_markup: replyMarkup } : {}),
      };
      messages.set(`${chatId}:${stored.message_id}`, stored);
      return stored.message_id;
    },
    waitFor(method, predicate = () => true, timeoutMs = 5_000, fromIndex = 0) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = requests.slice(fromIndex).find((r) => r.method === method && predicate(r.body));
          if (!found) return false;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(found);
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `fake Telegram: no ${method} request matched within ${timeoutMs} ms; got ${JSON.stringify(requests.map((r) => r.method))}`,
            ),
          );
        }, timeoutMs);
        if (!check()) waiters.add(check);
      });
    },
    rejected: () => requests.filter((r) => r.status !== undefined && r.status >= 400 && r.status !== 502),
    calls: (method) => requests.filter((r) => r.method === method).map((r) => r.body),
    message: (chatId, messageId) => messages.get(`${chatId}:${messageId}`),
    close: () =>
      new Promise<void>((resolve) => {
        wakePollers();
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };

  const badRequest = (description: string) => ({
    status: 400,
    body: { ok: false, error_code: 400, description: `Bad Request: ${description}` },
  });
  const ok = (result: unknown) => ({ status: 200, body: { ok: true, result } });

  const asMessage = (stored: StoredMessage) => ({
    message_id: stored.message_id,
    from: BOT_USER,
    chat: stored.chat,
    date: stored.date,
    text: stored.text,
  });

  const checkText = (
    body: Record<string, unknown>,
  ): { error?: ReturnType<typeof badRequest>; text?: string } => {
    if (typeof body.text !== "string" || body.text.length === 0)
      return { error: badRequest("message text is empty") };
    if (body.parse_mode !== "HTML")
      return { error: badRequest(`expected parse_mode HTML, got ${String(body.parse_mode)}`) };
    const parsed = parseTelegramHtml(body.text);
    if (parsed.error) return { error: badRequest(`can't parse entities: ${parsed.error}`) };
    if (parsed.text.length > 4096 || body.text.length > 4096)
      return { error: badRequest("message is too long") };
    if (parsed.text.trim() === "") return { error: badRequest("message text is empty") };
    return { text: parsed.text };
  };

  const checkMarkup = (markup: unknown): string | undefined => {
    if (markup === undefined) return undefined;
    const rows = (markup as { inline_keyboard?: unknown }).inline_keyboard;
    if (!Array.isArray(rows)) return "reply_markup must have inline_keyboard";
    for (const row of rows as unknown[]) {
      if (!Array.isArray(row)) return "inline_keyboard rows must be arrays";
      for (const button of row as { text?: unknown; callback_data?: unknown }[]) {
        if (typeof button.text !== "string" || button.text === "") return "button text is empty";
        if (typeof button.callback_data !== "string" || Buffer.byteLength(button.callback_data) > 64)
          return "BUTTON_DATA_INVALID";
      }
    }
    return undefined;
  };

  async function handle(
    method: string,
    body: Record<string, unknown>,
    signalClosed: () => boolean,
  ): Promise<{ status: number; body: unknown }> {
    switch (method) {
      case "getMe":
        return ok(BOT_USER);
      case "deleteWebhook":
      case "setMyCommands":
        return ok(true);
      case "getUpdates": {
        const offset = typeof body.offset === "number" ? body.offset : 0;
        const timeoutS = typeof body.timeout === "number" ? body.timeout : 0;
        // Confirm everything before offset, as Telegram does.
        while (updates.length > 0 && (updates[0]!.update_id as number) < offset) updates.shift();
        const limit = typeof body.limit === "number" ? body.limit : 100;
        if (updates.length === 0 && timeoutS > 0) {
          await new Promise<void>((resolve) => {
            const wake = () => {
              pollers.delete(wake);
              clearTimeout(timer);
              resolve();
            };
            const timer = setTimeout(wake, timeoutS * 1000);
            pollers.add(wake);
          });
        }
        if (signalClosed()) return ok([]);
        return ok(updates.slice(0, limit));
      }
      case "sendMessage": {
        const chatId = Number(body.chat_id);
        if (!Number.isFinite(chatId)) return badRequest("chat not found");
        const checked = checkText(body);
        if (checked.error) return checked.error;
        const markupError = checkMarkup(body.reply_markup);
        if (markupError) return badRequest(markupError);
        const stored: StoredMessage = {
          message_id: nextMessageId++,
          chat: { id: chatId, type: chatId < 0 ? "group" : "private" },
          date: Math.floor(Date.now() / 1000),
          text: checked.text!,
          html: body.text as string,
          ...(body.reply_markup ? { reply_markup: body.reply_markup } : {}),
        };
        messages.set(`${chatId}:${stored.message_id}`, stored);
        return ok(asMessage(stored));
      }
      case "editMessageText": {
        const key = `${Number(body.chat_id)}:${Number(body.message_id)}`;
        const stored = messages.get(key);
        if (!stored) return badRequest("message to edit not found");
        const checked = checkText(body);
        if (checked.error) return checked.error;
        const markupError = checkMarkup(body.reply_markup);
        if (markupError) return badRequest(markupError);
        if (
          stored.html === body.text &&
          JSON.stringify(stored.reply_markup) === JSON.stringify(body.reply_markup)
        ) {
          return badRequest(
            "message is not modified: specified new message content and reply markup are exactly the same",
          );
        }
        stored.html = body.text as string;
        stored.text = checked.text!;
        if (body.reply_markup) stored.reply_markup = body.reply_markup;
        else delete stored.reply_markup;
        return ok(asMessage(stored));
      }
      case "answerCallbackQuery": {
        const id = String(body.callback_query_id);
        if (!openCallbacks.delete(id))
          return badRequest("query is too old and response timeout expired or query ID is invalid");
        if (typeof body.text === "string" && body.text.length > 200) return badRequest("text is too long");
        return ok(true);
      }
      default:
        return { status: 404, body: { ok: false, error_code: 404, description: "Not Found" } };
    }
  }

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    let closed = false;
    res.on("close", () => (closed = true));
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const state: { recorded?: RecordedRequest } = {};
      const reply = (status: number, body: unknown) => {
        const recorded = state.recorded;
        if (recorded) {
          recorded.status = status;
          const description = (body as { description?: unknown }).description;
          if (typeof description === "string") recorded.error = description;
        }
        if (closed) return;
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      };
      const match = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(req.url ?? "");
      if (!match || req.method !== "POST") {
        reply(404, { ok: false, error_code: 404, description: "Not Found" });
        return;
      }
      if (match[1] !== token) {
        reply(401, { ok: false, error_code: 401, description: "Unauthorized" });
        return;
      }
      const method = match[2]!;
      let body: Record<string, unknown> = {};
      try {
        const raw = Buffer.concat(chunks).toString("utf8");
        if (raw !== "") body = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        reply(400, { ok: false, error_code: 400, description: "Bad Request: invalid JSON" });
        return;
      }
      if (req.headers["content-type"] !== "application/json" && Object.keys(body).length > 0) {
        reply(400, { ok: false, error_code: 400, description: "Bad Request: expected JSON" });
        return;
      }
      const recorded: RecordedRequest = { method, body };
      state.recorded = recorded;
      requests.push(recorded);
      notify();
      if (fake.down) {
        reply(502, { ok: false, error_code: 502, description: "Bad Gateway" });
        return;
      }
      const failure = failures.get(method);
      if (failure) {
        failures.delete(method);
        reply(failure.error_code, { ok: false, ...failure });
        return;
      }
      void handle(method, body, () => closed).then((result) => reply(result.status, result.body));
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}
