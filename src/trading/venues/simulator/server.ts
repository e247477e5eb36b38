import { once } from "node:events";
import type { Server, IncomingMessage } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import express, { type NextFunction, type Request, type Response } from "express";
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
  private readonly app = express();
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
  private readonly held = new Set<Response>();
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
    this.routes();
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
    const server = this.app.listen(this.options.port ?? 0, this.options.host ?? "127.0.0.1");
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

  /** Outage, rate limit, latency and error injection, in that order, before every REST call. */
  private readonly faults = (req: Request, res: Response, next: NextFunction): void => {
    this.counters.requests++;
    if (this.inOutage()) {
      this.counters.heldDuringOutage++;
      this.held.add(res);
      res.on("close", () => this.held.delete(res));
      return;
    }
    const now = this.clock.now();
    const sentAt = Number(req.header("x-sent-at"));
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
      next();
    };
    if (delay >= 0.5) setTimeout(proceed, delay).unref();
    else proceed();
  };

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

  private routes(): void {
    const app = this.app;
    app.disable("x-powered-by");
    app.use(express.json());
    const api = express.Router();
    api.use(this.faults);
    api.get("/ticker", (req, res) => {
      const ticker = this.market.ticker(queryText(req.query.symbol));
      if (!ticker) {
        sendError(res, 404, unknownSymbol(req.query.symbol));
        return;
      }
      res.json(ticker);
    });
    api.get("/depth", (req, res) => {
      const book = this.market.book(queryText(req.query.symbol));
      if (!book) {
        sendError(res, 404, unknownSymbol(req.query.symbol));
        return;
      }
      res.json(book);
    });
    api.get("/balances", (_req, res) => {
      res.json(this.engine.balanceSheet());
    });
    api.get("/orders", (req, res) => {
      const symbol = typeof req.query.symbol === "string" ? req.query.symbol : undefined;
      res.json(this.engine.openOrders(symbol));
    });
    api.post("/orders", (req, res) => {
      const body = req.body as PlaceOrderRequest;
      this.handle(res, () => {
        if (this.random.next() < this.rejectRate) {
          throw new ExchangeRejection("REJECTED", "order rejected by the exchange (simulated)");
        }
        const { order, fills } = this.engine.place(
          body,
          this.market.ticker(queryText((body as Partial<PlaceOrderRequest> | undefined)?.symbol)),
          this.clock.now(),
        );
        for (const fill of fills) this.publishFill(fill);
        return order;
      });
    });
    api.get("/orders/:id", (req, res) => this.handle(res, () => this.engine.get(req.params.id)));
    api.delete("/orders/:id", (req, res) => this.handle(res, () => this.engine.cancel(req.params.id)));
    app.use("/api/v1", api);

    const control = express.Router();
    control.get("/stats", (_req, res) => res.json(this.stats()));
    control.post("/outage", (req, res) => {
      const { active, durationMs } = req.body as { active?: boolean; durationMs?: number };
      if (active === false) this.endOutage();
      else this.startOutage(durationMs);
      res.json(this.stats());
    });
    control.post("/storm", (req, res) => {
      const body = req.body as {
        active?: boolean;
        burstMs?: number;
        periodMs?: number;
        retryAfterSeconds?: number;
      };
      if (body.active === false) this.endRateLimitStorm();
      else {
        this.startRateLimitStorm({
          burstMs: body.burstMs ?? 1_500,
          periodMs: body.periodMs ?? 4_000,
          retryAfterSeconds: body.retryAfterSeconds ?? 1,
        });
      }
      res.json(this.stats());
    });
    control.post("/regime", (req, res) => {
      const { regime } = req.body as { regime?: string };
      if (regime !== "calm" && regime !== "volatile") {
        sendError(res, 400, { code: "INVALID", message: "regime must be calm or volatile" });
        return;
      }
      this.setRegime(regime);
      res.json(this.stats());
    });
    control.post("/crash", (req, res) => {
      const { pct, durationMs } = req.body as { pct?: number; durationMs?: number };
      this.crash(pct ?? -25, durationMs ?? 4_000);
      res.json(this.stats());
    });
    control.post("/reject-rate", (req, res) => {
      this.setRejectRate(Number((req.body as { rate?: unknown }).rate ?? 0));
      res.json(this.stats());
    });
    app.use("/control", control);
  }

  private handle(res: Response, fn: () => Order): void {
    try {
      const order = fn();
      res.json(order);
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

function queryText(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function unknownSymbol(symbol: unknown): ErrorBody {
  return { code: "UNKNOWN_SYMBOL", message: `unknown symbol ${queryText(symbol)}` };
}

function sendError(res: Response, status: number, body: ErrorBody): void {
  res.status(status).json(body);
}
