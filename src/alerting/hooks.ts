import { systemClock, type Clock, type TimerHandle } from "../clock.js";
import type { Config } from "../config/schema.js";
import type { ComponentReport, HealthRegistry } from "../health/registry.js";
import { forEachComponent } from "../health/report.js";
import type { TradingEvents } from "../events/trading-events.js";
import { ALERT_RULES } from "../alert-model/rules.js";
import type { Alerter } from "../alert-model/types.js";

/** Options of {@link attachTradingAlerts}. */
export interface TradingAlertsOptions {
  /** The incident hooks of the trading process (or of your own bot). */
  events: TradingEvents;
  /** Usually the `AlertManager`. */
  alerter: Alerter;
  /** Thresholds from `alerts.*`: `escalation`, `large_fill_notional`. */
  config: Pick<Config, "alerts">;
  clock?: Clock;
  /** When given, workers reported `stalled` in the registry raise `worker_stalled`. */
  health?: HealthRegistry;
  /** How often health is polled (default 5000 ms). */
  pollIntervalMs?: number;
  /** A rate-limit alert resolves after this long without another 429 (default 60 000 ms). */
  rateLimitQuietMs?: number;
}

/** What {@link attachTradingAlerts} returns. */
export interface TradingAlerts {
  /** Unsubscribes and stops timers. Idempotent. */
  stop(): void;
  /** Runs the health check now (the poll loop calls it). */
  poll(): void;
}

const R = ALERT_RULES;

function money(value: number): string {
  return value.toLocaleString("en-US", { maximumFractionDigits: 2 });
}

/**
 * Turns trading incidents into alerts:
 *
 * | event / check                       | rule                        | level                  |
 * | ----------------------------------- | --------------------------- | ---------------------- |
 * | `circuitBreakerTripped` / `Reset`   | `circuit_breaker_tripped`   | CRITICAL, resolves     |
 * | `riskLimitBreached` / `Cleared`     | `risk_limit_breached`       | WARNING or ERROR       |
 * | `exchangeDisconnected` / `Reconnected` | `exchange_disconnected`  | WARNING, ERROR after `alerts.escalation.exchange_disconnect_ms` |
 * | `strategyPanic` / `Recovered`       | `strategy_panic`            | CRITICAL               |
 * | `fill` above `alerts.large_fill_notional` | `large_fill`          | INFO, one per fill     |
 * | `rateLimited`                       | `rate_limit_exceeded`       | WARNING, resolves when quiet |
 * | `workerFailed`, stalled in health   | `worker_stalled`            | ERROR                  |
 *
 * The order rejection rate and the open-position count are the monitoring rules'
 * (`monitoring.rules.rejection_rate`, `monitoring.rules.open_positions`), which see them in
 * every snapshot; they are not raised here.
 *
 * The hooks are public: a user's bot that emits the same events gets the same alerts.
 */
