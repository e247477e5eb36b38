import type { AlertLevel } from "./types.js";

/**
 * The alert rules ticktrace knows, named once. The in-process hooks, the monitoring rules and
 * the Prometheus rules in `deploy/prometheus/rules/` use these ids and Alertmanager names, so an
 * alert seen both by the process and by Prometheus carries the same `alertname` and reaches the
 * operator once.
 *
 * `where`: `process` (raised in-process), `prometheus` (only a Prometheus rule can see it,
 * e.g. the process being down), or `both`.
 */
export interface AlertRuleDefinition {
  readonly id: string;
  /** The Alertmanager `alertname` label (PascalCase of the id). */
  readonly alertname: string;
  readonly level: AlertLevel;
  readonly where: "process" | "prometheus" | "both";
  readonly summary: string;
}

const rule = <const T extends AlertRuleDefinition>(definition: T): T => definition;

export const ALERT_RULES = {
  circuitBreakerTripped: rule({
    id: "circuit_breaker_tripped",
    alertname: "CircuitBreakerTripped",
    level: "CRITICAL",
    where: "both",
    summary: "Circuit breaker tripped: trading is stopped",
  }),
  dailyLossNearLimit: rule({
    id: "daily_loss_near_limit",
    alertname: "DailyLossNearLimit",
    level: "WARNING",
    where: "both",
    summary: "Daily loss is near its limit",
  }),
  riskLimitBreached: rule({
    id: "risk_limit_breached",
    alertname: "RiskLimitBreached",
    level: "WARNING",
    where: "process",
    summary: "A risk limit was breached",
  }),
  exchangeDisconnected: rule({
    id: "exchange_disconnected",
    alertname: "ExchangeDisconnected",
    level: "WARNING",
    where: "both",
    summary: "Exchange connection lost",
  }),
  strategyPanic: rule({
    id: "strategy_panic",
    alertname: "StrategyPanic",
    level: "CRITICAL",
    where: "process",
    summary: "Strategy threw inside a tick and was marked faulted",
  }),
  largeFill: rule({
    id: "large_fill",
    alertname: "LargeFill",
    level: "INFO",
    where: "process",
    summary: "A fill far above the usual size",
  }),
  rateLimitExceeded: rule({
    id: "rate_limit_exceeded",
    alertname: "RateLimitExceeded",
    level: "WARNING",
    where: "process",
    summary: "Exchange API rate limit exceeded",
  }),
  workerStalled: rule({
    id: "worker_stalled",
    alertname: "WorkerStalled",
    level: "ERROR",
    where: "process",
    summary: "A worker has not run for longer than its expected interval",
  }),
  orderRejectionRateHigh: rule({
    id: "order_rejection_rate_high",
    alertname: "OrderRejectionRateHigh",
    level: "WARNING",
    where: "process",
    summary: "More than 10% of orders are rejected",
  }),
  openPositionsHigh: rule({
    id: "open_positions_high",
    alertname: "OpenPositionsHigh",
    level: "WARNING",
    where: "process",
    summary: "Unusually many open positions",
  }),
  heartbeatStale: rule({
    id: "heartbeat_stale",
    alertname: "HeartbeatStale",
    level: "CRITICAL",
    where: "both",
    summary: "The trading loop has stopped ticking",
  }),
  providerFailuresHigh: rule({
    id: "provider_failures_high",
    alertname: "ProviderFailuresHigh",
    level: "WARNING",
    where: "process",
    summary: "An external signal provider keeps failing",
  }),
  artifactStale: rule({
    id: "artifact_stale",
    alertname: "ArtifactStale",
    level: "WARNING",
    where: "process",
    summary: "A model artifact is older than allowed, or missing",
  }),
  llmCostSpike: rule({
    id: "llm_cost_spike",
    alertname: "LlmCostSpike",
    level: "WARNING",
    where: "both",
    summary: "LLM spend per hour is above its threshold",
  }),
  processDown: rule({
    id: "process_down",
    alertname: "TradingProcessDown",
    level: "CRITICAL",
    where: "prometheus",
    summary: "The trading process is not being scraped",
  }),
  monitoringTargetDown: rule({
    id: "monitoring_target_down",
    alertname: "MonitoringTargetDown",
    level: "ERROR",
    where: "prometheus",
    summary: "A part of the monitoring stack (collector, Alertmanager, Loki, Tempo) is not being scraped",
  }),
  tickToTradeLatencyHigh: rule({
    id: "tick_to_trade_latency_high",
    alertname: "TickToTradeLatencyHigh",
    level: "WARNING",
    where: "prometheus",
    summary: "Tick-to-trade p99 latency is high",
  }),
  eventLoopDelayHigh: rule({
    id: "event_loop_delay_high",
    alertname: "EventLoopDelayHigh",
    level: "WARNING",
    where: "prometheus",
    summary: "The event loop of the trading process is lagging",
  }),
  exchangeLatencyHigh: rule({
    id: "exchange_latency_high",
    alertname: "ExchangeLatencyHigh",
    level: "WARNING",
    where: "prometheus",
    summary: "Exchange API p99 latency is high",
  }),
  orderFailureRateHigh: rule({
    id: "order_failure_rate_high",
    alertname: "OrderFailureRateHigh",
    level: "WARNING",
    where: "prometheus",
    summary: "More than 10% of orders fail at the exchange",
  }),
  alertDeliveryFailing: rule({
    id: "alert_delivery_failing",
    alertname: "AlertDeliveryFailing",
    level: "ERROR",
    where: "prometheus",
    summary: "Alert notifications are failing",
  }),
} as const satisfies Record<string, AlertRuleDefinition>;

/** The Alertmanager name for a rule id (known rules from the table, others PascalCased). */
export function alertnameFor(ruleId: string): string {
  for (const definition of Object.values(ALERT_RULES))
    if (definition.id === ruleId) return definition.alertname;
  return ruleId.replace(/(^|_)([a-z0-9])/g, (_m, _sep, ch: string) => ch.toUpperCase());
}
