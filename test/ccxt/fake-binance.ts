import { createHmac } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";

/** The credentials the fake accepts; a test greps every output for them. */
export const API_KEY = "fakeApiKey7f3c9a1e2b4d6f8a0c2e4b6d8f0a2c4e";
export const API_SECRET = "fakeSecret1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d";

/** What one REST request does instead of answering normally. */
export type Behaviour =
  | { kind: "status"; status: number; body?: unknown; retryAfter?: string }
  | { kind: "delay"; ms: number };

/** A request the fake received, as it arrived. */
export interface ReceivedRequest {
  method: string;
  path: string;
  query: string;
  body: string;
  apiKey: string | undefined;
  signatureValid: boolean | undefined;
}

const NOW = () => Date.now();

const EXCHANGE_INFO = {
  timezone: "UTC",
  serverTime: 0,
  rateLimits: [{ rateLimitType: "REQUEST_WEIGHT", interval: "MINUTE", intervalNum: 1, limit: 6000 }],
  exchangeFilters: [],
  symbols: [
    {
      symbol: "BTCUSDT",
      status: "TRADING",
      baseAsset: "BTC",
      baseAssetPrecision: 8,
      quoteAsset: "USDT",
      quotePrecision: 8,
      quoteAssetPrecision: 8,
      baseCommissionPrecision: 8,
      quoteCommissionPrecision: 8,
      orderTypes: ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
      icebergAllowed: true,
      ocoAllowed: true,
      quoteOrderQtyMarketAllowed: true,
      allowTrailingStop: true,
      cancelReplaceAllowed: true,
      isSpotTradingAllowed: true,
      isMarginTradingAllowed: false,
      filters: [
        {
          filterType: "PRICE_FILTER",
          minPrice: "0.01000000",
          maxPrice: "1000000.00000000",
          tickSize: "0.01000000",
        },
        { filterType: "LOT_SIZE", minQty: "0.00001000", maxQty: "9000.00000000", stepSize: "0.00001000" },
        { filterType: "NOTIONAL", minNotional: "5.00000000", maxNotional: "9000000.00000000" },
      ],
      permissions: [],
      permissionSets: [["SPOT"]],
      defaultSelfTradePreventionMode: "EXPIRE_MAKER",
      allowedSelfTradePreventionModes: ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    },
  ],
};

function ticker() {
  const now = NOW();
  return {
    symbol: "BTCUSDT",
    priceChange: "100.00",
    priceChangePercent: "0.25",
    weightedAvgPrice: "40000.00",
    prevClosePrice: "39900.00",
    lastPrice: "40000.00",
    lastQty: "0.01",
    bidPrice: "39999.99",
    bidQty: "1.5",
    askPrice: "40000.01",
    askQty: "2.0",
    openPrice: "39900.00",
    highPrice: "40500.00",
    lowPrice: "39500.00",
    volume: "1234.5",
    quoteVolume: "49380000.0",
    openTime: now - 86_400_000,
    closeTime: now,
    firstId: 1,
    lastId: 1000,
    count: 1000,
  };
}

/**
 * A stand-in for Binance spot on 127.0.0.1: the REST endpoints ccxt's `binance` calls for
 * markets, ticker, order book, orders and balance (`/api/v3/exchangeInfo`, `ticker/24hr`,
 * `depth`, signed `order` and `account`), and the market-data websocket (`SUBSCRIBE` to
 * `<symbol>@miniTicker` / `@ticker`). Signed requests are checked: the `X-MBX-APIKEY` header and
 * the HMAC-SHA256 `signature` of the query or body. Switches: {@link next} queues behaviours for
 * a path; {@link rejectOrders} makes `POST /api/v3/order` answer Binance's filter failure;
 * {@link wsSilent} keeps the socket open but stops sending; {@link dropSockets} closes them.
 */
export class FakeBinance {
  readonly requests: ReceivedRequest[] = [];
  /** Subscribe requests received on the websocket. */
  readonly subscriptions: string[][] = [];
  rejectOrders = false;
  wsSilent = false;
  /** Websocket ticks every this many ms. */
  wsIntervalMs = 50;
  private readonly queued = new Map<string, Behaviour[]>();
  private server: Server | undefined;
  private wss: WebSocketServer | undefined;
  private readonly sockets = new Set<WebSocket>();
  private timer: NodeJS.Timeout | undefined;
  baseUrl = "";
  wsUrl = "";

