import { z } from "zod";
import type { StreamMessage } from "./wire.js";

/**
 * The market-data stream's messages as they may arrive from the exchange: checked before the
 * strategy or the position manager sees them, so a malformed message is dropped (and logged)
 * instead of putting `NaN` into a quote or a position.
 */
const side = z.enum(["buy", "sell"]);
const finite = z.number().refine(Number.isFinite, "expected a finite number");
const ticker = z.object({ symbol: z.string(), bid: finite, ask: finite, last: finite, ts: finite });
const fill = z.object({
  fillId: z.string(),
  orderId: z.string(),
  symbol: z.string(),
  side,
  price: finite,
  quantity: finite,
  fee: finite,
  ts: finite,
});
const order = z.object({
  orderId: z.string(),
  clientOrderId: z.string().optional(),
  symbol: z.string(),
  side,
  type: z.literal("limit"),
  price: finite,
  quantity: finite,
  filled: finite,
  status: z.enum(["open", "partially_filled", "filled", "cancelled"]),
  createdAt: finite,
});
const streamMessageSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("tickers"), seq: finite, tickers: z.array(ticker) }),
  z.object({ type: z.literal("fill"), fill, order }),
]);

/** Parses one stream message; undefined for anything that is not JSON of a known message (never throws). */
export function parseStreamMessage(text: string): StreamMessage | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = streamMessageSchema.safeParse(raw);
  // zod types an optional key as `?: T | undefined`; the schema only lets a present key through with its type.
  return parsed.success ? (parsed.data as StreamMessage) : undefined;
}
