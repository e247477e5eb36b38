import type * as AlertingModule from "../../alerting/index.js";
import type { Config } from "../../config/schema.js";
import { describeError } from "../../errors.js";
import type { HealthRegistry } from "../../health/registry.js";
import type { Logger } from "../../logging/logger.js";
import { createTradingEvents, type TradingEvents } from "../../trading/events.js";
import type { TradingMetrics } from "../metrics.js";

/** What {@link createExchangeAlerts} needs from the runtime. */
export interface ExchangeAlertsOptions {
  config: Config;
  logger: Logger;
  health: HealthRegistry;
  metrics: TradingMetrics;
}

/** The trading event hub the ccxt recorder emits into, and the alert module behind it, started on first use. */
export interface ExchangeAlerts {
  readonly events: TradingEvents;
  /** Builds the alert module from `config.alerts` and attaches the trading alert hooks. Idempotent. */
  start(): void;
  /** Stops the hooks and drains the alert module. Idempotent. */
  shutdown(): Promise<void>;
}

/**
 * Alerts for a bot that uses ccxt, from config alone: the events the ccxt recorder emits
 * (`exchangeDisconnected`, `exchangeReconnected`, `rateLimited`) go to a trading event hub with
 * the standard alert hooks on it, so the exchange-disconnect escalation and the rate-limit alert
 * reach the configured channels. The alert module is built only when the first ccxt exchange is
 * constructed, so a process that never uses ccxt (the reference process has its own) pays
 * nothing and gets no second alert manager.
 */
export function createExchangeAlerts(options: ExchangeAlertsOptions): ExchangeAlerts {
  const log = options.logger.child({ component: "ccxt" });
  const events = createTradingEvents({
    onListenerError: (event, error) =>
      log.warn("event listener failed", { event, error: describeError(error) }),
  });
  let running: { stop(): void; shutdown(): Promise<void> } | undefined;
  let stopped: Promise<void> | undefined;
  return {
    events,
    start() {
      if (running || stopped) return;
      try {
        // Loaded here, not at start-up: the channels and the outbox cost start-up time a bot without ccxt would pay.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const alerting = require("../../alerting/index.js") as typeof AlertingModule;
        const module = alerting.createAlerting(options.config, {
          logger: options.logger,
          health: options.health,
          metrics: options.metrics,
        });
        const hooks = alerting.attachTradingAlerts({
          events,
          alerter: module.manager,
          config: options.config,
          health: options.health,
        });
        running = { stop: () => hooks.stop(), shutdown: () => module.shutdown() };
      } catch (error) {
        log.error(`exchange alerts could not start: ${describeError(error)}`);
      }
    },
    shutdown() {
      stopped ??= (async () => {
        if (!running) return;
        running.stop();
        await running.shutdown();
      })();
      return stopped;
    },
  };
}
