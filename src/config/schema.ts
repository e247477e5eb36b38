import { z } from "zod";
import { configRuleIssues } from "./rules.js";
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

const sections = z.strictObject({
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
});

/**
 * The whole of `config.yaml`. Every key has a default (an empty file is valid); unknown keys
 * are errors. Section files under `sections/` are the one place defaults are written down.
 * The preload checks a config against the shape generated from this schema (shape.ts) and
 * loads zod only when that check fails: run `npm run config:shape` after changing it.
 */
export const configSchema = sections.superRefine((config, ctx) => {
  // The rules live apart from zod so the fast check (shape.ts) applies the same ones.
  for (const issue of configRuleIssues(config)) ctx.addIssue({ code: "custom", ...issue });
});

/** The validated configuration, as the process sees it. Frozen: nothing changes it after load. */
export type Config = z.output<typeof configSchema>;
/** What a `config.yaml` may contain (every key optional). */
export type ConfigInput = z.input<typeof configSchema>;
