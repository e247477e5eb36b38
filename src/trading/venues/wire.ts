/**
 * The wire format of the simulated exchange (REST bodies and stream messages), shared by the
 * simulator and the exchange client. Shaped like a typical spot exchange API.
 */

/** Order side. */
export type Side = "buy" | "sell";
/** Where an order stands on the exchange. */
export type OrderStatus = "open" | "partially_filled" | "filled" | "cancelled";

/** The best bid and ask of one symbol: one entry of a market-data update. */
export interface Ticker {
  /** `BASE/QUOTE`, e.g. `BTC/USDT`. */
  symbol: string;
  /** Best bid price. */
  bid: number;
  /** Best ask price. */
  ask: number;
  /** Last trade price. */
  last: number;
  /** Exchange time, epoch milliseconds. */
  ts: number;
}

export interface BookLevel {
  price: number;
  quantity: number;
}

export interface OrderBook {
  /** `BASE/QUOTE`, e.g. `BTC/USDT`. */
  symbol: string;
  bids: BookLevel[];
  asks: BookLevel[];
  ts: number;
}

/** One execution of (part of) an order. */
export interface Fill {
  /** Unique per fill: a fill seen twice (stream and REST) is applied once. */
  fillId: string;
  /** The order it filled. */
  orderId: string;
  /** `BASE/QUOTE`, e.g. `BTC/USDT`. */
  symbol: string;
  /** `buy` or `sell`. */
  side: Side;
  /** Execution price. */
  price: number;
  /** Base quantity filled. */
  quantity: number;
  /** Fee in the quote asset. */
  fee: number;
  /** Exchange time, epoch milliseconds. */
  ts: number;
}

/** An order as the exchange reports it. */
export interface Order {
  /** The exchange's id of the order. */
  orderId: string;
  /** The id the placement carried, if any. */
  clientOrderId?: string;
  /** `BASE/QUOTE`, e.g. `BTC/USDT`. */
  symbol: string;
  /** `buy` or `sell`. */
  side: Side;
  /** Only limit orders. */
  type: "limit";
  /** Limit price. */
  price: number;
  /** Base quantity ordered. */
  quantity: number;
  /** Base quantity filled so far. */
  filled: number;
  /** Where the order stands. */
  status: OrderStatus;
  /** Exchange time of the placement, epoch milliseconds. */
  createdAt: number;
  /** The fills so far. */
  fills: Fill[];
}

/** A limit order to place. */
export interface PlaceOrderRequest {
  /** `BASE/QUOTE`, e.g. `BTC/USDT`. */
  symbol: string;
  /** `buy` or `sell`. */
  side: Side;
  /** Only limit orders. */
  type: "limit";
  /** Limit price. */
  price: number;
  /** Base quantity. */
  quantity: number;
  /** Your id of the order, echoed on the {@link Order}. */
  clientOrderId?: string;
}

/** Error body of a non-2xx answer. */
export interface ErrorBody {
  code: string;
  message: string;
}

/** Messages on the market-data stream (`/stream`). */
export type StreamMessage =
  | { type: "tickers"; seq: number; tickers: Ticker[] }
  | { type: "fill"; fill: Fill; order: Omit<Order, "fills"> };
