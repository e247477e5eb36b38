import { systemClock, type Clock } from "../clock.js";
import type { Config } from "../config/schema.js";
import type { Runtime } from "../runtime/runtime.js";
import type { HealthRegistry } from "../health/registry.js";
import type { Logger } from "../logging/logger.js";
import type { MonitoringSnapshot } from "../monitoring/snapshot.js";
import { startKnownSeriesAtZero } from "../telemetry/known-series.js";
import type { TradingMetrics } from "../telemetry/metrics.js";
import type { TradingEvents } from "../events/trading-events.js";
import type { ExchangeClient, ExchangeOperation } from "../trading/venues/exchange-client.js";
import { MarketMaker, type QuoteDecisionSink } from "../trading/strategy/market-maker.js";
import type { Orchestrator, TickInfo } from "../trading/orchestrator.js";
import type { OrderExecutor } from "../trading/execution/order-executor.js";
import { ReferenceTrader } from "../trading/create.js";
import { TicktraceError } from "../errors.js";
import { PositionManager } from "../trading/portfolio/position-manager.js";
import type { PortfolioTotals } from "../trading/types.js";
import type { RejectReason, RiskLimit, RiskMonitor } from "../trading/risk/risk-monitor.js";
import { scheduleScenario, type ScenarioName } from "./scenarios.js";
import { ExchangeSimulator, type SimulatorStats } from "../trading/venues/simulator/server.js";
import { createSnapshotSource } from "./snapshot.js";
import { startWorker, type Worker } from "../trading/workers.js";

/** A fill at least this many times the usual quote notional is logged as a large fill. */
const LARGE_FILL_FACTOR = 5;

/* Every value of each label, as records so that a new value is a compile error until listed. */
const OPERATIONS = {
  place_order: 0,
  cancel_order: 0,
  get_order: 0,
  open_orders: 0,
  balances: 0,
  ticker: 0,
  depth: 0,
} satisfies Record<ExchangeOperation, 0>;
const REJECT_REASONS = {
  circuit_breaker: 0,
  position_limit: 0,
  exposure_limit: 0,
  order_rate: 0,
} satisfies Record<RejectReason, 0>;
const RISK_LIMITS = { position: 0, exposure: 0, order_rate: 0, daily_loss: 0 } satisfies Record<RiskLimit, 0>;

export interface DemoOptions {
  /** The process's runtime: the demo records into its metrics, tick tracer and health. */
  runtime: Runtime;
  scenario: ScenarioName;
  /** Seed of the simulated market. */
  seed: number;
  /** The decisions module's hook (see {@link QuoteDecisionSink}). */
  decisionRecorder?: QuoteDecisionSink;
  /**
   * After every tick. `snapshot` builds the monitoring snapshot on demand (memoized for
   * the tick), so a listener that does not need it pays nothing.
   */
  onTick?: (snapshot: () => MonitoringSnapshot, tick: TickInfo) => void;
  clock?: Clock;
}

/** What a finished (or running) demo reports. */
export interface DemoSummary {
  scenario: ScenarioName;
  durationSeconds: number;
  ticks: number;
  ordersPlaced: number;
  fills: number;
  riskRejections: number;
  totals: PortfolioTotals;
  breakerActive: boolean;
  exchangeConnected: boolean;
  strategyState: string;
  simulator: SimulatorStats;
  hotPathDropped: number;
}

export interface Demo {
  readonly events: TradingEvents;
  readonly simulator: ExchangeSimulator;
  readonly client: ExchangeClient;
  readonly orchestrator: Orchestrator;
  readonly executor: OrderExecutor;
  readonly positions: PositionManager;
  readonly risk: RiskMonitor;
  readonly strategy: MarketMaker;
  /** The monitoring snapshot of the current state. */
  snapshot(): MonitoringSnapshot;
  summary(): DemoSummary;
  /** Idempotent: stops trading (orders cancelled), workers, the stream and the simulator. */
  stop(): Promise<void>;
}

/**
 * Assembles the reference trading process: the exchange simulator on loopback, the exchange
 * client, market maker, risk monitor, executor, orchestrator and workers, all reporting into the
 * runtime's metrics, tracer and health registry, and the chosen scenario's incident scheduled.
 */
