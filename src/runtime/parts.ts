/**
 * The composition root of a ticktrace process: what the runtime builds from `config.yaml` beside
 * telemetry and health. The reference process (`npm start`) and a user's bot get the same
 * wiring from here:
 *
 * - the trading event hub, with the alert module's trading rules attached to it;
 * - the alert module (channels from `alerts.*`, plus the bot's own), started once the servers
 *   listen (or at the first alert, when that comes earlier);
 * - the monitoring service (`monitoring.*`), started with the alert module or on first use;
 * - the decision recorder (`decisions.*`), created on first use;
 * - the Telegram command bot (`bot.*`), started in the background once the runtime is ready.
 *
 * Heavy modules are `require`d on first use, so a process that never raises an alert does not
 * load the alert channels, and start-up costs what it did before.
 */
import type { Tracer } from "@opentelemetry/api";
import type * as AlertingCreate from "../alerting/create.js";
import type * as AlertingHooks from "../alerting/hooks.js";
import type { Alert, AlertChannel, Alerter, RaiseAlertInput } from "../alert-model/types.js";
import type * as BotFromConfig from "../bot/from-config.js";
import type { BotStatusProviders } from "../bot/commands.js";
import type { TelegramBot } from "../bot/bot.js";
import type { Clock } from "../clock.js";
import type { Config } from "../config/schema.js";
import type * as DecisionsFromConfig from "../decisions/from-config.js";
import type { DecisionRecorder } from "../decisions/recorder.js";
import type { DecisionReader } from "../decisions/types.js";
import { describeError, TicktraceError } from "../errors.js";
import type { HealthRegistry } from "../health/registry.js";
import type { Logger } from "../logging/logger.js";
import type * as MonitoringCreate from "../monitoring/create.js";
import type { SnapshotSource } from "../monitoring/service.js";
import { hasOptionalPackage } from "../optional.js";
import type { TradingMetrics } from "../telemetry/metrics.js";
import { createEventHub, type TradingEventHub } from "./event-hub.js";

/**
 * @internal How the parts load the modules they use. The default `require`s the built files on
 * first use; tests that run the sources (where `require` cannot load TypeScript) pass modules
 * they imported.
 */
export interface PartsModules {
  alerting: () => Pick<typeof AlertingCreate, "createAlerting">;
  hooks: () => Pick<typeof AlertingHooks, "attachTradingAlerts">;
  monitoring: () => Pick<typeof MonitoringCreate, "startMonitoring">;
  decisions: () => Pick<typeof DecisionsFromConfig, "createDecisionRecorderFromConfig">;
  bot: () => Pick<typeof BotFromConfig, "startTelegramBotFromConfig">;
}

/* eslint-disable @typescript-eslint/no-require-imports -- modules are loaded on first use, see above */
const requireModules: PartsModules = {
  alerting: () => require("../alerting/create.js") as typeof AlertingCreate,
  hooks: () => require("../alerting/hooks.js") as typeof AlertingHooks,
  monitoring: () => require("../monitoring/create.js") as typeof MonitoringCreate,
  decisions: () => require("../decisions/from-config.js") as typeof DecisionsFromConfig,
  bot: () => require("../bot/from-config.js") as typeof BotFromConfig,
};
/* eslint-enable @typescript-eslint/no-require-imports */

/**
 * The runtime's alert module: raise, resolve and acknowledge alerts that go to the channels
 * `config.yaml` enables. Built on first use; {@link RuntimeAlerts.addChannel} adds your own
 * channel before that.
 */
export interface RuntimeAlerts extends Alerter {
  /**
   * Adds your own channel (see `AlertChannel`) to the configured ones. Call it on the first lines
   * of your program, before the runtime is ready (the alert module starts then, or at an earlier
   * first alert); after that it throws `INVALID_STATE`, because the outbox already owes
   * notifications to a fixed set of channels. With `startRuntime`, pass the `channels` option.
   */
  addChannel(channel: AlertChannel): void;
  /** Names of the channels alerts go to, `log` first. Starts the alert module. */
  channelNames(): string[];
}

/** The runtime's monitoring service: feed it a snapshot after each tick. */
export interface RuntimeMonitoring {
  /**
   * Records the state after a tick (constant cost, never throws); the rules run off the tick
   * path every `monitoring.evaluation_interval_ms`. Pass a function to build the snapshot only
   * when it is needed.
   */
  readonly recordTick: (snapshot: SnapshotSource) => void;
}

