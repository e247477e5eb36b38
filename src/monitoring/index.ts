/** The monitoring module: service, rules, history, files, alert-log reading and health checks, exported by name. */
export { startMonitoring, type Monitoring, type MonitoringDeps } from "./create.js";
export { MonitoringService, type MonitoringServiceOptions, type SnapshotSource } from "./service.js";
export {
  MONITORING_RULES,
  evaluateRules,
  longestWindowMs,
  circuitBreakerRule,
  dailyLossRule,
  positionLimitsRule,
  heartbeatRule,
  connectivityRule,
  providerFailuresRule,
  staleArtifactsRule,
  rejectionRateRule,
  openPositionsRule,
  llmCostRule,
  type ArtifactState,
  type Finding,
  type MonitoringRule,
  type MonitoringRulesConfig,
  type RuleContext,
} from "./rules.js";
export {
  CounterWindow,
  COUNTER_FIELDS,
  aggregateSnapshots,
  countersOf,
  numericFields,
  type AggregateOptions,
  type AggregateWindow,
  type CounterField,
  type FieldAggregate,
  type TimedSnapshot,
} from "./history.js";
export {
  applyRetention,
  listSnapshotFiles,
  readSnapshots,
  snapshotFileName,
  snapshotFileTime,
  writeSnapshotFile,
  type ReadSnapshotsResult,
  type RetentionResult,
} from "./files.js";
export { AckWatcher, type AckWatcherOptions } from "./alert-log.js";
export {
  checkHealth,
  componentRows,
  exitCodeFor,
  healthUrlFromConfig,
  type ComponentRow,
  type HealthCheckResult,
} from "./health-check.js";
export { monitoringSnapshotSchema, type MonitoringSnapshot } from "./snapshot.js";
