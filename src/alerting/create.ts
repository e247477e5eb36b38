import path from "node:path";
import type { Meter } from "@opentelemetry/api";
import type { Clock } from "../clock.js";
import type { Config } from "../config/schema.js";
import { describeError, redact } from "../errors.js";
import type { HealthRegistry } from "../health/registry.js";
import type { Logger } from "../logging/logger.js";
import { startKnownSeriesAtZero } from "../telemetry/known-series.js";
import { createTradingMetrics, type TradingMetrics } from "../telemetry/metrics.js";
import { createAlertmanagerChannel } from "./channels/alertmanager.js";
import { createJsonlChannel } from "./channels/jsonl.js";
import { createLogChannel } from "./channels/log.js";
import { createSlackChannel } from "./channels/slack.js";
import { createTelegramChannel } from "./channels/telegram.js";
import type { GrafanaLinkOptions } from "../format/trace-link.js";
import { AlertManager, type AlertManagerOptions } from "./manager.js";
import { ALERT_RULES } from "../alert-model/rules.js";
import { ALERT_LEVELS, type AlertChannel } from "../alert-model/types.js";

/** What the composition root hands to {@link createAlerting} (a `Runtime` fits). */
export interface AlertingDeps {
  logger: Logger;
  health?: HealthRegistry;
  meter?: Meter;
  metrics?: TradingMetrics;
  clock?: Clock;
  /** Your own channels, added to the configured ones. */
  channels?: readonly AlertChannel[];
  /** Relative `alerts.jsonl.dir` and `alerts.outbox.dir` resolve against this (default: the working directory). */
  baseDir?: string;
  /** Passed through to the manager (tests shorten retries). */
  manager?: Partial<
    Pick<AlertManagerOptions, "retry" | "fsync" | "random" | "defaultTimeoutMs" | "runId" | "restartGraceMs">
  >;
}

export interface Alerting {
  manager: AlertManager;
  /** The channels built from config, log first. */
  channels: readonly AlertChannel[];
  /** Drains briefly, then stops delivery and closes the outbox. Idempotent. */
  shutdown(): Promise<void>;
}

/** The channels `config.alerts` enables, log first (pure apart from the JSONL retention timer). */
export function createChannels(
  config: Pick<Config, "alerts" | "grafana" | "service">,
  deps: AlertingDeps,
): AlertChannel[] {
  const alerts = config.alerts;
  const clock = deps.clock;
  const grafana: GrafanaLinkOptions = {
    url: config.grafana.url,
    tempoDatasourceUid: config.grafana.tempo_datasource_uid,
  };
  const resolveDir = (dir: string) => path.resolve(deps.baseDir ?? process.cwd(), dir);
  const channels: AlertChannel[] = [
    createLogChannel({ logger: deps.logger, minLevel: alerts.log.min_level }),
  ];
  if (alerts.jsonl.enabled) {
    channels.push(
      createJsonlChannel({
        dir: resolveDir(alerts.jsonl.dir),
        minLevel: alerts.jsonl.min_level,
        retentionDays: alerts.jsonl.retention_days,
        ...(clock ? { clock } : {}),
        onCleanupError: (error) =>
          deps.logger.warn(`alert log retention failed: ${describeError(error)}`, { component: "alert" }),
      }),
    );
  }
  if (alerts.slack.enabled) {
    channels.push(
      createSlackChannel({
        webhookUrl: alerts.slack.webhook_url,
        channel: alerts.slack.channel,
        minLevel: alerts.slack.min_level,
        timeoutMs: alerts.slack.timeout_ms,
        grafana,
      }),
    );
  }
  if (alerts.telegram.enabled) {
    channels.push(
      createTelegramChannel({
        botToken: alerts.telegram.bot_token,
        chatId: alerts.telegram.chat_id,
        apiUrl: alerts.telegram.api_url,
        minLevel: alerts.telegram.min_level,
        timeoutMs: alerts.telegram.timeout_ms,
        grafana,
      }),
    );
  }
  if (alerts.alertmanager.enabled) {
    channels.push(
      createAlertmanagerChannel({
        url: alerts.alertmanager.url,
        serviceName: config.service.name,
        minLevel: alerts.alertmanager.min_level,
        resendIntervalMs: alerts.alertmanager.resend_interval_ms,
        timeoutMs: alerts.alertmanager.timeout_ms,
        grafana,
      }),
    );
  }
  return [...channels, ...(deps.channels ?? [])];
}

/**
 * Builds the alert manager and its channels from config and starts it (see
 * {@link AlertManager.start}: throws `OutboxLockedError` when another live process holds
 * `alerts.outbox.dir`), for the composition root:
 *
 * ```ts
 * const alerting = createAlerting(runtime.config, runtime);
 * attachTradingAlerts({ events, alerter: alerting.manager, config: runtime.config, health: runtime.health });
 * runtime.onShutdown(() => alerting.shutdown());
 * ```
 */
export function createAlerting(
  config: Pick<Config, "alerts" | "grafana" | "service">,
  deps: AlertingDeps,
): Alerting {
  const alerts = config.alerts;
  const channels = createChannels(config, deps);
  const manager = new AlertManager({
    channels,
    logger: deps.logger,
    serviceName: config.service.name,
    enabled: alerts.enabled,
    outboxDir: path.resolve(deps.baseDir ?? process.cwd(), alerts.outbox.dir),
    repeatIntervalMs: alerts.repeat_interval_ms,
    storm: { windowMs: alerts.storm.window_ms, maxPerWindow: alerts.storm.max_per_window },
    maxAgeMs: alerts.outbox.max_age_ms,
    restartGraceMs: alerts.outbox.restart_grace_ms,
    ...(deps.clock ? { clock: deps.clock } : {}),
    ...(deps.health ? { health: deps.health } : {}),
    ...(deps.metrics ? { metrics: deps.metrics } : deps.meter ? { meter: deps.meter } : {}),
    ...deps.manager,
  });
  // The delivery and raise counters of every channel, rule and level start at 0.
  startKnownSeriesAtZero(deps.metrics ?? createTradingMetrics(deps.meter), {
    alertChannels: channels.map((channel) => channel.name),
    alertRules: Object.values(ALERT_RULES).map((definition) => definition.id),
    alertLevels: ALERT_LEVELS,
  });
  // Takes the outbox lock (throws OutboxLockedError when another process holds it) and recovers.
  manager.start();
  const names = channels.map((channel) => channel.name).join(", ");
  deps.logger.info(`alerting: channels ${names}`, { component: "alert", outbox: redact(alerts.outbox.dir) });
  return { manager, channels, shutdown: () => manager.shutdown() };
}
