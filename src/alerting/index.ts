/** The alert module: model, manager, channels, hooks and the factory, exported by name. */
export {
  ALERT_LEVELS,
  levelRank,
  type Alert,
  type AlertChannel,
  type AlertChannelKind,
  type AlertEvent,
  type AlertFieldValue,
  type AlertLevel,
  type AlertStatus,
  type Alerter,
  type DeliveryContext,
  type RaiseAlertInput,
} from "../alert-model/types.js";
export { ALERT_RULES, alertnameFor, type AlertRuleDefinition } from "../alert-model/rules.js";
export { fingerprintOf } from "../alert-model/model.js";
export { AlertManager, type AlertManagerOptions } from "./manager.js";
export { createAlerting, createChannels, type Alerting, type AlertingDeps } from "./create.js";
export { attachTradingAlerts, type TradingAlerts, type TradingAlertsOptions } from "./hooks.js";
export { foldJournal, type OutboxContents } from "./outbox.js";
export { OutboxLockedError, readOutboxLock, liveOutboxHolder, type OutboxLockInfo } from "./lock.js";
export { escapeHtml, splitMessage } from "../format/telegram-html.js";
export { traceLink, type GrafanaLinkOptions } from "../format/trace-link.js";
export { telegramBlocks, slackPayload, alertmanagerAlert, type PostableAlert } from "./format.js";
export { createLogChannel, type LogChannelOptions } from "./channels/log.js";
export { createJsonlChannel, type JsonlChannelOptions } from "./channels/jsonl.js";
export {
  foldAlertLines,
  formatAlertLine,
  readAlertLog,
  listAlertLogFiles,
  alertLogFile,
  appendAcknowledgement,
  cleanupAlertLogs,
  AlertLogFollower,
  type AlertLogFollowerOptions,
  type AlertLogLine,
} from "../alert-log/index.js";
export { createSlackChannel, type SlackChannelOptions } from "./channels/slack.js";
export { createTelegramChannel, type TelegramChannelOptions } from "./channels/telegram.js";
export { createAlertmanagerChannel, type AlertmanagerChannelOptions } from "./channels/alertmanager.js";
