import { ALERT_RULES } from "../alert-model/rules.js";
import type { AlertFieldValue, AlertLevel } from "../alert-model/types.js";
import type { Config } from "../config/schema.js";
import { formatDuration } from "../format/duration.js";
import type { CounterField, CounterWindow } from "./history.js";
import type { MonitoringSnapshot } from "./snapshot.js";

/**
 * The monitoring rules: pure functions of (snapshot, history window, now) that return the
 * conditions that hold right now. No I/O: artifact modification times are stat'ed at the edge
 * (the service) and passed in as {@link ArtifactState}.
 *
 * Rule ids are those of `ALERT_RULES`, the same ids the in-process hooks and the Prometheus
 * rules use, so the same condition seen twice is one alert.
 */

export type MonitoringRulesConfig = Config["monitoring"]["rules"];

/** A condition that holds now; the service raises it and resolves it once it is gone. */
export interface Finding {
  readonly rule: string;
  readonly level: AlertLevel;
  readonly title: string;
  readonly message: string;
  /** Identifying labels: part of the alert's fingerprint. */
  readonly labels: Readonly<Record<string, string>>;
  readonly fields: Readonly<Record<string, AlertFieldValue>>;
}

/** What the edge learnt about one watched artifact file. */
export interface ArtifactState {
  readonly name: string;
  readonly path: string;
  /** Modification time in epoch ms; null when the file is missing or unreadable. */
  readonly mtimeMs: number | null;
  /** Why `mtimeMs` is null (`ENOENT`, `EACCES`, ...). */
  readonly error?: string;
}

/** The input of every rule. */
export interface RuleContext {
  /** Wall-clock epoch ms of the evaluation. */
  readonly nowMs: number;
  /** The latest valid snapshot; undefined before the first one arrived. */
  readonly snapshot: MonitoringSnapshot | undefined;
  /** When monitoring started (epoch ms): "never initialised" is judged from here. */
  readonly startedMs: number;
  /** Cumulative counters over time, for rate rules. */
  readonly window: CounterWindow;
  /** Artifact files as last stat'ed; empty when none are configured. */
  readonly artifacts: readonly ArtifactState[];
}

/** One rule: its config key in `monitoring.rules` and its evaluation. */
export interface MonitoringRule<K extends keyof MonitoringRulesConfig = keyof MonitoringRulesConfig> {
  readonly key: K;
  readonly id: string;
  evaluate(context: RuleContext, config: MonitoringRulesConfig[K]): Finding[];
}

const NONE: Finding[] = [];
const HOUR_MS = 3_600_000;
/** The breaker a snapshot that names none refers to: the reference risk monitor's daily-loss breaker. */
const DEFAULT_BREAKER = "daily_loss";

function finding(
  definition: { id: string; level: AlertLevel; summary: string },
  message: string,
  fields: Record<string, AlertFieldValue>,
  labels: Record<string, string> = {},
  level: AlertLevel = definition.level,
): Finding[] {
  return [{ rule: definition.id, level, title: definition.summary, message, labels, fields }];
}

/** How much a cumulative counter grew over `windowMs` before now (a young process counts from zero). */
function growth(
  context: RuleContext,
  snapshot: MonitoringSnapshot,
  field: CounterField,
  current: number,
  windowMs: number,
): number {
  return context.window.growth(
    field,
    current,
    context.nowMs,
    windowMs,
    snapshot.heartbeat.uptime_seconds * 1000,
  );
}

const round = (value: number, digits = 2): number => Math.round(value * 10 ** digits) / 10 ** digits;

/** Circuit breaker active: trading is stopped. */
export const circuitBreakerRule: MonitoringRule<"circuit_breaker"> = {
  key: "circuit_breaker",
  id: ALERT_RULES.circuitBreakerTripped.id,
  evaluate({ snapshot }) {
    if (!snapshot?.risk.circuit_breaker_active) return NONE;
    return finding(
      ALERT_RULES.circuitBreakerTripped,
      `Circuit breaker active: daily PnL ${round(snapshot.pnl.daily)} (${round(snapshot.risk.daily_loss_pct)}% of equity), ${snapshot.positions.count} open positions`,
      {
        daily_pnl: round(snapshot.pnl.daily),
        daily_loss_pct: round(snapshot.risk.daily_loss_pct),
        open_positions: snapshot.positions.count,
      },
      // The label the `circuitBreakerTripped` hook uses, so both sources make one alert.
      { breaker: snapshot.risk.breaker ?? DEFAULT_BREAKER },
    );
  },
};

