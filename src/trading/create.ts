/**
 * The one way to build the reference trading loop around a strategy: {@link createTrader} wires
 * the orchestrator, order executor, position book, risk check and venue to a runtime's metrics,
 * tick tracer, health registry, event hub and logger. The reference process (`npm start`) builds
 * its market maker's loop with it too, so a user's bot records exactly what the demo records.
 */
import { isSpanContextValid } from "@opentelemetry/api";
import { systemClock, type Clock } from "../clock.js";
import { TicktraceError } from "../errors.js";
import { HotPathRecorder } from "../telemetry/hot-path.js";
import { tickTracingOf, type Runtime } from "../runtime/runtime.js";
import { OrderExecutor } from "./execution/order-executor.js";
import { Orchestrator, type StrategyState, type TickListener } from "./orchestrator.js";
import { PositionManager } from "./portfolio/position-manager.js";
import { RiskMonitor } from "./risk/risk-monitor.js";
import type { Position, PositionBook, RiskCheck, Strategy, Venue } from "./types.js";
import type * as ExchangeClientModule from "./venues/exchange-client.js";
import type { ExchangeClient } from "./venues/exchange-client.js";
import type { Fill, Ticker } from "./venues/wire.js";
import { startWorker, type Worker } from "./workers.js";

/**
 * An exchange that speaks the simulator's API (REST plus a WebSocket stream), reached through the
 * reference exchange client: it feeds the market data and the fills to the trader itself.
 */
export interface ExchangeConnection {
  /** REST base URL, e.g. `simulator.url`. */
  url: string;
  /** Market-data stream URL, e.g. `simulator.streamUrl`. */
  streamUrl: string;
  /** Client-side request limit, kept under the exchange's own. Default 40 per second. */
  rateLimitPerSecond?: number;
  /** Timeout of one REST call; a timeout counts as a failed call. Default 2000 ms. */
  requestTimeoutMs?: number;
  /** Stream reconnect backoff: the first wait, doubled per attempt. Default 250 ms. */
  reconnectInitialMs?: number;
  /** The longest wait between stream reconnect attempts. Default 5000 ms. */
  reconnectMaxMs?: number;
}

/**
 * The reference risk check's limits (the `trading.risk` keys of the reference process). Orders
 * past a limit are refused (`trading_risk_rejections_total`); the daily loss limit trips the
 * circuit breaker, which cancels every order and stops quoting.
 */
export interface RiskLimits {
  /** The circuit breaker trips when the day's loss reaches this (quote currency). */
  dailyLossLimit: number;
  /** Largest absolute position per symbol, in quote currency. */
  maxPositionNotional: number;
  /** Largest gross exposure as a ratio of equity. */
  maxExposureRatio: number;
  /** Orders beyond this per second are refused (`order_rate`). */
  maxOrdersPerSecond: number;
}

/** Options of {@link createTrader}. */
export interface TraderOptions {
  /**
   * The runtime the loop records into (`getRuntime()`, or `await startRuntime(config)`): its
   * metrics, tick tracer, health registry, event hub and logger. The trader's `shutdown` runs
   * at the runtime's shutdown.
   */
  runtime: Runtime;
  /** Your strategy: called once per symbol on every tick. */
  strategy: Strategy;
  /** Exchange name on metrics (`exchange` label) and spans (`exchange.name`). */
  exchange: string;
  /** The symbols to trade, e.g. `["BTC/USDT"]`; also the bounded set of `symbol` label values. */
  symbols: readonly string[];
  /** Equity at the start, in quote currency: the base of the day's PnL and of the exposure ratio. */
  startingEquity: number;
  /**
   * Where orders go: an {@link ExchangeConnection} (the reference exchange client, which feeds
   * market data and fills itself), or your own {@link Venue} (then hand market data to
   * {@link Trader.onMarketData} and fills to {@link Trader.onFill}).
   */
  venue: ExchangeConnection | Venue;
  /** Pre-trade risk: the reference risk check with these limits, or your own {@link RiskCheck}. */
  risk: RiskLimits | RiskCheck;
  /** Positions and PnL; the reference position book when left out. */
  positions?: PositionBook;
  /** A resting quote is replaced only when the wanted price moved more than this. Default 4 bps. */
  requoteThresholdBps?: number;
  /** How long a strategy that threw stays faulted before it is tried again. Default 5000 ms. */
  panicCooldownMs?: number;
  /**
   * How often the position monitor records positions, PnL, portfolio value and exposure
   * (`trading_position_size`, `trading_pnl_*`, `trading_portfolio_value_usd`, ...) and re-runs the
   * risk check's evaluation. Default 1000 ms.
   */
  positionMonitorIntervalMs?: number;
  /**
   * How often reconciliation compares our resting orders with the venue's open orders (orders
   * the venue closed are fetched, fills applied; orphans cancelled). Default 5000 ms.
   */
  reconciliationIntervalMs?: number;
  /** Called after every tick, off the tick-to-trade path. */
  onTick?: TickListener;
  /** Time source; the system clock when left out. */
  clock?: Clock;
}