export async function startDemo(options: DemoOptions): Promise<Demo> {
  const { runtime, scenario } = options;
  const { config, health, metrics } = runtime;
  const trading = config.trading;
  const clock = options.clock ?? systemClock;
  const logger = runtime.logger.child({ component: "demo" });
  const events = runtime.events;
  const exchange = trading.exchange.name;
  const strategyId = trading.strategy.id;
  const startedAtMs = clock.now();

  const simulator = new ExchangeSimulator({
    symbols: trading.symbols,
    seed: options.seed,
    port: trading.exchange.port,
    tickIntervalMs: trading.strategy.tick_interval_ms,
    volatilityBps: trading.exchange.volatility_bps,
    latencyP50Ms: trading.exchange.latency_p50_ms,
    latencyP99Ms: trading.exchange.latency_p99_ms,
    errorRate: trading.exchange.error_rate,
    rateLimitPerSecond: trading.exchange.rate_limit_per_second,
    feeRate: trading.exchange.fee_rate,
    startingQuote: trading.risk.starting_equity,
  });
  await simulator.start();

  const positions = new PositionManager({
    symbols: trading.symbols,
    startingEquity: trading.risk.starting_equity,
    clock,
  });
  const strategy = new MarketMaker({
    id: strategyId,
    halfSpreadBps: trading.strategy.half_spread_bps,
    quoteNotional: trading.strategy.quote_notional,
    inventorySkewBps: trading.strategy.inventory_skew_bps,
    maxPositionNotional: trading.risk.max_position_notional,
    recordIntervalMs: config.decisions.record_interval_ms,
    ...(options.decisionRecorder ? { decisionRecorder: options.decisionRecorder } : {}),
    clock,
  });
  // The same builder a user's bot calls (`createTrader`), so the demo records what a bot records.
  const onTick = options.onTick;
  const trader = new ReferenceTrader({
    runtime,
    strategy,
    exchange,
    symbols: trading.symbols,
    startingEquity: trading.risk.starting_equity,
    venue: {
      url: simulator.url,
      streamUrl: simulator.streamUrl,
      rateLimitPerSecond: trading.exchange.client_rate_limit_per_second,
      requestTimeoutMs: trading.exchange.request_timeout_ms,
      reconnectInitialMs: trading.exchange.reconnect_initial_ms,
      reconnectMaxMs: trading.exchange.reconnect_max_ms,
    },
    risk: {
      dailyLossLimit: trading.risk.daily_loss_limit,
      maxPositionNotional: trading.risk.max_position_notional,
      maxExposureRatio: trading.risk.max_exposure_ratio,
      maxOrdersPerSecond: trading.risk.max_orders_per_second,
    },
    positions,
    requoteThresholdBps: trading.strategy.requote_threshold_bps,
    panicCooldownMs: trading.strategy.panic_cooldown_ms,
    positionMonitorIntervalMs: trading.workers.position_monitor_interval_ms,
    reconciliationIntervalMs: trading.workers.reconciliation_interval_ms,
    ...(onTick
      ? {
          onTick: (tick: TickInfo) => {
            let memo: MonitoringSnapshot | undefined;
            onTick(() => (memo ??= snapshotSource()), tick);
          },
        }
      : {}),
    clock,
  });
  const { orchestrator, executor, riskMonitor: risk, client, hotPath } = trader;
  if (!risk || !client) {
    throw new TicktraceError(
      "INVALID_STATE",
      "startDemo: the trader was built without its reference risk check or exchange client",
    );
  }
  const snapshotSource = createSnapshotSource({
    exchange,
    positions,
    risk,
    placedTotal: () => executor.placedTotal,
    connected: () => client.isConnected,
    lastApiCallAt: () => client.lastApiCallAt,
    lastTickAt: () => orchestrator.lastTickAt,
    startedAtMs,
    now: () => clock.now(),
  });
  // The same hook a user's bot would use: a fill far above the usual quote size is worth a log line.
  const largeFillNotional = LARGE_FILL_FACTOR * trading.strategy.quote_notional;
  events.on("fill", (fill) => {
    if (fill.notional >= largeFillNotional) {
      logger.warn("large fill", {
        symbol: fill.symbol,
        side: fill.side,
        notional: fill.notional,
        order_id: fill.orderId,
      });
    }
  });
  trader.start();

  const workers = [
    ...trader.workers,
    startPnlSnapshot({ trading, positions, metrics, health, events, logger, clock }),
  ];
  // Counters whose label values are known now start at 0 (`increase()` sees their first increment).
  startKnownSeriesAtZero(metrics, {
    exchanges: [exchange],
    symbols: trading.symbols,
    exchangeOperations: Object.keys(OPERATIONS),
    workers: workers.map((worker) => worker.name),
    rejectReasons: Object.keys(REJECT_REASONS),
    riskLimits: Object.keys(RISK_LIMITS),
  });
  const cancelScenario = scheduleScenario(scenario, {
    simulator,
    strategy,
    symbols: trading.symbols,
    incidentAfterMs: trading.scenario.incident_after_ms,
    incidentDurationMs: trading.scenario.incident_duration_ms,
    logger: runtime.logger,
  });
  logger.info("demo started", {
    scenario,
    seed: options.seed,
    exchange_url: simulator.url,
    symbols: trading.symbols.join(","),
  });

  let stopping: Promise<void> | undefined;
  const summary = (): DemoSummary => ({
    scenario,
    durationSeconds: (clock.now() - startedAtMs) / 1000,
    ticks: orchestrator.ticks,
    ordersPlaced: executor.placedTotal,
    fills: executor.filledTotal,
    riskRejections: risk.rejectedTotal,
    totals: positions.totals(),
    breakerActive: risk.breakerActive,
    exchangeConnected: client.isConnected,
    strategyState: orchestrator.strategyState,
    simulator: simulator.stats(),
    hotPathDropped: hotPath.dropped,
  });
  return {
    events,
    simulator,
    client,
    orchestrator,
    executor,
    positions,
    risk,
    strategy,
    snapshot: snapshotSource,
    summary,
    stop() {
      stopping ??= (async () => {
        cancelScenario();
        simulator.endOutage();
        simulator.endRateLimitStorm();
        await trader.shutdown();
        await Promise.all(workers.map((w) => w.shutdown()));
        await simulator.shutdown();
        logger.info("demo stopped");
      })();
      return stopping;
    },
  };
}

