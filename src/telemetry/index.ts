/** Telemetry: the runtime the preload starts, the metric catalogue and its instruments, and the hot-path recorder. */
export {
  METRICS,
  METRIC_DEFINITIONS,
  LATENCY_BUCKETS_SECONDS,
  DURATION_BUCKETS_SECONDS,
  type InstrumentKind,
  type MetricDefinition,
  type MetricKey,
} from "./catalogue.js";
export {
  createTradingMetrics,
  DEFAULT_CARDINALITY_LIMIT,
  METER_NAME,
  type TradingMetrics,
  type TradingMetricsOptions,
} from "./metrics.js";
export type {
  BoundCounter,
  BoundRecorder,
  FoldedCounter,
  FoldedGauge,
  FoldedHistogram,
  FoldedUpDownCounter,
} from "./folded-instruments.js";
export { PrometheusTextSerializer, createMetricsHandler } from "./prometheus-text.js";
export { OVERFLOW_ATTRIBUTES } from "./series-table.js";
export { HotPathRecorder, type HotPathRecorderOptions, type HotPathSeries } from "./hot-path.js";
export { TELEMETRY_COMPONENT, type ExportMonitor, type Signal } from "./export-monitor.js";
export { UNTRACED_PATHS, INSTRUMENTATION_PACKAGES, type InstrumentationName } from "./instrumentations.js";
export { buildResource, ATTR_SERVICE_INSTANCE_ID, ATTR_DEPLOYMENT_ENVIRONMENT_NAME } from "./sdk.js";
