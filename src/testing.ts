/**
 * Test doubles for a bot's own tests, as `ticktrace/testing`: a clock that moves when told, the
 * ticktrace instruments read in memory, an alert channel that records what it is sent, and the
 * exchange simulator (a real HTTP and WebSocket server on 127.0.0.1) to trade against.
 *
 * ```ts
 * import { startRuntime, parseConfig } from "ticktrace";
 * import { createRecordingChannel } from "ticktrace/testing";
 *
 * const channel = createRecordingChannel();
 * const tt = await startRuntime(parseConfig({ health: { port: 0 } }, { file: "test" }), { channels: [channel] });
 * tt.events.circuitBreakerTripped({ breaker: "daily_loss", reason: "test", dailyPnl: -2, limit: 1 });
 * await channel.waitFor((d) => d.alert.rule === "circuit_breaker_tripped");
 * await tt.shutdown();
 * ```
 *
 * @packageDocumentation
 */
export { createManualClock, type ManualClock } from "./clock.js";
export {
  createTestMetrics,
  InMemoryMetricReader,
  type MetricPoint,
  type TestMetrics,
} from "./testing/metrics.js";
export {
  createRecordingChannel,
  type RecordedDelivery,
  type RecordingChannel,
  type RecordingChannelOptions,
} from "./testing/recording-channel.js";
export {
  ExchangeSimulator,
  type SimulatorOptions,
  type SimulatorStats,
} from "./trading/venues/simulator/server.js";
export type { Regime } from "./trading/venues/simulator/market.js";

// The types of `ticktrace` that the doubles' signatures use (the same types, so a test needs one import).
export type { Clock, TimerHandle } from "./clock.js";
export type {
  ALERT_LEVELS,
  Alert,
  AlertChannel,
  AlertChannelKind,
  AlertEvent,
  AlertFieldValue,
  AlertLevel,
  AlertStatus,
  DeliveryContext,
} from "./alert-model/types.js";
export type { Instrument, TradingMetrics } from "./telemetry/metrics.js";
export type { METRICS, MetricDefinition, InstrumentKind } from "./telemetry/catalogue.js";
export type {
  BoundCounter,
  BoundRecorder,
  FoldedCounter,
  FoldedGauge,
  FoldedHistogram,
  FoldedUpDownCounter,
} from "./telemetry/folded-instruments.js";
