/**
 * The runtime's lazily loaded modules, imported from the sources: `require` in the runtime loads
 * the built files, which a test running the TypeScript sources does not use.
 */
import { createAlerting } from "../../src/alerting/create.js";
import { attachTradingAlerts } from "../../src/alerting/hooks.js";
import { startTelegramBotFromConfig } from "../../src/bot/from-config.js";
import { createDecisionRecorderFromConfig } from "../../src/decisions/from-config.js";
import { startMonitoring } from "../../src/monitoring/create.js";
import type { PartsModules } from "../../src/runtime/parts.js";

export const sourceModules: PartsModules = {
  alerting: () => ({ createAlerting }),
  hooks: () => ({ attachTradingAlerts }),
  monitoring: () => ({ startMonitoring }),
  decisions: () => ({ createDecisionRecorderFromConfig }),
  bot: () => ({ startTelegramBotFromConfig }),
};
