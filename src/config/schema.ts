import { z } from "zod";
import { alertsSection } from "./sections/alerts.js";
import { botSection } from "./sections/bot.js";
import { decisionsSection } from "./sections/decisions.js";
import { grafanaSection } from "./sections/grafana.js";
import { healthSection } from "./sections/health.js";
import { loggingSection } from "./sections/logging.js";
import { monitoringSection } from "./sections/monitoring.js";
import { serviceSection } from "./sections/service.js";
import { telemetrySection } from "./sections/telemetry.js";
import { tradingSection } from "./sections/trading.js";

/**
 * The whole of `config.yaml`. Every key has a default (an empty file is valid); unknown keys
 * are errors. Section files under `sections/` are the one place defaults are written down.
 */
export const configSchema = z
  .strictObject({
    service: serviceSection,
    health: healthSection,
    telemetry: telemetrySection,
    logging: loggingSection,
    alerts: alertsSection,
    monitoring: monitoringSection,
    trading: tradingSection,
    bot: botSection,
    decisions: decisionsSection,
    grafana: grafanaSection,
  })
  .superRefine((config, ctx) => {
    const requireWhen = (enabled: boolean, value: string, path: string[], what: string) => {
      if (enabled && value.trim() === "") {
        ctx.addIssue({
          code: "custom",
          path,
          message: `${what} is required when ${path.slice(0, -1).join(".")}.enabled is true`,
        });
      }
    };
    const { slack, telegram } = config.alerts;
    requireWhen(
      slack.enabled,
      slack.webhook_url,
      ["alerts", "slack", "webhook_url"],
      "a Slack incoming-webhook URL",
    );
    requireWhen(
      telegram.enabled,
      telegram.bot_token,
      ["alerts", "telegram", "bot_token"],
      "a Telegram bot token",
    );
    requireWhen(telegram.enabled, telegram.chat_id, ["alerts", "telegram", "chat_id"], "a Telegram chat id");
    if (slack.enabled && slack.webhook_url !== "" && !/^https?:\/\//.test(slack.webhook_url)) {
      ctx.addIssue({
        code: "custom",
        path: ["alerts", "slack", "webhook_url"],
        message: "expected an http(s) URL",
      });
    }
    if (
      config.decisions.enabled &&
      config.decisions.store === "postgres" &&
      config.decisions.postgres_url === ""
    ) {
      ctx.addIssue({
        code: "custom",
        path: ["decisions", "postgres_url"],
        message: "a PostgreSQL URL is required when decisions.store is postgres",
      });
    }
    if (config.bot.enabled === true && config.alerts.telegram.bot_token === "") {
      ctx.addIssue({
        code: "custom",
        path: ["bot", "enabled"],
        message: "the bot needs alerts.telegram.bot_token (and api_url) to be set",
      });
    }
  });

/** The validated configuration, as the process sees it. Frozen: nothing changes it after load. */
export type Config = z.output<typeof configSchema>;
/** What a `config.yaml` may contain (every key optional). */
export type ConfigInput = z.input<typeof configSchema>;