/**
 * The reference trading loop around your strategy. Each market-data update is one tick and one
 * trace (`tick` with `market_data`, `decide`, `risk_check`, `place_order`, `ack`); orders, fills,
 * positions, PnL, risk refusals and tick-to-trade latency go to the runtime's metrics, the
 * strategy's state to `/health` (group `strategies`).
 */
export interface Trader {
  /** `running`, `faulted` (the strategy threw; retried after the cool-down) or `stopped`. */
  readonly strategyState: StrategyState;
  /** Ticks run so far. */
  readonly ticks: number;
  /** Wall-clock time of the last tick (epoch ms), undefined before the first. */
  readonly lastTickAt: number | undefined;
  /** The position book the loop marks on every tick and the executor updates on every fill. */
  readonly positions: PositionBook;
  /**
   * Starts trading: connects the exchange stream (with an {@link ExchangeConnection}), the
   * folding of tick-path metrics and the two workers (position monitor, reconciliation; health
   * group `workers`). Idempotent.
   */
  start(): void;
  /**
   * With your own {@link Venue}: one market-data update (the latest ticker per symbol). Runs a
   * tick, or the next one when a tick is in flight (updates in between are coalesced).
   */
  onMarketData(tickers: readonly Ticker[]): void;
  /** With your own {@link Venue}: a fill of one of the trader's orders (applied once per `fillId`). */
  onFill(fill: Fill): void;
  /** Stops ticking, cancels resting orders, closes the exchange stream. Idempotent. */
  shutdown(): Promise<void>;
}

const DEFAULTS = {
  requoteThresholdBps: 4,
  panicCooldownMs: 5_000,
  rateLimitPerSecond: 40,
  requestTimeoutMs: 2_000,
  reconnectInitialMs: 250,
  reconnectMaxMs: 5_000,
  positionMonitorIntervalMs: 1_000,
  reconciliationIntervalMs: 5_000,
  /** How often tick-path latencies and counts are folded into the instruments. */
  hotPathFlushMs: 1_000,
};

/** `got` is shown as written: pass it through `JSON.stringify` or `String`. */
function invalid(option: string, expected: string, got: string): TicktraceError {
  return new TicktraceError(
    "INVALID_ARGUMENT",
    `createTrader: options.${option} must be ${expected} (got ${got})`,
  );
}

function validate(options: TraderOptions): void {
  if (options.symbols.length === 0) throw invalid("symbols", "at least one symbol like BTC/USDT", "[]");
  if (!(options.startingEquity > 0))
    throw invalid("startingEquity", "a positive number", String(options.startingEquity));
  if (options.exchange === "") throw invalid("exchange", "a non-empty name", '""');
  if (options.requoteThresholdBps !== undefined && !(options.requoteThresholdBps >= 0))
    throw invalid("requoteThresholdBps", "0 or more", String(options.requoteThresholdBps));
  for (const key of ["panicCooldownMs", "positionMonitorIntervalMs", "reconciliationIntervalMs"] as const) {
    const value = options[key];
    if (value !== undefined && !(value > 0))
      throw invalid(key, "a positive number of milliseconds", String(value));
  }
}

/** Unrealized PnL of one position at its mark (0 while flat or before the first mark). */
function unrealized(position: Position): number {
  if (position.quantity === 0 || Number.isNaN(position.mark)) return 0;
  return position.quantity * (position.mark - position.averagePrice);
}

/**
 * @internal Loads the reference exchange client. It is `require`d when a trader needs it, not when
 * `ticktrace` is imported: its HTTP and WebSocket libraries cost about 100 ms of start-up to a bot
 * that never uses it. Tests that run the sources (where `require` cannot load TypeScript) pass the
 * class they imported.
 */
export type ExchangeClientLoader = () => typeof ExchangeClientModule.ExchangeClient;

const requireExchangeClient: ExchangeClientLoader = () =>
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use, see ExchangeClientLoader
  (require("./venues/exchange-client.js") as typeof ExchangeClientModule).ExchangeClient;

