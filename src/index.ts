/**
 * ticktrace: observability and alerting for a trading bot on OpenTelemetry.
 *
 * Start the bot with `node --require ticktrace/tracing bot.js` (or `--import`); the preload reads
 * `config.yaml` and starts the runtime, which {@link getRuntime} returns:
 *
 * ```js
 * const { getRuntime } = require("ticktrace");
 * const tt = getRuntime();
 * tt.events.circuitBreakerTripped({ breaker: "daily_loss", reason: "loss limit hit", dailyPnl: -1600, limit: 1500 });
 * ```
 *
 * Your own strategy trades in the reference trading loop with {@link createTrader}. Test doubles
 * (manual clock, in-memory metrics, a recording channel, the exchange simulator) are in
 * `ticktrace/testing`.
 *
 * @packageDocumentation
 */

// The runtime: one per process, wired from config.yaml.
export { getRuntime, startRuntime, type StartRuntimeOptions } from "./runtime/start.js";
export type { Runtime } from "./runtime/runtime.js";
export type { RuntimeAlerts, RuntimeBot, RuntimeMonitoring } from "./runtime/parts.js";
export type { BotStatusProviders } from "./bot/commands.js";

// Configuration.
export {
  ConfigError,
  loadConfig,
  parseConfig,
  type LoadConfigOptions,
  type LoadedConfig,
} from "./config/load.js";
export type { Config, ConfigInput, configSchema } from "./config/schema.js";

// Metric names and the instruments.
export {
  METRICS,
  METRIC_DEFINITIONS,
  LATENCY_BUCKETS_SECONDS,
  DURATION_BUCKETS_SECONDS,
  type InstrumentKind,
  type MetricDefinition,
  type MetricKey,
} from "./telemetry/catalogue.js";
export type { Instrument, TradingMetrics } from "./telemetry/metrics.js";
export type {
  BoundCounter,
  BoundRecorder,
  FoldedCounter,
  FoldedGauge,
  FoldedHistogram,
  FoldedUpDownCounter,
} from "./telemetry/folded-instruments.js";

// The trading event hub.
export { TRADING_EVENT_NAMES, type TradingEventHub } from "./runtime/event-hub.js";
export type {
  TradingEventListener,
  TradingEventMap,
  TradingEventName,
  TradingEvents,
} from "./events/trading-events.js";

// Alerts: the model, the channel interface for your own channel, and the channels.
export {
  ALERT_LEVELS,
  type Alert,
  type AlertChannel,
  type AlertChannelKind,
  type AlertEvent,
  type AlertFieldValue,
  type AlertLevel,
  type AlertStatus,
  type Alerter,
  type DeliveryContext,
  type RaiseAlertInput,
} from "./alert-model/types.js";
export { ALERT_RULES, type AlertRuleDefinition } from "./alert-model/rules.js";
export type { GrafanaLinkOptions } from "./format/trace-link.js";
export { createJsonlChannel, type JsonlChannelOptions } from "./alerting/channels/jsonl.js";
export { createSlackChannel, type SlackChannelOptions } from "./alerting/channels/slack.js";
export { createTelegramChannel, type TelegramChannelOptions } from "./alerting/channels/telegram.js";
export {
  createAlertmanagerChannel,
  type AlertmanagerChannelOptions,
} from "./alerting/channels/alertmanager.js";

// Monitoring snapshots.
export type { MonitoringSnapshot, monitoringSnapshotSchema } from "./monitoring/snapshot.js";
export type { SnapshotSource } from "./monitoring/service.js";

// Health and logging, as the runtime hands them out.
export type {
  ComponentOptions,
  ComponentReport,
  ComponentState,
  ComponentUpdate,
  HealthRegistry,
  HealthReport,
  OverallStatus,
} from "./health/registry.js";
export type { Logger } from "./logging/logger.js";

// The decision recorder (`runtime.decisions`) and what the Telegram bot shows.
export type {
  DecisionRecorder,
  DecisionSession,
  RecorderStats,
  StartSessionInput,
} from "./decisions/recorder.js";
export type {
  DecisionEvent,
  DecisionInput,
  DecisionReader,
  DecisionSummary,
  EventBase,
  ModelUsageEvent,
  ModelUsageInput,
  SessionEvent,
  SessionRecord,
  SessionStatus,
  SessionTrace,
  StepEvent,
  ToolCallEvent,
  ToolCallInput,
} from "./decisions/types.js";
export type { BotStatus, PortfolioPosition } from "./bot/format.js";

// Trading: your own strategy (or risk check, position book, venue) in the reference trading loop.
export {
  createTrader,
  type ExchangeConnection,
  type RiskLimits,
  type Trader,
  type TraderOptions,
} from "./trading/create.js";
export type { StrategyState, TickInfo, TickListener } from "./trading/orchestrator.js";
export type {
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
} from "./trading/types.js";
export type { Fill, Order, OrderStatus, PlaceOrderRequest, Side, Ticker } from "./trading/venues/wire.js";

// Errors and time.
export { TicktraceError, type ErrorCode, type TicktraceErrorOptions } from "./errors.js";
export { OutboxLockedError, type OutboxLockInfo } from "./alerting/lock.js";
export { systemClock, type Clock, type TimerHandle } from "./clock.js";