/** The demo's own worker: a PnL snapshot in the debug log (the trader runs the other two). */
function startPnlSnapshot(deps: {
  trading: Config["trading"];
  positions: PositionManager;
  metrics: TradingMetrics;
  health: HealthRegistry;
  events: TradingEvents;
  logger: Logger;
  clock: Clock;
}): Worker {
  const { positions, clock } = deps;
  const pnlHistory: { atMs: number; totals: PortfolioTotals }[] = [];
  return startWorker({
    metrics: deps.metrics,
    health: deps.health,
    events: deps.events,
    logger: deps.logger,
    clock,
    name: "pnl_snapshot",
    intervalMs: deps.trading.workers.pnl_snapshot_interval_ms,
    run: () => {
      const totals = positions.totals();
      pnlHistory.push({ atMs: clock.now(), totals });
      if (pnlHistory.length > 1_000) pnlHistory.shift();
      deps.logger.debug("pnl snapshot", {
        component: "pnl",
        realized: totals.realized,
        unrealized: totals.unrealized,
        daily: totals.daily,
        equity: totals.equity,
      });
    },
  });
}

/** The one-line summary printed when the demo ends. */
export function formatSummary(s: DemoSummary): string {
  return [
    `summary: scenario=${s.scenario}`,
    `duration_s=${s.durationSeconds.toFixed(1)}`,
    `ticks=${s.ticks}`,
    `orders=${s.ordersPlaced}`,
    `fills=${s.fills}`,
    `risk_rejections=${s.riskRejections}`,
    `pnl=${s.totals.realized + s.totals.unrealized >= 0 ? "+" : ""}${(s.totals.realized + s.totals.unrealized).toFixed(2)}`,
    `daily_pnl=${s.totals.daily.toFixed(2)}`,
    `fees=${s.totals.fees.toFixed(2)}`,
    `breaker=${s.breakerActive ? "tripped" : "off"}`,
    `exchange=${s.exchangeConnected ? "connected" : "disconnected"}`,
    `strategy=${s.strategyState}`,
    `sim_requests=${s.simulator.requests}`,
    `sim_429=${s.simulator.rateLimited}`,
    `retry_after_violations=${s.simulator.retryAfterViolations}`,
    `sim_held_in_outage=${s.simulator.heldDuringOutage}`,
    `hot_path_dropped=${s.hotPathDropped}`,
  ].join(" ");
}