export function attachTradingAlerts(options: TradingAlertsOptions): TradingAlerts {
  const { events, alerter } = options;
  const alerts = options.config.alerts;
  const clock = options.clock ?? systemClock;
  const pollMs = options.pollIntervalMs ?? 5000;
  const quietMs = options.rateLimitQuietMs ?? 60_000;
  const unsubscribe: (() => void)[] = [];
  const escalations = new Map<string, TimerHandle>();
  const rateLimitTimers = new Map<string, TimerHandle>();
  const stalledWorkers = new Set<string>();
  const failedWorkers = new Set<string>();
  let pollTimer: TimerHandle | undefined;
  let stopped = false;

  unsubscribe.push(
    events.on("circuitBreakerTripped", (e) => {
      alerter.raise({
        rule: R.circuitBreakerTripped.id,
        level: "CRITICAL",
        title: "Circuit breaker tripped: trading is stopped",
        message: `Breaker ${e.breaker} tripped: ${e.reason}. Daily PnL ${money(e.dailyPnl)} against a limit of ${money(e.limit)}.`,
        labels: { breaker: e.breaker },
        fields: { reason: e.reason, daily_pnl: e.dailyPnl, limit: e.limit },
        ...(e.traceId ? { traceId: e.traceId } : {}),
      });
    }),
    events.on(
      "circuitBreakerReset",
      (e) => void alerter.resolve(R.circuitBreakerTripped.id, { breaker: e.breaker }),
    ),
    events.on("riskLimitBreached", (e) => {
      alerter.raise({
        rule: R.riskLimitBreached.id,
        level: e.severity,
        title: `Risk limit breached: ${e.limit}${e.symbol ? ` on ${e.symbol}` : ""}`,
        message: `${e.limit} is ${money(e.value)} against a limit of ${money(e.threshold)}.`,
        labels: { limit: e.limit, ...(e.symbol ? { symbol: e.symbol } : {}) },
        fields: { value: e.value, threshold: e.threshold },
        ...(e.traceId ? { traceId: e.traceId } : {}),
      });
    }),
    events.on("riskLimitCleared", (e) => {
      alerter.resolve(R.riskLimitBreached.id, { limit: e.limit, ...(e.symbol ? { symbol: e.symbol } : {}) });
    }),
    events.on("exchangeDisconnected", (e) => {
      const raise = (level: "WARNING" | "ERROR", downMs: number) =>
        alerter.raise({
          rule: R.exchangeDisconnected.id,
          level,
          title:
            level === "WARNING"
              ? `Exchange ${e.exchange} disconnected, reconnecting`
              : `Exchange ${e.exchange} down for ${Math.round(downMs / 1000)}s`,
          message: `Connection to ${e.exchange} lost: ${e.reason}.${level === "ERROR" ? " Still not reconnected." : ""}`,
          labels: { exchange: e.exchange },
          fields: { reason: e.reason },
        });
      raise("WARNING", 0);
      if (escalations.has(e.exchange)) return;
      const afterMs = alerts.escalation.exchange_disconnect_ms;
      escalations.set(
        e.exchange,
        clock.setTimeout(() => {
          escalations.delete(e.exchange);
          raise("ERROR", afterMs);
        }, afterMs),
      );
    }),
    events.on("exchangeReconnected", (e) => {
      const timer = escalations.get(e.exchange);
      if (timer) clock.clearTimeout(timer);
      escalations.delete(e.exchange);
      alerter.resolve(R.exchangeDisconnected.id, { exchange: e.exchange });
    }),
    events.on("strategyPanic", (e) => {
      alerter.raise({
        rule: R.strategyPanic.id,
        level: "CRITICAL",
        title: `Strategy ${e.strategy} panicked and was stopped`,
        message: e.error,
        labels: { strategy: e.strategy },
        fields: { error: e.error },
        ...(e.traceId ? { traceId: e.traceId } : {}),
      });
    }),
    events.on("strategyRecovered", (e) => void alerter.resolve(R.strategyPanic.id, { strategy: e.strategy })),
    events.on("fill", (e) => {
      if (e.notional < alerts.large_fill_notional) return;
      alerter.raise({
        rule: R.largeFill.id,
        level: "INFO",
        transient: true,
        title: `Large fill: ${e.side} ${e.quantity} ${e.symbol} at ${e.price}`,
        message: `Notional ${money(e.notional)} is above the large-fill threshold ${money(alerts.large_fill_notional)}.`,
        labels: { exchange: e.exchange, symbol: e.symbol },
        fields: {
          side: e.side,
          price: e.price,
          quantity: e.quantity,
          notional: e.notional,
          order_id: e.orderId,
        },
        ...(e.traceId ? { traceId: e.traceId } : {}),
      });
    }),
    events.on("rateLimited", (e) => {
      alerter.raise({
        rule: R.rateLimitExceeded.id,
        level: "WARNING",
        title: `Exchange ${e.exchange} rate limit exceeded`,
        message: `${e.exchange} answered 429 to ${e.operation}; asked to wait ${e.retryAfterMs} ms.`,
        labels: { exchange: e.exchange },
        fields: { operation: e.operation, retry_after_ms: e.retryAfterMs },
      });
      const previous = rateLimitTimers.get(e.exchange);
      if (previous) clock.clearTimeout(previous);
      rateLimitTimers.set(
        e.exchange,
        clock.setTimeout(
          () => {
            rateLimitTimers.delete(e.exchange);
            alerter.resolve(R.rateLimitExceeded.id, { exchange: e.exchange });
          },
          Math.max(quietMs, e.retryAfterMs),
        ),
      );
    }),
    events.on("workerFailed", (e) => {
      failedWorkers.add(e.worker);
      raiseWorker(e.worker, `Worker ${e.worker} failed: ${e.error}`, { error: e.error });
    }),
  );

  function raiseWorker(worker: string, message: string, fields: Record<string, string>): void {
    alerter.raise({
      rule: R.workerStalled.id,
      level: "ERROR",
      title: `Worker ${worker} stopped`,
      message,
      labels: { worker },
      fields,
    });
  }

  function checkWorkers(health: HealthRegistry): void {
    const seen = new Set<string>();
    const visit = (name: string, report: ComponentReport) => {
      if (report.detail?.startsWith("stalled") && report.status !== "up") {
        seen.add(name);
        if (!stalledWorkers.has(name)) {
          stalledWorkers.add(name);
          raiseWorker(name, `Worker ${name} has ${report.detail}.`, { detail: report.detail });
        }
      } else if (report.status === "up" && failedWorkers.delete(name)) {
        alerter.resolve(R.workerStalled.id, { worker: name });
      }
    };
    forEachComponent(health.snapshot(), visit);
    for (const name of stalledWorkers) {
      if (!seen.has(name)) {
        stalledWorkers.delete(name);
        if (!failedWorkers.has(name)) alerter.resolve(R.workerStalled.id, { worker: name });
      }
    }
  }

  function poll(): void {
    if (stopped) return;
    // A background check never throws into the timer.
    try {
      if (options.health) checkWorkers(options.health);
    } catch {
      // the next poll tries again
    }
  }

  function schedule(): void {
    pollTimer = clock.setTimeout(() => {
      poll();
      if (!stopped) schedule();
    }, pollMs);
  }
  schedule();

  return {
    poll,
    stop() {
      if (stopped) return;
      stopped = true;
      for (const off of unsubscribe) off();
      for (const timer of [...escalations.values(), ...rateLimitTimers.values()]) clock.clearTimeout(timer);
      if (pollTimer) clock.clearTimeout(pollTimer);
    },
  };
}
