import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";
import { systemClock, type Clock } from "../../../clock.js";
import type { ErrorBody, Fill, Order, PlaceOrderRequest, StreamMessage } from "../wire.js";
import { Market, type Regime } from "./market.js";
import { ExchangeRejection, MatchingEngine } from "./matching.js";
import { createRandom, logNormalSampler, type Random } from "./random.js";

export interface SimulatorOptions {
  symbols: readonly string[];
  /** Seed of the random walk, fills and faults; the same seed replays the same market. */
  seed: number;
  /** 0 picks a free port. */
  port?: number;
  host?: string;
  /** Market-data update interval (the stream's pace). */
  tickIntervalMs: number;
  volatilityBps: number;
  /** Mean reach of the taker flow beyond the touch per update, bps (fills resting quotes). Default 3. */
  flowExcursionBps?: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** Share of REST calls answered 500. */
  errorRate: number;
  /** Requests per second accepted before 429. */
  rateLimitPerSecond: number;
  feeRate: number;
  startingQuote: number;
  clock?: Clock;
}

/** Counters the simulator keeps about how it was used; `GET /control/stats`. */
export interface SimulatorStats {
  requests: number;
  rateLimited: number;
  /** Requests that arrived while the client had been told to wait (retry-after not honoured). */
  retryAfterViolations: number;
  serverErrors: number;
  rejected: number;
  heldDuringOutage: number;
  fills: number;
  streamClients: number;
  outage: boolean;
  regime: Regime;
}

interface StormSettings {
  burstMs: number;
  periodMs: number;
  retryAfterSeconds: number;
  startedMs: number;
}

/**
 * Requests sent this soon after a 429 was issued are not counted as retry-after violations: the
 * client had most likely not read the 429 yet (the answer was still on its way).
 */
const RETRY_AFTER_GRACE_MS = 100;
/** Closed orders are forgotten after this long. */
const ORDER_RETENTION_MS = 10 * 60_000;

/**
 * The exchange simulator: a real HTTP service (REST of a spot exchange) with a market-data
 * stream over WebSocket at `/stream`, and fault switches (latency, errors, rate limits,
 * rejections, outages, volatility regimes, crashes) that scenarios drive through its methods
 * or through the HTTP control API under `/control`.
 */
export class ExchangeSimulator {
  private readonly market: Market;
  private readonly engine: MatchingEngine;
  private readonly options: SimulatorOptions;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly latency: () => number;
  private readonly wss = new WebSocketServer({ noServer: true });
  private server: Server | undefined;
  private marketTimer: NodeJS.Timeout | undefined;
  private seq = 0;
  private windowStartMs = 0;
  private windowCount = 0;
  private blockedUntilMs = 0;
  private blockIssuedMs = 0;
  private storm: StormSettings | undefined;
  private outageUntilMs: number | undefined;
  private outageTimer: NodeJS.Timeout | undefined;
  private readonly held = new Set<ServerResponse>();
  private readonly sockets = new Set<Socket>();
  private rejectRate = 0;
  private errorRate: number;
  private stopped = false;
  private readonly counters = {
    requests: 0,
    rateLimited: 0,
    retryAfterViolations: 0,
    serverErrors: 0,
    rejected: 0,
    heldDuringOutage: 0,
    fills: 0,
  };

