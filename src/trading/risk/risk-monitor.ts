import type { Attributes } from "@opentelemetry/api";
import { systemClock, type Clock } from "../../clock.js";
import type { HealthRegistry } from "../../health/registry.js";
import { createSilentLogger, type Logger } from "../../logging/logger.js";
import type { TradingMetrics } from "../../telemetry/metrics.js";
import type { TradingEventMap, TradingEvents } from "../../events/trading-events.js";
import type { OrderIntent, PortfolioTotals, Position, RiskCheck } from "../types.js";

export type RiskLimit = TradingEventMap["riskLimitBreached"]["limit"];
export type RejectReason = "circuit_breaker" | "position_limit" | "exposure_limit" | "order_rate";

export interface RiskLimits {
  startingEquity: number;
  /** Breaker trips when daily PnL <= -dailyLossLimit. */
  dailyLossLimit: number;
  maxPositionNotional: number;
  maxExposureRatio: number;
  maxOrdersPerSecond: number;
}

export type RiskDecision = { approved: true } | { approved: false; reason: RejectReason };

export interface RiskMonitorOptions {
  limits: RiskLimits;
  strategy: string;
  metrics: TradingMetrics;
  events: TradingEvents;
  health?: HealthRegistry;
  logger?: Logger;
  clock?: Clock;
}

const BREAKER = "daily_loss";
/** A breached limit is cleared once it has not been hit for this long and its value is back under. */
const CLEAR_AFTER_MS = 5_000;
const REASON_LIMIT: Record<Exclude<RejectReason, "circuit_breaker">, RiskLimit> = {
  position_limit: "position",
  exposure_limit: "exposure",
  order_rate: "order_rate",
};

interface Breach {
  limit: RiskLimit;
  symbol: string | undefined;
  lastHitMs: number;
}

/**
 * Pre-trade checks and the daily-loss circuit breaker. {@link check} approves or refuses one
 * order (breaker, position limit, exposure limit, order rate; every refusal counted in
 * `trading_orders_rejected_total{reason}`); {@link evaluate} runs on every tick and fill and
 * trips the breaker when the day's loss reaches the limit. Limit breaches and the breaker are
 * announced once per transition through the events (`riskLimitBreached`, `riskLimitCleared`,
 * `circuitBreakerTripped`, `circuitBreakerReset`) and shown in metrics and `/health` (`risk`).
 */
export class RiskMonitor implements RiskCheck {
  private readonly options: RiskMonitorOptions;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly sentTimes: number[] = [];
  private readonly breaches = new Map<string, Breach>();
  private readonly rejectedAttrs = new Map<string, Attributes>();
  private readonly rejectedCounts = new Map<RejectReason, number>();
  private tripped = false;
  private lastTotals: PortfolioTotals | undefined;

