/**
 * Trading: the incident hooks a bot raises (the alert module listens to them), and the parts of
 * the reference process a user can reuse or test against: the exchange simulator and client, the
 * market maker, position manager, risk monitor, orchestrator and workers.
 */
export {
  createTradingEvents,
  type CreateTradingEventsOptions,
  type TradingEventListener,
  type TradingEventMap,
  type TradingEventName,
  type TradingEvents,
} from "./events.js";
export { ExchangeSimulator, type SimulatorOptions, type SimulatorStats } from "./simulator/server.js";
export {
  ExchangeClient,
  parseRetryAfter,
  type CallOptions,
  type ExchangeClientOptions,
  type ExchangeOperation,
} from "./exchange-client.js";
export {
  MarketMaker,
  type QuoteDecisionSink,
  type MarketMakerOptions,
  type Quote,
  type QuoteDecision,
  type QuoteDecisionRecord,
} from "./market-maker.js";
export { OrderExecutor, type OrderExecutorOptions, type RestingOrder, type Venue } from "./order-executor.js";
export {
  PositionManager,
  type FillInput,
  type FillResult,
  type PortfolioTotals,
  type Position,
} from "./position-manager.js";
export {
  RiskMonitor,
  type OrderIntent,
  type RejectReason,
  type RiskDecision,
  type RiskLimit,
  type RiskLimits,
  type RiskMonitorOptions,
} from "./risk-monitor.js";
export {
  Orchestrator,
  type OrchestratorOptions,
  type StrategyState,
  type TickInfo,
  type TickListener,
} from "./orchestrator.js";
export { startWorker, type Worker, type WorkerOptions } from "./workers.js";
export { TokenBucket, type TokenBucketOptions } from "./rate-limiter.js";
export { createSnapshotSource, type SnapshotSourceOptions } from "./snapshot.js";
export { SCENARIOS, isScenario, type ScenarioName } from "./scenarios.js";
export { startDemo, type Demo, type DemoOptions, type DemoSummary } from "./demo.js";
export type * from "./wire.js";
