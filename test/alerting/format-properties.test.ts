/**
 * Property-based tests of alert formatting: random titles, messages, labels and fields with
 * HTML entities, emoji and lengths around Telegram's 4096-character limit. Every Telegram message
 * must be valid Telegram HTML within the limit, with nothing lost; every Slack payload within
 * Slack's limits.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SLACK_MAX_TEXT_CHARS, slackPayload, telegramBlocks } from "../../src/alerting/format.js";
import { splitMessage, TELEGRAM_MAX_MESSAGE_CHARS } from "../../src/format/telegram-html.js";
import type { Alert } from "../../src/alert-model/types.js";
import { parseTelegramHtml } from "../bot/fake-telegram.js";

const SEED = 20_261_201;

/** Text with what breaks HTML and counting: markup, entities, emoji (surrogate pairs, ZWJ), newlines. */
const nastyText = (maxLength: number) =>
  fc.oneof(
    fc.string({ unit: "grapheme", maxLength }),
    fc
      .array(
        fc.constantFrom(
          "<b>",
          "</b>",
          "&",
          "&amp;",
          "&lt;",
          "<",
          ">",
          '"',
          "🚀",
          "👨‍👩‍👧",
          "🇩🇪",
          "\n",
          "\n\n",
          "é",
          "a",
          " ",
          "x".repeat(50),
        ),
        { maxLength: Math.ceil(maxLength / 4) },
      )
      .map((parts) => parts.join("")),
  );

/** Lengths around the limit: just under, at, just over, and several times it. */
const longText = fc
  .tuple(
    fc.constantFrom(4000, 4090, 4096, 4097, 4100, 8192, 12_000),
    fc.constantFrom("x", "&", "<", "🚀", "a\n", "é"),
  )
  .map(([length, unit]) => unit.repeat(Math.ceil(length / unit.length)));

interface AlertInput {
  title: string;
  message: string;
  labels: Record<string, string>;
  fields: Record<string, string | number | boolean>;
  level: Alert["level"];
  status: Alert["status"];
  event: "firing" | "repeat" | "escalated" | "resolved" | "summary";
}

const alertArb: fc.Arbitrary<AlertInput> = fc.record({
  title: fc.oneof(nastyText(200), longText),
  message: fc.oneof(nastyText(500), longText),
  labels: fc.dictionary(nastyText(20), nastyText(60), { maxKeys: 4 }),
  fields: fc.dictionary(nastyText(20), fc.oneof(nastyText(300), fc.double(), fc.boolean(), longText), {
    maxKeys: 6,
  }),
  level: fc.constantFrom("INFO", "WARNING", "ERROR", "CRITICAL" as const),
  status: fc.constantFrom("firing", "resolved" as const),
  event: fc.constantFrom("firing", "repeat", "escalated", "resolved", "summary" as const),
});

function alertOf(input: AlertInput): Alert {
  return {
    id: "a1b2c3-1",
    fingerprint: "rule|{}",
    rule: "exchange_disconnected",
    level: input.level,
    title: input.title,
    message: input.message,
    timestamp: "2026-01-01T00:00:00.000Z",
    labels: input.labels,
    fields: input.fields,
    status: input.status,
    acknowledged: false,
    traceId: "0af7651916cd43dd8448eb211c80319c",
  };
}

/** A UTF-16 string with a lone surrogate cannot be sent as UTF-8: half an emoji. */
const hasLoneSurrogate = (text: string) =>
  /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);

describe("Telegram formatting: random alerts", () => {
  it("every message is valid Telegram HTML of at most 4096 characters, whole emoji, and the text is kept whole", () => {
    fc.assert(
      fc.property(alertArb, (input) => {
        const blocks = telegramBlocks(alertOf(input), { event: input.event, attempt: 1 } as never, {
          url: "https://grafana.example.com",
        });
        const messages = splitMessage(blocks);
        expect(messages.length).toBeGreaterThan(0);
        for (const message of messages) {
          expect(message.length).toBeLessThanOrEqual(TELEGRAM_MAX_MESSAGE_CHARS);
          expect(message.trim()).not.toBe("");
          expect(parseTelegramHtml(message).error, message.slice(0, 300)).toBeUndefined();
          expect(hasLoneSurrogate(message)).toBe(false);
        }
        // Nothing lost: the plain text of the messages is that of the blocks, but for newlines.
        const plain = (html: string) => parseTelegramHtml(html).text.replace(/\n/g, "");
        expect(messages.map(plain).join("")).toBe(blocks.map(plain).join(""));
      }),
      { numRuns: 300, seed: SEED },
    );
  });
});

describe("Slack formatting: random alerts", () => {
  it("stays within Slack's limits (text 40,000 characters, fields) and says when it cut", () => {
    fc.assert(
      fc.property(alertArb, fc.constantFrom(0, 1, 45_000), (input, extra) => {
        const alert = alertOf({ ...input, message: input.message + "m".repeat(extra) });
        const payload = slackPayload(alert, { event: input.event, attempt: 1 } as never) as {
          text: string;
          attachments: {
            title: string;
            text: string;
            fields: { title: string; value: string }[];
            footer: string;
          }[];
        };
        // What goes over the wire is valid JSON that round-trips.
        expect(JSON.parse(JSON.stringify(payload))).toEqual(payload);
        expect(payload.text.length).toBeLessThanOrEqual(SLACK_MAX_TEXT_CHARS);
        const attachment = payload.attachments[0]!;
        expect(attachment.text.length).toBeLessThanOrEqual(SLACK_MAX_TEXT_CHARS);
        expect(hasLoneSurrogate(attachment.text)).toBe(false);
        if (alert.message.length > SLACK_MAX_TEXT_CHARS)
          expect(attachment.text).toMatch(/… \(\d+ characters, cut\)$/);
        else expect(attachment.text).toBe(alert.message);
      }),
      { numRuns: 200, seed: SEED },
    );
  });
});
