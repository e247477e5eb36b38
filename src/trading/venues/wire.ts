/**
 * The wire format of the simulated exchange (REST bodies and stream messages), shared by the
 * simulator and the exchange client. Shaped like a typical spot exchange API.
 */

export type Side = "buy" | "sell";
export type OrderStatus = "open" | "partially_filled" | "filled" | "cancelled";

export interface Ticker {
  symbol: string;
  bid: number;
  ask: number;
  last: number;
  /** Exchange time, epoch milliseconds. */
  ts: number;
}

export interface BookLevel {
  price: number;
  quantity: number;
}

export interface OrderBook {
  symbol: string;
  bids: BookLevel[];
  asks: BookLevel[];
  ts: number;
}

export interface Fill {
  fillId: string;
  orderId: string;
  symbol: string;
  side: Side;
  price: number;
  quantity: number;
  /** Fee in the quote asset. */
  fee: number;
  ts: number;
}

export interface Order {
  orderId: string;
  clientOrderId?: string;
  symbol: string;
  side: Side;
  type: "limit";
  price: number;
  quantity: number;
  filled: number;
  status: OrderStatus;
  createdAt: number;
  fills: Fill[];
}

export interface PlaceOrderRequest {
  symbol: string;
  side: Side;
  type: "limit";
  price: number;
  quantity: number;
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