/** The runtime's Telegram command bot (`bot.*`, on by default when Telegram alerts are). */
export interface RuntimeBot {
  /** Whether `config.yaml` turns the bot on. */
  readonly enabled: boolean;
  /** Tells the bot how to read your process's state; may be called before or after it started. */
  provide(providers: BotStatusProviders): void;
}

/** What the parts are built from: the runtime's core. */
export interface PartsCore {
  config: Config;
  logger: Logger;
  health: HealthRegistry;
  metrics: TradingMetrics;
  tracer: Tracer;
  clock?: Clock;
  /** Channels added to the configured ones (before the alert module starts). */
  channels?: readonly AlertChannel[];
  modules?: PartsModules;
}

/** @internal The composition root's parts, owned by the runtime. */
export interface RuntimeParts {
  readonly events: TradingEventHub;
  readonly alerts: RuntimeAlerts;
  readonly monitoring: RuntimeMonitoring | undefined;
  readonly decisions: DecisionRecorder | undefined;
  readonly bot: RuntimeBot;
  /**
   * Start-up once the servers listen: the alert module (outbox lock, pending deliveries of a
   * previous run), then the bot when configured. Throws `OutboxLockedError` when another live
   * process holds the outbox; a failing bot is logged.
   */
  start(): void;
  /** Bot, decisions, monitoring, then alerts (so alerts raised while stopping still go out). Idempotent. */
  shutdown(): Promise<void>;
}

