/**
 * The alert log: the JSONL files the alert module's JSONL channel writes and the CLI and
 * monitoring read (line format, folding, listing, acknowledgement lines, retention, following).
 */
export {
  alertLogFile,
  appendAcknowledgement,
  cleanupAlertLogs,
  foldAlertLines,
  formatAlertLine,
  listAlertLogFiles,
  readAlertLog,
  type AlertLogLine,
} from "./store.js";
export { AlertLogFollower, type AlertLogFollowerOptions } from "./follower.js";
