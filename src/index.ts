/**
 * ticktrace: observability and alerting for a trading process on OpenTelemetry.
 *
 * Start the process with `node --require ticktrace/tracing app.js`; the preload reads
 * `config.yaml` and starts the runtime, which {@link getRuntime} returns here. Everything else is
 * a factory that takes an options object, exported by name from its folder.
 *
 * @packageDocumentation
 */
export * from "./config/index.js";
export * from "./telemetry/index.js";
export * from "./health/index.js";
export * from "./logging/index.js";
export * from "./alerting/index.js";
export * from "./monitoring/index.js";
export * from "./decisions/index.js";
export * from "./bot/index.js";
export * from "./events/index.js";
export * from "./trading/index.js";
export {
  TicktraceError,
  describeError,
  redact,
  type ErrorCode,
  type TicktraceErrorOptions,
} from "./errors.js";
export { systemClock, createManualClock, type Clock, type ManualClock, type TimerHandle } from "./clock.js";