  constructor(options: SimulatorOptions) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.random = createRandom(options.seed);
    this.errorRate = options.errorRate;
    this.market = new Market({
      symbols: options.symbols,
      random: this.random,
      volatilityBps: options.volatilityBps,
    });
    this.engine = new MatchingEngine({
      symbols: options.symbols,
      random: this.random,
      feeRate: options.feeRate,
      startingQuote: options.startingQuote,
    });
    // Faults draw from their own stream so that request timing does not change the market path.
    this.latency = logNormalSampler(
      createRandom(options.seed + 1),
      options.latencyP50Ms,
      options.latencyP99Ms,
    );
    this.market.step(this.clock.now());
  }

  /** Base URL once started, e.g. `http://127.0.0.1:41234`. */
  get url(): string {
    const address = this.server?.address() as AddressInfo | null | undefined;
    if (!address) throw new Error("the simulator is not listening; call start() first");
    return `http://127.0.0.1:${address.port}`;
  }

  get streamUrl(): string {
    return `${this.url.replace(/^http/, "ws")}/stream`;
  }

  async start(): Promise<void> {
    if (this.server) return;
    const server = createServer((req, res) => this.onRequest(req, res));
    server.listen(this.options.port ?? 0, this.options.host ?? "127.0.0.1");
    this.server = server;
    server.on("connection", (socket: Socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
    server.on("upgrade", (request: IncomingMessage, socket: Socket, head: Buffer) => {
      if (this.inOutage() || !request.url?.startsWith("/stream")) {
        socket.destroy();
        return;
      }
      this.wss.handleUpgrade(request, socket, head, (ws) => this.onStreamClient(ws));
    });
    await once(server, "listening");
    this.marketTimer = setInterval(() => this.step(), this.options.tickIntervalMs);
    this.marketTimer.unref();
  }

  /** Idempotent: stops the market, drops stream clients and closes the server. */
  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.marketTimer) clearInterval(this.marketTimer);
    if (this.outageTimer) clearTimeout(this.outageTimer);
    for (const ws of this.wss.clients) ws.terminate();
    this.releaseHeld();
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const socket of this.sockets) socket.destroy();
    });
  }

  // --- fault switches (also under /control) ---

  /** Stops answering REST and drops the stream for `durationMs` (or until {@link ExchangeSimulator.endOutage}). */
  startOutage(durationMs?: number): void {
    this.outageUntilMs = durationMs === undefined ? Infinity : this.clock.now() + durationMs;
    for (const ws of this.wss.clients) ws.terminate();
    if (this.outageTimer) clearTimeout(this.outageTimer);
    if (durationMs !== undefined) {
      this.outageTimer = setTimeout(() => this.endOutage(), durationMs);
      this.outageTimer.unref();
    }
  }

  /** Ends an outage now: REST answers again and the stream accepts clients. */
  endOutage(): void {
    this.outageUntilMs = undefined;
    if (this.outageTimer) clearTimeout(this.outageTimer);
    this.outageTimer = undefined;
    // Requests held during the outage never get an answer: their connections are reset.
    this.releaseHeld();
  }

  /** Periodic bursts of 429s: every `periodMs`, `burstMs` of answering 429 with `retryAfterSeconds`. */
  startRateLimitStorm(settings: { burstMs: number; periodMs: number; retryAfterSeconds: number }): void {
    this.storm = { ...settings, startedMs: this.clock.now() };
  }

  endRateLimitStorm(): void {
    this.storm = undefined;
  }

  /** The simulated market's regime: `volatile` moves prices and widens spreads about five times as much as `calm`. */
  setRegime(regime: Regime): void {
    this.market.regime = regime;
  }

  /** A fast move of every symbol by `pct` percent over `durationMs`. */
  crash(pct: number, durationMs: number): void {
    this.market.drift(pct, Math.ceil(durationMs / this.options.tickIntervalMs));
  }

  /** Moves one symbol at once (sweeps resting orders on the next update). */
  jump(symbol: string, pct: number): void {
    this.market.jump(symbol, pct);
  }

  /** Share of order placements refused with `REJECTED`. */
  setRejectRate(rate: number): void {
    this.rejectRate = rate;
  }

  setErrorRate(rate: number): void {
    this.errorRate = rate;
  }

  /** The simulated mid price of `symbol` now; undefined for a symbol it does not list. */
  mid(symbol: string): number | undefined {
    return this.market.mid(symbol);
  }

  /** What the simulator counted since it started. */
  stats(): SimulatorStats {
    return {
      ...this.counters,
      streamClients: this.wss.clients.size,
      outage: this.inOutage(),
      regime: this.market.regime,
    };
  }

  // --- internals ---

  private inOutage(): boolean {
    return this.outageUntilMs !== undefined && this.clock.now() < this.outageUntilMs;
  }

  private releaseHeld(): void {
    for (const res of this.held) res.socket?.destroy();
    this.held.clear();
  }

  private step(): void {
    const now = this.clock.now();
    const tickers = this.market.step(now);
    const flow = (this.options.flowExcursionBps ?? 3) * (this.market.regime === "volatile" ? 3 : 1);
    const fills = this.engine.match(tickers, now, flow);
    if (this.seq % 600 === 0) this.engine.prune(now, ORDER_RETENTION_MS);
    if (this.inOutage()) return;
    this.broadcast({ type: "tickers", seq: ++this.seq, tickers });
    for (const fill of fills) this.publishFill(fill);
  }

  private publishFill(fill: Fill): void {
    this.counters.fills++;
    const { fills: _fills, ...order } = this.engine.get(fill.orderId);
    this.broadcast({ type: "fill", fill, order });
  }

  private broadcast(message: StreamMessage): void {
    if (this.wss.clients.size === 0) return;
    const text = JSON.stringify(message);
    for (const ws of this.wss.clients) if (ws.readyState === ws.OPEN) ws.send(text);
  }

  private onStreamClient(ws: WebSocket): void {
    ws.on("error", () => ws.terminate());
    ws.send(
      JSON.stringify({
        type: "tickers",
        seq: ++this.seq,
        tickers: this.market.tickers(),
      } satisfies StreamMessage),
    );
  }

  /** Reads the body (JSON when sent as such) and routes: `/api/v1/*` behind the faults, `/control/*` without. */
  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("error", () => res.destroy());
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://simulator");
      let body: unknown;
      if (chunks.length > 0 && (req.headers["content-type"] ?? "").startsWith("application/json")) {
        try {
          body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        } catch {
          sendError(res, 400, { code: "INVALID_JSON", message: "the request body is not valid JSON" });
          return;
        }
      }
      const request: SimRequest = {
        method: req.method ?? "GET",
        path: url.pathname,
        query: url.searchParams,
        body,
        sentAtMs: Number(req.headers["x-sent-at"]),
      };
      try {
        if (url.pathname.startsWith("/api/v1/")) this.faults(request, res, () => this.api(request, res));
        else if (url.pathname.startsWith("/control/")) this.control(request, res);
        else sendError(res, 404, notFound(request));
      } catch (error) {
        sendError(res, 500, { code: "INTERNAL", message: error instanceof Error ? error.message : "failed" });
      }
    });
  }

  /** Outage, rate limit, latency and error injection, in that order, before every REST call. */
  private faults(req: SimRequest, res: ServerResponse, next: () => void): void {
    this.counters.requests++;
    if (this.inOutage()) {
      this.counters.heldDuringOutage++;
      this.held.add(res);
      res.on("close", () => this.held.delete(res));
      return;
    }
    const now = this.clock.now();
    const sentAt = req.sentAtMs;
    const retryAfter = this.rateLimit(now, Number.isFinite(sentAt) && sentAt > 0 ? sentAt : now);
    if (retryAfter !== undefined) {
      this.counters.rateLimited++;
      res.setHeader("retry-after", String(retryAfter));
      sendError(res, 429, {
        code: "RATE_LIMITED",
        message: `rate limit exceeded, retry after ${retryAfter}s`,
      });
      return;
    }
    const delay = this.latency();
    const proceed = () => {
      if (this.random.next() < this.errorRate) {
        this.counters.serverErrors++;
        sendError(res, 500, { code: "INTERNAL", message: "simulated internal error" });
        return;
      }
      try {
        next();
      } catch (error) {
        sendError(res, 500, { code: "INTERNAL", message: error instanceof Error ? error.message : "failed" });
      }
    };
    if (delay >= 0.5) setTimeout(proceed, delay).unref();
    else proceed();
  }

  /**
   * Seconds to wait when this request must be refused with 429, else undefined. `sentAtMs` is
   * the client's own send time (header `x-sent-at`, like a signed API's timestamp), so a slow
   * server loop does not count a request sent before the 429 as a violation.
   */
  private rateLimit(now: number, sentAtMs: number): number | undefined {
    if (now < this.blockedUntilMs) {
      if (sentAtMs > this.blockIssuedMs + RETRY_AFTER_GRACE_MS) this.counters.retryAfterViolations++;
      return Math.max(1, Math.ceil((this.blockedUntilMs - now) / 1000));
    }
    const storm = this.storm;
    if (storm && (now - storm.startedMs) % storm.periodMs < storm.burstMs) {
      return this.block(now, storm.retryAfterSeconds);
    }
    if (now - this.windowStartMs >= 1000) {
      this.windowStartMs = now;
      this.windowCount = 0;
    }
    if (++this.windowCount > this.options.rateLimitPerSecond) {
      return this.block(now, Math.max(1, Math.ceil((this.windowStartMs + 1000 - now) / 1000)));
    }
    return undefined;
  }

  private block(now: number, seconds: number): number {
    this.blockedUntilMs = now + seconds * 1000;
    this.blockIssuedMs = now;
    return seconds;
  }

  /** The exchange's REST API under `/api/v1`. */
  private api(req: SimRequest, res: ServerResponse): void {
    const path = req.path.slice("/api/v1".length);
    const symbol = req.query.get("symbol") ?? undefined;
    const route = `${req.method} ${path}`;
    switch (route) {
      case "GET /ticker": {
        const ticker = this.market.ticker(symbol ?? "");
        if (ticker) sendJson(res, 200, ticker);
        else sendError(res, 404, unknownSymbol(symbol));
        return;
      }
      case "GET /depth": {
        const book = this.market.book(symbol ?? "");
        if (book) sendJson(res, 200, book);
        else sendError(res, 404, unknownSymbol(symbol));
        return;
      }
      case "GET /balances":
        sendJson(res, 200, this.engine.balanceSheet());
        return;
      case "GET /orders":
        sendJson(res, 200, this.engine.openOrders(symbol));
        return;
      case "POST /orders": {
        const body = req.body;
        this.handle(res, () => {
          if (typeof body !== "object" || body === null) {
            throw new ExchangeRejection("INVALID_ORDER", "the order body must be a JSON object");
          }
          if (this.random.next() < this.rejectRate) {
            throw new ExchangeRejection("REJECTED", "order rejected by the exchange (simulated)");
          }
          // Its fields are checked by the matching engine, which says which one is wrong.
          const request = body as PlaceOrderRequest;
          const { order, fills } = this.engine.place(
            request,
            this.market.ticker(typeof request.symbol === "string" ? request.symbol : ""),
            this.clock.now(),
          );
          for (const fill of fills) this.publishFill(fill);
          return order;
        });
        return;
      }
      default:
        break;
    }
    const id = /^\/orders\/([^/]+)$/.exec(path)?.[1];
    if (id !== undefined && (req.method === "GET" || req.method === "DELETE")) {
      const orderId = decodeURIComponent(id);
      this.handle(res, () => (req.method === "GET" ? this.engine.get(orderId) : this.engine.cancel(orderId)));
      return;
    }
    sendError(res, 404, notFound(req));
  }

  /** The fault switches over HTTP, under `/control`. */
  private control(req: SimRequest, res: ServerResponse): void {
    const body = (typeof req.body === "object" && req.body !== null ? req.body : {}) as Record<
      string,
      unknown
    >;
    const number = (key: string): number | undefined =>
      typeof body[key] === "number" ? body[key] : undefined;
    switch (`${req.method} ${req.path}`) {
      case "GET /control/stats":
        break;
      case "POST /control/outage":
        if (body.active === false) this.endOutage();
        else this.startOutage(number("durationMs"));
        break;
      case "POST /control/storm":
        if (body.active === false) this.endRateLimitStorm();
        else {
          this.startRateLimitStorm({
            burstMs: number("burstMs") ?? 1_500,
            periodMs: number("periodMs") ?? 4_000,
            retryAfterSeconds: number("retryAfterSeconds") ?? 1,
          });
        }
        break;
      case "POST /control/regime": {
        const regime = body.regime;
        if (regime !== "calm" && regime !== "volatile") {
          sendError(res, 400, { code: "INVALID", message: "regime must be calm or volatile" });
          return;
        }
        this.setRegime(regime);
        break;
      }
      case "POST /control/crash":
        this.crash(number("pct") ?? -25, number("durationMs") ?? 4_000);
        break;
      case "POST /control/reject-rate":
        this.setRejectRate(Number(body.rate ?? 0));
        break;
      default:
        sendError(res, 404, notFound(req));
        return;
    }
    sendJson(res, 200, this.stats());
  }

  private handle(res: ServerResponse, fn: () => Order): void {
    try {
      const order = fn();
      sendJson(res, 200, order);
    } catch (error) {
      if (error instanceof ExchangeRejection) {
        this.counters.rejected++;
        sendError(res, error.status, { code: error.code, message: error.message });
        return;
      }
      throw error;
    }
  }
}

/** A REST request as the routes read it. */
interface SimRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  /** Parsed JSON, when the request sent JSON. */
  body: unknown;
  /** `x-sent-at`: when the client sent it (NaN when absent). */
  sentAtMs: number;
}

function unknownSymbol(symbol: string | undefined): ErrorBody {
  return { code: "UNKNOWN_SYMBOL", message: `unknown symbol ${symbol ?? ""}` };
}

function notFound(req: SimRequest): ErrorBody {
  return { code: "NOT_FOUND", message: `no route ${req.method} ${req.path}` };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(text),
  });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, body: ErrorBody): void {
  sendJson(res, status, body);
}