/**
 * @internal The trader with its reference parts in reach, for the reference process (its workers,
 * snapshot and summary read them). Users get it as a {@link Trader}.
 */
export class ReferenceTrader implements Trader {
  readonly orchestrator: Orchestrator;
  readonly executor: OrderExecutor;
  readonly positions: PositionBook;
  readonly risk: RiskCheck;
  /** The reference risk check, when built from {@link RiskLimits}. */
  readonly riskMonitor: RiskMonitor | undefined;
  /** The reference exchange client, when the venue is an {@link ExchangeConnection}. */
  readonly client: ExchangeClient | undefined;
  readonly hotPath: HotPathRecorder;
  /** The position monitor and reconciliation, once started. */
  readonly workers: Worker[] = [];
  private readonly options: TraderOptions;
  private readonly runtime: Runtime;
  private readonly clock: Clock;
  private started = false;
  private stopping: Promise<void> | undefined;

  constructor(options: TraderOptions, loadExchangeClient: ExchangeClientLoader = requireExchangeClient) {
    validate(options);
    const { runtime, exchange, symbols } = options;
    const { metrics, health, events, logger, tracer } = runtime;
    const clock = options.clock ?? systemClock;
    this.options = options;
    this.runtime = runtime;
    this.clock = clock;
    this.positions =
      options.positions ?? new PositionManager({ symbols, startingEquity: options.startingEquity, clock });
    const risk = options.risk;
    if ("check" in risk) {
      this.risk = risk;
      this.riskMonitor = undefined;
    } else {
      this.riskMonitor = new RiskMonitor({
        limits: { startingEquity: options.startingEquity, ...risk },
        strategy: options.strategy.id,
        metrics,
        events,
        health,
        logger,
        clock,
      });
      this.risk = this.riskMonitor;
    }
    this.hotPath = new HotPathRecorder({ flushIntervalMillis: DEFAULTS.hotPathFlushMs });
    const venue = options.venue;
    let target: Venue;
    if ("placeOrder" in venue) {
      target = venue;
      this.client = undefined;
    } else {
      // The client's callbacks fire only once `start()` opened the stream, after the executor
      // and orchestrator below exist.
      const Client = loadExchangeClient();
      this.client = new Client({
        exchange,
        baseUrl: venue.url,
        streamUrl: venue.streamUrl,
        rateLimitPerSecond: venue.rateLimitPerSecond ?? DEFAULTS.rateLimitPerSecond,
        requestTimeoutMs: venue.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs,
        reconnectInitialMs: venue.reconnectInitialMs ?? DEFAULTS.reconnectInitialMs,
        reconnectMaxMs: venue.reconnectMaxMs ?? DEFAULTS.reconnectMaxMs,
        metrics,
        health,
        events,
        logger,
        clock,
        onMarketData: (tickers, receivedAtMs) => {
          this.orchestrator.onMarketData(tickers, receivedAtMs);
        },
        onFill: (fill, order) => {
          this.executor.onFill(fill, order);
        },
      });
      target = this.client;
    }
    this.executor = new OrderExecutor({
      exchange,
      venue: target,
      positions: this.positions,
      metrics,
      events,
      logger,
      clock,
      hotPath: this.hotPath,
      onFillApplied: () => {
        this.evaluateRisk("fill");
      },
    });
    const tickTracing = tickTracingOf(runtime);
    this.orchestrator = new Orchestrator({
      exchange,
      symbols,
      strategy: options.strategy,
      executor: this.executor,
      positions: this.positions,
      risk: this.risk,
      metrics,
      events,
      tracer,
      ...(tickTracing ? { tickTracing } : {}),
      hotPath: this.hotPath,
      health,
      logger,
      clock,
      requoteThresholdBps: options.requoteThresholdBps ?? DEFAULTS.requoteThresholdBps,
      panicCooldownMs: options.panicCooldownMs ?? DEFAULTS.panicCooldownMs,
      ...(options.onTick ? { onTick: options.onTick } : {}),
    });
  }

  get strategyState(): StrategyState {
    return this.orchestrator.strategyState;
  }

  get ticks(): number {
    return this.orchestrator.ticks;
  }

  get lastTickAt(): number | undefined {
    return this.orchestrator.lastTickAt;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.hotPath.start();
    this.client?.start();
    this.workers.push(...this.startWorkers());
    this.runtime.onShutdown(() => this.shutdown());
  }

