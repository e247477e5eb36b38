/**
 * Trading: the contracts of the trading concerns (strategy, risk check, position book,
 * executor, venue) and the reference parts that implement them, which a bot can reuse or test
 * against: the exchange simulator and client, the market maker, position manager, risk monitor,
 * order executor, orchestrator and workers.
 */
export type {
  Executor,
  FillInput,
  FillResult,
  OrderIntent,
  PortfolioTotals,
  Position,
  PositionBook,
  Quote,
  Quotes,
  RiskCheck,
  RiskVerdict,
  Strategy,
  Venue,
} from "./types.js";
export { ExchangeSimulator, type SimulatorOptions, type SimulatorStats } from "./venues/simulator/server.js";
export {
  ExchangeClient,
  type CallOptions,
  type ExchangeClientOptions,
  type ExchangeOperation,
} from "./venues/exchange-client.js";
export {
  MarketMaker,
  type QuoteDecisionSink,
  type MarketMakerOptions,
  type QuoteDecision,
  type QuoteDecisionRecord,
} from "./strategy/market-maker.js";
export { OrderExecutor, type OrderExecutorOptions, type RestingOrder } from "./execution/order-executor.js";
export { PositionManager } from "./portfolio/position-manager.js";
export {
  RiskMonitor,
  type RejectReason,
  type RiskDecision,
  type RiskLimit,
  type RiskLimits,
  type RiskMonitorOptions,
} from "./risk/risk-monitor.js";
export {
  Orchestrator,
  type OrchestratorOptions,
  type StrategyState,
  type TickInfo,
  type TickListener,
} from "./orchestrator.js";
export { startWorker, type Worker, type WorkerOptions } from "./workers.js";
export { TokenBucket, type TokenBucketOptions } from "./venues/rate-limiter.js";
export type * from "./venues/wire.js";