  constructor(options: RiskMonitorOptions) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.logger = (options.logger ?? createSilentLogger()).child({
      component: "risk",
      strategy_id: options.strategy,
    });
    options.metrics.dailyLossLimit.record(options.limits.dailyLossLimit, { strategy: options.strategy });
    options.metrics.circuitBreakerActive.record(0, { breaker: BREAKER });
    options.health?.register("risk", { group: "trading" }, { state: "up", detail: "limits ok" });
  }

  get breakerActive(): boolean {
    return this.tripped;
  }

  /** Rejections so far, by reason. */
  rejections(): Readonly<Record<string, number>> {
    return Object.fromEntries(this.rejectedCounts);
  }

  get rejectedTotal(): number {
    let total = 0;
    for (const n of this.rejectedCounts.values()) total += n;
    return total;
  }

  /** Approves or refuses an order; an approved order takes a slot of the order-rate window. */
  check(intent: OrderIntent, position: Position, totals: PortfolioTotals): RiskDecision {
    const { limits } = this.options;
    const now = this.clock.now();
    if (this.tripped) return this.reject("circuit_breaker", intent.symbol, 0, 0);
    const signed = intent.side === "buy" ? intent.quantity : -intent.quantity;
    const after = position.quantity + signed;
    const increases = Math.abs(after) > Math.abs(position.quantity);
    if (increases) {
      const notionalAfter = Math.abs(after) * intent.price;
      if (notionalAfter > limits.maxPositionNotional) {
        return this.reject("position_limit", intent.symbol, notionalAfter, limits.maxPositionNotional);
      }
      const grossAfter = totals.grossNotional + intent.quantity * intent.price;
      const ratio = totals.equity > 0 ? grossAfter / totals.equity : Infinity;
      if (ratio > limits.maxExposureRatio) {
        return this.reject("exposure_limit", intent.symbol, ratio, limits.maxExposureRatio);
      }
    }
    while (this.sentTimes[0] !== undefined && now - this.sentTimes[0] >= 1000) this.sentTimes.shift();
    if (this.sentTimes.length >= limits.maxOrdersPerSecond) {
      return this.reject("order_rate", intent.symbol, this.sentTimes.length + 1, limits.maxOrdersPerSecond);
    }
    this.sentTimes.push(now);
    return { approved: true };
  }

  /**
   * Checks the portfolio against the limits: trips the breaker on the daily loss, opens
   * breaches for positions beyond their limit and clears breaches that are over.
   * `traceId` links an event to the tick that caused it.
   */
  evaluate(totals: PortfolioTotals, positions: readonly Position[], traceId?: string): void {
    const { limits, metrics, events, strategy } = this.options;
    this.lastTotals = totals;
    const now = this.clock.now();
    if (!this.tripped && totals.daily <= -limits.dailyLossLimit) {
      this.tripped = true;
      metrics.circuitBreakerActive.record(1, { breaker: BREAKER });
      metrics.circuitBreakerTrips.add(1, { breaker: BREAKER, level: "critical" });
      metrics.riskLimitBreaches.add(1, { limit: "daily_loss" });
      const reason = `daily loss ${(-totals.daily).toFixed(2)} reached the limit ${limits.dailyLossLimit}`;
      this.logger.error("circuit breaker tripped: trading stopped", {
        daily_pnl: totals.daily,
        limit: limits.dailyLossLimit,
      });
      events.emit("riskLimitBreached", {
        limit: "daily_loss",
        severity: "ERROR",
        value: -totals.daily,
        threshold: limits.dailyLossLimit,
        ...(traceId ? { traceId } : {}),
      });
      events.emit("circuitBreakerTripped", {
        breaker: BREAKER,
        reason,
        dailyPnl: totals.daily,
        limit: limits.dailyLossLimit,
        ...(traceId ? { traceId } : {}),
      });
      this.options.health?.report("risk", {
        state: "down",
        detail: `circuit breaker tripped: ${reason}; trading stopped`,
        fields: { circuit_breaker_active: true, strategy },
      });
    }
    for (const position of positions) {
      const notional =
        Math.abs(position.quantity) * (Number.isNaN(position.mark) ? position.averagePrice : position.mark);
      if (notional > limits.maxPositionNotional) {
        this.breach("position", position.symbol, notional, limits.maxPositionNotional, "ERROR", now, traceId);
      }
    }
    for (const [key, breach] of this.breaches) {
      if (now - breach.lastHitMs < CLEAR_AFTER_MS) continue;
      const position = positions.find((p) => p.symbol === breach.symbol);
      const stillOver =
        breach.limit === "position" && position !== undefined
          ? Math.abs(position.quantity) * position.mark > limits.maxPositionNotional
          : false;
      if (stillOver) continue;
      this.breaches.delete(key);
      events.emit("riskLimitCleared", {
        limit: breach.limit,
        ...(breach.symbol ? { symbol: breach.symbol } : {}),
      });
      this.logger.info("risk limit back within bounds", { limit: breach.limit, symbol: breach.symbol });
    }
    if (!this.tripped) {
      this.options.health?.report("risk", {
        state: "up",
        detail:
          this.breaches.size > 0
            ? `limits under pressure: ${[...this.breaches.keys()].join(", ")}`
            : "limits ok",
        fields: { circuit_breaker_active: false, strategy },
      });
    }
  }

  /** Symbols whose position is beyond its limit right now (the snapshot's `risk.position_limit_breaches`). */
  positionLimitBreaches(positions: readonly Position[]): string[] {
    return positions
      .filter(
        (p) =>
          Math.abs(p.quantity) * (Number.isNaN(p.mark) ? p.averagePrice : p.mark) >
          this.options.limits.maxPositionNotional,
      )
      .map((p) => p.symbol);
  }

  /** Daily PnL as percent of starting equity (negative is a loss). */
  dailyLossPct(): number {
    return ((this.lastTotals?.daily ?? 0) / this.options.limits.startingEquity) * 100;
  }

  /** Re-arms the breaker (an operator's decision, e.g. from the bot). */
  reset(): void {
    if (!this.tripped) return;
    this.tripped = false;
    this.options.metrics.circuitBreakerActive.record(0, { breaker: BREAKER });
    this.options.events.emit("circuitBreakerReset", { breaker: BREAKER });
    this.options.health?.report("risk", {
      state: "up",
      detail: "circuit breaker reset",
      fields: { circuit_breaker_active: false },
    });
    this.logger.warn("circuit breaker reset by operator");
  }

  private reject(reason: RejectReason, symbol: string, value: number, threshold: number): RiskDecision {
    let attrs = this.rejectedAttrs.get(reason);
    if (!attrs) this.rejectedAttrs.set(reason, (attrs = { reason }));
    this.options.metrics.ordersRejected.add(1, attrs);
    this.rejectedCounts.set(reason, (this.rejectedCounts.get(reason) ?? 0) + 1);
    this.options.events.emit("orderRejected", { reason, symbol, source: "risk" });
    if (reason !== "circuit_breaker") {
      this.breach(
        REASON_LIMIT[reason],
        reason === "order_rate" ? undefined : symbol,
        value,
        threshold,
        "WARNING",
        this.clock.now(),
      );
    }
    return { approved: false, reason };
  }

  private breach(
    limit: RiskLimit,
    symbol: string | undefined,
    value: number,
    threshold: number,
    severity: "WARNING" | "ERROR",
    now: number,
    traceId?: string,
  ): void {
    const key = symbol ? `${limit}:${symbol}` : limit;
    const existing = this.breaches.get(key);
    if (existing) {
      existing.lastHitMs = now;
      return;
    }
    this.breaches.set(key, { limit, symbol, lastHitMs: now });
    this.options.metrics.riskLimitBreaches.add(1, { limit });
    this.logger.warn("risk limit breached", { limit, symbol, value, threshold });
    this.options.events.emit("riskLimitBreached", {
      limit,
      severity,
      value,
      threshold,
      ...(symbol ? { symbol } : {}),
      ...(traceId ? { traceId } : {}),
    });
  }
}