  /** Position monitor (gauges and the risk evaluation) and reconciliation, as the reference process runs them. */
  private startWorkers(): Worker[] {
    const { metrics, health, events, logger } = this.runtime;
    const { exchange, strategy } = this.options;
    const positions = this.positions;
    const common = { metrics, health, events, logger, clock: this.clock };
    const strategyAttrs = { strategy: strategy.id };
    const exchangeAttrs = { exchange };
    return [
      startWorker({
        ...common,
        name: "position_monitor",
        intervalMs: this.options.positionMonitorIntervalMs ?? DEFAULTS.positionMonitorIntervalMs,
        run: () => {
          const totals = positions.totals();
          for (const position of positions.all()) {
            const pnlAttrs = { symbol: position.symbol, strategy: strategy.id };
            metrics.positionSize.record(position.quantity, { exchange, symbol: position.symbol });
            metrics.pnlRealized.record(position.realizedPnl, pnlAttrs);
            metrics.pnlUnrealized.record(unrealized(position), pnlAttrs);
          }
          metrics.positionsOpen.record(totals.openPositions, exchangeAttrs);
          metrics.pnlDaily.record(totals.daily, strategyAttrs);
          metrics.portfolioValue.record(totals.equity, strategyAttrs);
          metrics.exposure.record(
            totals.equity > 0 ? totals.grossNotional / totals.equity : 0,
            strategyAttrs,
          );
          this.evaluateRisk("positions_worker");
        },
      }),
      startWorker({
        ...common,
        name: "reconciliation",
        intervalMs: this.options.reconciliationIntervalMs ?? DEFAULTS.reconciliationIntervalMs,
        run: () => this.reconcile(),
      }),
    ];
  }

  /** Brings our orders in line with the venue's; with the reference client, also checks balances. */
  private async reconcile(): Promise<void> {
    const log = this.runtime.logger;
    const changed = await this.executor.reconcile();
    if (changed.closed > 0 || changed.orphansCancelled > 0) {
      log.info("reconciliation corrected local orders", {
        component: "reconciliation",
        closed: changed.closed,
        orphans_cancelled: changed.orphansCancelled,
      });
    }
    if (!this.client) return;
    const balances = await this.client.balances();
    for (const position of this.positions.all()) {
      const base = position.symbol.split("/")[0] ?? position.symbol;
      const drift = Math.abs((balances[base] ?? 0) - position.quantity);
      if (drift > 1e-6) {
        log.debug("position differs from the exchange balance (fills in flight?)", {
          component: "reconciliation",
          symbol: position.symbol,
          drift,
        });
      }
    }
  }

  onMarketData(tickers: readonly Ticker[]): void {
    this.orchestrator.onMarketData(tickers, this.clock.monotonicMs());
  }

  onFill(fill: Fill): void {
    this.executor.onFill(fill);
  }

  /**
   * The risk check's portfolio evaluation outside a tick (after a fill, or from a worker), in a
   * span of its own, so what it logs and raises (a breaker trip) carries a trace id as a tick's does.
   */
  evaluateRisk(source: "fill" | "positions_worker"): void {
    const risk = this.risk;
    if (!risk.evaluate) return;
    const positions = this.positions;
    this.runtime.tracer.startActiveSpan(
      "risk_evaluation",
      { attributes: { "risk.source": source } },
      (span) => {
        try {
          const context = span.spanContext();
          risk.evaluate?.(
            positions.totals(),
            positions.all(),
            isSpanContextValid(context) ? context.traceId : undefined,
          );
        } finally {
          span.end();
        }
      },
    );
  }

  shutdown(): Promise<void> {
    this.stopping ??= (async () => {
      await this.orchestrator.shutdown();
      // The workers call the venue, which the client's shutdown closes.
      await Promise.all(this.workers.map((worker) => worker.shutdown()));
      await this.client?.shutdown();
      await this.hotPath.shutdown();
    })();
    return this.stopping;
  }
}

/**
 * Builds the reference trading loop around your strategy, recording into the runtime. Does no
 * I/O: {@link Trader.start} connects.
 *
 * ```ts
 * const trader = createTrader({
 *   runtime: getRuntime(),
 *   strategy: myStrategy,
 *   exchange: "simex",
 *   symbols: ["BTC/USDT"],
 *   startingEquity: 100_000,
 *   venue: { url: simulator.url, streamUrl: simulator.streamUrl },
 *   risk: { dailyLossLimit: 1_500, maxPositionNotional: 20_000, maxExposureRatio: 0.5, maxOrdersPerSecond: 20 },
 * });
 * trader.start();
 * ```
 *
 * @throws TicktraceError `INVALID_ARGUMENT` naming the option when an option is out of range.
 */
export function createTrader(options: TraderOptions): Trader {
  return new ReferenceTrader(options);
}