  /** The next requests to `path` (e.g. `/api/v3/ticker/24hr`) get these behaviours, in order. */
  next(path: string, ...behaviours: Behaviour[]): void {
    this.queued.set(path, [...(this.queued.get(path) ?? []), ...behaviours]);
  }

  /** Requests to `path`. */
  hits(path: string): ReceivedRequest[] {
    return this.requests.filter((r) => r.path === path);
  }

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => void this.handle(request, response, Buffer.concat(chunks).toString("utf8")));
    });
    this.wss = new WebSocketServer({ server: this.server });
    this.wss.on("connection", (socket) => this.onSocket(socket));
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    const port = (this.server.address() as AddressInfo).port;
    this.baseUrl = `http://127.0.0.1:${port}`;
    this.wsUrl = `ws://127.0.0.1:${port}/ws`;
    this.timer = setInterval(() => this.tick(), this.wsIntervalMs);
  }

  /** ccxt `binance` / `ccxt.pro.binance` options pointing at this fake (the supported `urls` override). */
  exchangeOptions(extra: Record<string, unknown> = {}): Record<string, unknown> {
    const api = `${this.baseUrl}/api/v3`;
    return {
      apiKey: API_KEY,
      secret: API_SECRET,
      enableRateLimit: true,
      timeout: 1000,
      urls: {
        api: {
          public: api,
          private: api,
          v1: `${this.baseUrl}/api/v1`,
          sapi: `${this.baseUrl}/sapi/v1`,
          ws: { spot: this.wsUrl, margin: this.wsUrl },
        },
      },
      options: {
        defaultType: "spot",
        fetchMarkets: { types: ["spot"] },
        fetchCurrencies: false,
        ws: { backoff: { base: 50, max: 200 } },
      },
      ...extra,
    };
  }

  /** Closes every websocket (the exchange dropped the connection). */
  dropSockets(): void {
    for (const socket of this.sockets) socket.terminate();
    this.sockets.clear();
  }

  get openSockets(): number {
    return this.sockets.size;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.dropSockets();
    this.wss?.close();
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private verify(payload: string): boolean | undefined {
    const match = /(?:^|&)signature=([0-9a-f]+)$/.exec(payload);
    if (!match) return undefined;
    const signed = payload.slice(0, match.index);
    return createHmac("sha256", API_SECRET).update(signed).digest("hex") === match[1];
  }

  private async handle(request: IncomingMessage, response: ServerResponse, body: string): Promise<void> {
    const url = new URL(request.url ?? "/", this.baseUrl);
    const query = url.search.slice(1);
    const apiKey = request.headers["x-mbx-apikey"] as string | undefined;
    const signed = this.verify(query) ?? this.verify(body);
    const received: ReceivedRequest = {
      method: request.method ?? "GET",
      path: url.pathname,
      query,
      body,
      apiKey,
      signatureValid: signed,
    };
    this.requests.push(received);
    const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      response.writeHead(status, { "content-type": "application/json", ...headers });
      response.end(JSON.stringify(payload));
    };
    const behaviour = this.queued.get(url.pathname)?.shift();
    if (behaviour?.kind === "delay") await new Promise((resolve) => setTimeout(resolve, behaviour.ms));
    if (response.destroyed) return;
    if (behaviour?.kind === "status") {
      send(
        behaviour.status,
        behaviour.body ?? { code: -1003, msg: "Too much request weight used." },
        behaviour.retryAfter ? { "retry-after": behaviour.retryAfter } : {},
      );
      return;
    }
    const privatePaths = new Set(["/api/v3/order", "/api/v3/account", "/api/v3/openOrders"]);
    if (privatePaths.has(url.pathname)) {
      if (apiKey !== API_KEY) {
        send(401, { code: -2015, msg: "Invalid API-key, IP, or permissions for action." });
        return;
      }
      if (signed !== true) {
        send(400, { code: -1022, msg: "Signature for this request is not valid." });
        return;
      }
    }
    const params = new URLSearchParams(request.method === "POST" ? body : query);
    switch (`${String(request.method)} ${url.pathname}`) {
      case "GET /api/v3/exchangeInfo":
        send(200, { ...EXCHANGE_INFO, serverTime: NOW() });
        return;
      case "GET /sapi/v1/margin/allPairs":
      case "GET /sapi/v1/margin/isolated/allPairs":
        send(200, []);
        return;
      case "GET /api/v3/time":
        send(200, { serverTime: NOW() });
        return;
      case "GET /api/v3/ticker/24hr":
        send(200, ticker());
        return;
      case "GET /api/v3/depth":
        send(200, {
          lastUpdateId: 1027024,
          bids: [
            ["39999.99", "1.5"],
            ["39999.00", "3.0"],
          ],
          asks: [
            ["40000.01", "2.0"],
            ["40001.00", "4.0"],
          ],
        });
        return;
      case "GET /api/v3/account":
        send(200, {
          makerCommission: 10,
          takerCommission: 10,
          canTrade: true,
          canWithdraw: true,
          canDeposit: true,
          updateTime: NOW(),
          accountType: "SPOT",
          balances: [
            { asset: "BTC", free: "1.00000000", locked: "0.00000000" },
            { asset: "USDT", free: "10000.00000000", locked: "0.00000000" },
          ],
          permissions: ["SPOT"],
        });
        return;
      case "POST /api/v3/order": {
        if (this.rejectOrders) {
          send(400, { code: -1013, msg: "Filter failure: LOT_SIZE" });
          return;
        }
        const now = NOW();
        send(200, {
          symbol: params.get("symbol"),
          orderId: 28 + this.hits("/api/v3/order").length,
          orderListId: -1,
          clientOrderId: params.get("newClientOrderId") ?? "x",
          transactTime: now,
          price: params.get("price") ?? "0",
          origQty: params.get("quantity") ?? "0",
          executedQty: "0.00000000",
          cummulativeQuoteQty: "0.00000000",
          status: "NEW",
          timeInForce: params.get("timeInForce") ?? "GTC",
          type: params.get("type"),
          side: params.get("side"),
          workingTime: now,
          fills: [],
          selfTradePreventionMode: "EXPIRE_MAKER",
        });
        return;
      }
      default:
        send(404, { code: -1100, msg: `no such endpoint ${String(request.method)} ${url.pathname}` });
        return;
    }
  }

  private onSocket(socket: WebSocket): void {
    this.sockets.add(socket);
    const streams = new Set<string>();
    (socket as WebSocket & { streams?: Set<string> }).streams = streams;
    socket.on("message", (data) => {
      let message: { method?: string; params?: string[]; id?: number };
      try {
        message = JSON.parse(Buffer.isBuffer(data) ? data.toString("utf8") : "") as typeof message;
      } catch {
        return;
      }
      if (message.method === "SUBSCRIBE" && Array.isArray(message.params)) {
        this.subscriptions.push(message.params);
        for (const stream of message.params) streams.add(stream);
        socket.send(JSON.stringify({ result: null, id: message.id }));
      }
    });
    socket.on("close", () => this.sockets.delete(socket));
  }

  private tick(): void {
    if (this.wsSilent) return;
    const now = NOW();
    for (const socket of this.sockets) {
      const streams = (socket as WebSocket & { streams?: Set<string> }).streams ?? new Set();
      for (const stream of streams) {
        const [symbol, channel] = stream.split("@");
        if (channel !== "miniTicker" && channel !== "ticker") continue;
        // the event time lags the send by 5 ms, so the lag histogram has something to show
        socket.send(
          JSON.stringify({
            e: channel === "ticker" ? "24hrTicker" : "24hrMiniTicker",
            E: now - 5,
            s: (symbol ?? "").toUpperCase(),
            c: "40000.00",
            o: "39900.00",
            h: "40500.00",
            l: "39500.00",
            v: "1234.5",
            q: "49380000.0",
          }),
        );
      }
    }
  }
}