/** Builds the parts; nothing is loaded or started until first use (or {@link RuntimeParts.start}). */
export function createRuntimeParts(core: PartsCore): RuntimeParts {
  const { config, logger } = core;
  const load = core.modules ?? requireModules;
  const log = logger.child({ component: "runtime" });
  const extraChannels: AlertChannel[] = [...(core.channels ?? [])];
  let alerting: AlertingCreate.Alerting | undefined;
  let tradingAlerts: AlertingHooks.TradingAlerts | undefined;
  let monitoring: MonitoringCreate.Monitoring | undefined;
  let monitoringStarted = false;
  let monitoringView: RuntimeMonitoring | undefined;
  let recorder: DecisionRecorder | undefined;
  let recorderCreated = false;
  let bot: TelegramBot | undefined;
  let stopping: Promise<void> | undefined;
  const status: BotStatusProviders = {};
  // As `botEnabled` in bot/from-config.ts says, without loading it: the bot follows Telegram alerts unless set.
  const botOn = config.bot.enabled ?? config.alerts.telegram.enabled;

  const events = createEventHub({
    onInvalidPayload: (event, problem) => log.warn(`event ${event}: ${problem}`, { event }),
    onListenerError: (event, error) =>
      log.warn("event listener failed", { event, error: describeError(error) }),
    beforeFirstEmit: () => void manager(),
  });

  function manager(): AlertingCreate.Alerting["manager"] {
    return alertingParts().manager;
  }

  /** The alert module, built on first use. */
  function alertingParts(): AlertingCreate.Alerting {
    if (alerting) return alerting;
    const built = load.alerting().createAlerting(config, {
      logger,
      health: core.health,
      metrics: core.metrics,
      channels: extraChannels,
      ...(core.clock ? { clock: core.clock } : {}),
    });
    alerting = built;
    tradingAlerts = load.hooks().attachTradingAlerts({
      events,
      alerter: built.manager,
      config,
      health: core.health,
      ...(core.clock ? { clock: core.clock } : {}),
    });
    // Acks from `ticktrace monitor ack` reach the alert module through monitoring; a monitoring
    // that cannot start must not take the alerts down with it.
    try {
      startMonitoring();
    } catch (error) {
      log.error(`monitoring did not start: ${describeError(error)}`);
    }
    return built;
  }

  function startMonitoring(): MonitoringCreate.Monitoring | undefined {
    if (monitoringStarted) return monitoring;
    monitoringStarted = true;
    if (!config.monitoring.enabled) return undefined;
    monitoring = load.monitoring().startMonitoring(config, {
      alerter: manager(),
      logger,
      metrics: core.metrics,
      health: core.health,
      ...(core.clock ? { clock: core.clock } : {}),
    });
    return monitoring;
  }

  function decisions(): DecisionRecorder | undefined {
    if (recorderCreated) return recorder;
    // Throws a ConfigError naming `decisions.store` when the store's optional package is missing.
    recorder = load.decisions().createDecisionRecorderFromConfig(config.decisions, {
      tracer: core.tracer,
      metrics: core.metrics,
      logger,
      health: core.health,
      ...(core.clock ? { clock: core.clock } : {}),
    });
    recorderCreated = true;
    return recorder;
  }

  const alerts: RuntimeAlerts = {
    raise: (input: RaiseAlertInput): Alert | undefined => manager().raise(input),
    resolve: (rule, labels) => manager().resolve(rule, labels),
    acknowledge: (id, by) => manager().acknowledge(id, by),
    active: () => manager().active(),
    addChannel(channel) {
      if (alerting) {
        throw new TicktraceError(
          "INVALID_STATE",
          `alerts.addChannel("${channel.name}"): the alert module has already started; add channels on the first lines of the program (before the runtime is ready), or pass them to startRuntime as the channels option`,
        );
      }
      extraChannels.push(channel);
    },
    channelNames() {
      return alertingParts().channels.map((channel) => channel.name);
    },
  };

  /** The bot's view of the decision store, created on the first command that reads it. */
  const lazyReader: DecisionReader = {
    getSession: (id) => reader().getSession(id),
    latestDecision: (strategyId) => reader().latestDecision(strategyId),
    latestDecisionsBySymbol: (symbols) => reader().latestDecisionsBySymbol(symbols),
    recentSessions: (options) => reader().recentSessions(options),
  };
  function reader(): DecisionReader {
    const created = decisions();
    if (!created) throw new TicktraceError("INVALID_STATE", "decision traces are off (decisions.enabled)");
    return created.reader;
  }

  function startBot(): void {
    if (!botOn) return;
    if (!hasOptionalPackage("grammy")) {
      // An explicit `bot.enabled: true` was refused at start-up (exit 2); here the bot was only
      // implied by `alerts.telegram.enabled`, so alerts go on without it.
      log.warn(
        "the Telegram command bot is off: it needs the optional package grammy (npm install grammy); set bot.enabled: false to silence this",
      );
      return;
    }
    bot = load.bot().startTelegramBotFromConfig(config, {
      // Read at each command, so providers given after start-up count.
      status: () => status.status?.(),
      portfolio: () => status.portfolio?.(),
      alerter: alerts,
      health: core.health,
      logger,
      ...(config.decisions.enabled ? { decisions: lazyReader } : {}),
      ...(core.clock ? { clock: core.clock } : {}),
    });
  }

  return {
    events,
    alerts,
    get monitoring() {
      const started = startMonitoring();
      if (started) monitoringView ??= { recordTick: started.recordTick };
      return monitoringView;
    },
    get decisions() {
      return decisions();
    },
    bot: {
      enabled: botOn,
      provide(providers) {
        if (providers.status) status.status = providers.status;
        if (providers.portfolio) status.portfolio = providers.portfolio;
      },
    },
    start() {
      // The alert module starts with the runtime, not at the first alert: it takes the outbox
      // lock (a second process on one outbox must hear of it now) and delivers what a previous
      // run left pending. A held lock (OutboxLockedError) rejects the runtime's `ready`; any
      // other failure is logged, and the next event tries again.
      try {
        manager();
      } catch (error) {
        if (error instanceof Error && error.name === "OutboxLockedError") throw error;
        log.error(`the alert module did not start: ${describeError(error)}`);
      }
      try {
        startBot();
      } catch (error) {
        log.error(`the Telegram command bot did not start: ${describeError(error)}`);
      }
    },
    shutdown() {
      stopping ??= (async () => {
        const step = async (what: string, part: { shutdown(): Promise<void> | void } | undefined) => {
          try {
            await part?.shutdown();
          } catch (error) {
            log.error(`shutdown of ${what} failed: ${describeError(error)}`);
          }
        };
        await step("the Telegram bot", bot);
        await step("the decision recorder", recorder);
        await step("monitoring", monitoring);
        tradingAlerts?.stop();
        await step("alerts", alerting);
      })();
      return stopping;
    },
  };
}