/** Daily loss beyond `threshold_pct` percent of starting equity. */
export const dailyLossRule: MonitoringRule<"daily_loss"> = {
  key: "daily_loss",
  id: ALERT_RULES.dailyLossNearLimit.id,
  evaluate({ snapshot }, config) {
    if (!snapshot || snapshot.risk.daily_loss_pct > -config.threshold_pct) return NONE;
    return finding(
      ALERT_RULES.dailyLossNearLimit,
      `Daily loss ${round(snapshot.risk.daily_loss_pct)}% is beyond the -${config.threshold_pct}% threshold (PnL ${round(snapshot.pnl.daily)})`,
      {
        daily_loss_pct: round(snapshot.risk.daily_loss_pct),
        threshold_pct: -config.threshold_pct,
        daily_pnl: round(snapshot.pnl.daily),
      },
    );
  },
};

/** A symbol beyond its position limit; one finding per symbol. */
export const positionLimitsRule: MonitoringRule<"position_limits"> = {
  key: "position_limits",
  id: ALERT_RULES.riskLimitBreached.id,
  evaluate({ snapshot }) {
    const breaches = snapshot?.risk.position_limit_breaches;
    if (!snapshot || !breaches || breaches.length === 0) return NONE;
    return breaches.map((symbol) => ({
      rule: ALERT_RULES.riskLimitBreached.id,
      level: ALERT_RULES.riskLimitBreached.level,
      title: ALERT_RULES.riskLimitBreached.summary,
      message: `Position limit breached for ${symbol} (max position value ${round(snapshot.risk.max_position_value)})`,
      labels: { limit: "position", symbol },
      fields: {
        max_position_value: round(snapshot.risk.max_position_value),
        total_value: round(snapshot.positions.total_value),
      },
    }));
  },
};

/** The last tick is older than `max_age_ms`, or no tick ever completed within `max_age_ms` of start. */
export const heartbeatRule: MonitoringRule<"heartbeat"> = {
  key: "heartbeat",
  id: ALERT_RULES.heartbeatStale.id,
  evaluate({ snapshot, nowMs, startedMs }, config) {
    const lastTick = snapshot?.heartbeat.last_tick ?? null;
    if (lastTick === null) {
      const waitedMs = nowMs - startedMs;
      if (waitedMs <= config.max_age_ms) return NONE;
      return finding(
        ALERT_RULES.heartbeatStale,
        `Heartbeat never initialised: no tick completed in ${formatDuration(waitedMs)} since monitoring started`,
        { reason: "never_initialised", waited_ms: waitedMs, max_age_ms: config.max_age_ms },
      );
    }
    const ageMs = nowMs - Date.parse(lastTick);
    if (!(ageMs > config.max_age_ms)) return NONE;
    return finding(
      ALERT_RULES.heartbeatStale,
      `Heartbeat lapsed: last tick ${formatDuration(ageMs)} ago (allowed ${formatDuration(config.max_age_ms)})`,
      { reason: "lapsed", last_tick: lastTick, age_ms: ageMs, max_age_ms: config.max_age_ms },
    );
  },
};

/** The exchange connection is down. */
export const connectivityRule: MonitoringRule<"connectivity"> = {
  key: "connectivity",
  id: ALERT_RULES.exchangeDisconnected.id,
  evaluate({ snapshot }) {
    if (!snapshot || snapshot.connectivity.exchange_connected) return NONE;
    const { exchange, last_api_call } = snapshot.connectivity;
    return finding(
      ALERT_RULES.exchangeDisconnected,
      `Exchange ${exchange} connection lost (last API call ${last_api_call ?? "never"})`,
      { last_api_call: last_api_call ?? "never" },
      { exchange },
    );
  },
};

/** More than `max_failures` provider errors within `window_ms`. */
export const providerFailuresRule: MonitoringRule<"provider_failures"> = {
  key: "provider_failures",
  id: ALERT_RULES.providerFailuresHigh.id,
  evaluate(context, config) {
    const { snapshot } = context;
    if (!snapshot?.sentiment) return NONE;
    const failures = growth(
      context,
      snapshot,
      "provider_errors",
      snapshot.sentiment.provider_errors_total,
      config.window_ms,
    );
    if (failures <= config.max_failures) return NONE;
    return finding(
      ALERT_RULES.providerFailuresHigh,
      `Sentiment provider failed ${failures} times in the last ${formatDuration(config.window_ms)} (allowed ${config.max_failures})`,
      { failures, max_failures: config.max_failures, window_ms: config.window_ms },
      { provider: "sentiment" },
    );
  },
};

/** Artifact files older than `max_age_hours`, and missing ones (a finding of their own). */
export const staleArtifactsRule: MonitoringRule<"stale_artifacts"> = {
  key: "stale_artifacts",
  id: ALERT_RULES.artifactStale.id,
  evaluate({ artifacts, nowMs }, config) {
    if (artifacts.length === 0) return NONE;
    const out: Finding[] = [];
    const maxAgeMs = config.max_age_hours * HOUR_MS;
    for (const artifact of artifacts) {
      const base = {
        rule: ALERT_RULES.artifactStale.id,
        level: ALERT_RULES.artifactStale.level,
        title: ALERT_RULES.artifactStale.summary,
      };
      if (artifact.mtimeMs === null) {
        out.push({
          ...base,
          message: `Artifact ${artifact.name} is missing: ${artifact.path} (${artifact.error ?? "not found"})`,
          labels: { artifact: artifact.name },
          fields: { path: artifact.path, missing: true, error: artifact.error ?? "ENOENT" },
        });
        continue;
      }
      const ageMs = nowMs - artifact.mtimeMs;
      if (ageMs <= maxAgeMs) continue;
      const ageHours = round(ageMs / HOUR_MS, 1);
      out.push({
        ...base,
        message: `Artifact ${artifact.name} not updated for ${ageHours} h (allowed ${config.max_age_hours} h): ${artifact.path}`,
        labels: { artifact: artifact.name },
        fields: {
          path: artifact.path,
          missing: false,
          age_hours: ageHours,
          max_age_hours: config.max_age_hours,
        },
      });
    }
    return out;
  },
};

/** Rejected / (placed + rejected) over `window_ms` above `threshold`, with at least `min_orders`. */
export const rejectionRateRule: MonitoringRule<"rejection_rate"> = {
  key: "rejection_rate",
  id: ALERT_RULES.orderRejectionRateHigh.id,
  evaluate(context, config) {
    const { snapshot } = context;
    if (!snapshot) return NONE;
    const placed = growth(context, snapshot, "orders_placed", snapshot.orders.placed_total, config.window_ms);
    const rejected = growth(
      context,
      snapshot,
      "orders_rejected",
      snapshot.orders.rejected_total,
      config.window_ms,
    );
    const total = placed + rejected;
    if (total < config.min_orders) return NONE;
    const rate = rejected / total;
    if (rate <= config.threshold) return NONE;
    return finding(
      ALERT_RULES.orderRejectionRateHigh,
      `${round(rate * 100, 1)}% of orders rejected in the last ${formatDuration(config.window_ms)} (${rejected} of ${total}; threshold ${round(config.threshold * 100, 1)}%)`,
      { rejection_rate: round(rate, 4), rejected, orders: total, threshold: config.threshold },
    );
  },
};

/** More than `max` open positions. */
export const openPositionsRule: MonitoringRule<"open_positions"> = {
  key: "open_positions",
  id: ALERT_RULES.openPositionsHigh.id,
  evaluate({ snapshot }, config) {
    if (!snapshot || snapshot.positions.count <= config.max) return NONE;
    return finding(
      ALERT_RULES.openPositionsHigh,
      `${snapshot.positions.count} open positions (max ${config.max})`,
      {
        open_positions: snapshot.positions.count,
        max: config.max,
        total_value: round(snapshot.positions.total_value),
      },
    );
  },
};

/** LLM spend over the trailing hour above `max_usd_per_hour`. */
export const llmCostRule: MonitoringRule<"llm_cost"> = {
  key: "llm_cost",
  id: ALERT_RULES.llmCostSpike.id,
  evaluate(context, config) {
    const { snapshot } = context;
    if (!snapshot?.llm) return NONE;
    const spent = growth(context, snapshot, "llm_cost_usd", snapshot.llm.cost_usd_total, HOUR_MS);
    if (spent <= config.max_usd_per_hour) return NONE;
    return finding(
      ALERT_RULES.llmCostSpike,
      `LLM spend $${round(spent)} in the last hour (max $${config.max_usd_per_hour}/h)`,
      { cost_usd_last_hour: round(spent, 4), max_usd_per_hour: config.max_usd_per_hour },
    );
  },
};

/** Every rule, in evaluation order. */
export const MONITORING_RULES: readonly MonitoringRule[] = [
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
] as MonitoringRule[];

/** The longest window any rule diffs counters over: how much counter history to keep. */
export function longestWindowMs(config: MonitoringRulesConfig): number {
  return Math.max(HOUR_MS, config.provider_failures.window_ms, config.rejection_rate.window_ms);
}

/** Runs every enabled rule; the findings of all of them. */
export function evaluateRules(context: RuleContext, config: MonitoringRulesConfig): Finding[] {
  const out: Finding[] = [];
  for (const rule of MONITORING_RULES) {
    const ruleConfig = config[rule.key];
    if (!ruleConfig.enabled) continue;
    const found = rule.evaluate(context, ruleConfig);
    for (const f of found) out.push(f);
  }
  return out;
}
