import fs from "node:fs";
import path from "node:path";
import { TicktraceError, describeError } from "../errors.js";
import { isAlertLike } from "../alert-model/model.js";
import type { Alert, AlertEvent, AlertFieldValue, AlertLevel } from "../alert-model/types.js";
import { parseAlertLogLine } from "./log-line.js";

/**
 * The JSONL alert log: `<dir>/<YYYY-MM-DD>.jsonl` (UTC date of the line), append-only, one JSON
 * object per line, daily files kept `retention_days` (default 90). The alert module's JSONL
 * channel writes it; the CLI (`tail`, `status`, `ack`) and monitoring read it, all through this
 * module.
 *
 * ## Line format
 *
 * Every line is one event of one alert and carries the whole alert as it stood after the event:
 * six core fields (`timestamp` to `acknowledged`), then identity and lifecycle keys:
 *
 * | key               | type    | meaning                                                        |
 * | ----------------- | ------- | -------------------------------------------------------------- |
 * | `timestamp`       | string  | ISO-8601 time the alert started firing                         |
 * | `severity`        | string  | `INFO` / `WARNING` / `ERROR` / `CRITICAL`                      |
 * | `rule`            | string  | rule id, e.g. `circuit_breaker_tripped`                        |
 * | `message`         | string  | human text                                                     |
 * | `context`         | object  | the alert's fields                                             |
 * | `acknowledged`    | boolean | whether an operator acknowledged it                            |
 * | `id`              | string  | alert occurrence id (what `ack` takes)                         |
 * | `fingerprint`     | string  | rule plus identifying labels                                   |
 * | `status`          | string  | `firing` or `resolved`                                         |
 * | `title`           | string  | short title                                                    |
 * | `labels`          | object  | identifying labels                                             |
 * | `event`           | string  | `firing`, `escalated`, `acknowledged` or `resolved`            |
 * | `event_time`      | string  | ISO-8601 time of this line's event                             |
 * | `trace_id`        | string? | trace of the tick that caused it                               |
 * | `resolved_at`     | string? | when resolved                                                  |
 * | `acknowledged_by` | string? | who acknowledged (`telegram:@alice`, `cli`)                    |
 * | `acknowledged_at` | string? | when acknowledged                                              |
 * | `run_id`          | string? | the run (process) that raised it; see docs/alert-guarantees.md |
 * | `resolve_reason`  | string? | why it was resolved, when not by its producer (restarts)       |
 *
 * To read the log, fold it: read the files in date order, lines in file order, and let each line
 * update the alert with its `id` ({@link foldAlertLines}). A line may be partial: a writer that
 * only knows the id (the CLI's `ack`) appends
 * `{"id":"3f9a2c-1","event":"acknowledged","event_time":"...","acknowledged":true,"acknowledged_by":"cli"}`
 * ({@link appendAcknowledgement}), and the fold merges it into the earlier full line.
 */
export interface AlertLogLine {
  timestamp: string;
  severity: AlertLevel;
  rule: string;
  message: string;
  context: Record<string, AlertFieldValue>;
  acknowledged: boolean;
  id: string;
  fingerprint: string;
  status: "firing" | "resolved";
  title: string;
  labels: Record<string, string>;
  event: AlertEvent;
  event_time: string;
  trace_id?: string;
  resolved_at?: string;
  acknowledged_by?: string;
  acknowledged_at?: string;
  run_id?: string;
  resolve_reason?: string;
}

/** The file a line written at `atMs` goes to. */
export function alertLogFile(dir: string, atMs: number): string {
  return path.join(dir, `${new Date(atMs).toISOString().slice(0, 10)}.jsonl`);
}

/** One line (without the newline) for an alert event. */
export function formatAlertLine(alert: Alert, event: AlertEvent, atMs: number): string {
  const line: AlertLogLine = {
    timestamp: alert.timestamp,
    severity: alert.level,
    rule: alert.rule,
    message: alert.message,
    context: { ...alert.fields },
    acknowledged: alert.acknowledged,
    id: alert.id,
    fingerprint: alert.fingerprint,
    status: alert.status,
    title: alert.title,
    labels: { ...alert.labels },
    event,
    event_time: new Date(atMs).toISOString(),
    ...(alert.traceId ? { trace_id: alert.traceId } : {}),
    ...(alert.resolvedAt ? { resolved_at: alert.resolvedAt } : {}),
    ...(alert.acknowledgedBy ? { acknowledged_by: alert.acknowledgedBy } : {}),
    ...(alert.acknowledgedAt ? { acknowledged_at: alert.acknowledgedAt } : {}),
    ...(alert.runId ? { run_id: alert.runId } : {}),
    ...(alert.resolveReason ? { resolve_reason: alert.resolveReason } : {}),
  };
  return JSON.stringify(line);
}

/**
 * Folds alert-log lines (in file order, oldest file first) into the latest state of each alert,
 * newest first. Blank, torn and foreign lines are skipped; partial lines merge into the alert
 * they name. Pure: the CLI's `tail`, `status` and `ack` build on it.
 */
export function foldAlertLines(lines: Iterable<string>): Alert[] {
  const byId = new Map<string, Alert>();
  for (const text of lines) {
    if (text.trim() === "") continue;
    const raw = parseAlertLogLine(text);
    if (!raw) continue;
    const before = byId.get(raw.id);
    const merged = {
      ...before,
      id: raw.id,
      ...(raw.fingerprint !== undefined ? { fingerprint: raw.fingerprint } : {}),
      ...(raw.rule !== undefined ? { rule: raw.rule } : {}),
      ...(raw.severity !== undefined ? { level: raw.severity } : {}),
      ...(raw.title !== undefined ? { title: raw.title } : {}),
      ...(raw.message !== undefined ? { message: raw.message } : {}),
      ...(raw.timestamp !== undefined ? { timestamp: raw.timestamp } : {}),
      ...(raw.labels !== undefined ? { labels: raw.labels } : {}),
      ...(raw.context !== undefined ? { fields: raw.context } : {}),
      ...(raw.trace_id !== undefined ? { traceId: raw.trace_id } : {}),
      ...(raw.status !== undefined ? { status: raw.status } : {}),
      ...(raw.acknowledged !== undefined ? { acknowledged: raw.acknowledged } : {}),
      ...(raw.resolved_at !== undefined ? { resolvedAt: raw.resolved_at } : {}),
      ...(raw.acknowledged_by !== undefined ? { acknowledgedBy: raw.acknowledged_by } : {}),
      ...(raw.acknowledged_at !== undefined ? { acknowledgedAt: raw.acknowledged_at } : {}),
      ...(typeof raw.run_id === "string" ? { runId: raw.run_id } : {}),
      ...(typeof raw.resolve_reason === "string" ? { resolveReason: raw.resolve_reason } : {}),
    } as Partial<Alert> & { id: string };
    if (raw.event === "resolved" && merged.status === undefined)
      (merged as { status: string }).status = "resolved";
    byId.set(raw.id, { labels: {}, fields: {}, status: "firing", acknowledged: false, ...merged } as Alert);
  }
  return [...byId.values()]
    .filter(isAlertLike)
    .sort((a, b) => (a.timestamp < b.timestamp ? 1 : a.timestamp > b.timestamp ? -1 : 0));
}

/** The alert-log files in `dir`, oldest first (`YYYY-MM-DD.jsonl` only). */
export function listAlertLogFiles(dir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new TicktraceError("IO", `cannot list the alert log ${dir}: ${describeError(error)}`, {
      cause: error,
    });
  }
  return names
    .filter((name) => /^\d{4}-\d{2}-\d{2}\.jsonl$/.test(name))
    .sort()
    .map((name) => path.join(dir, name));
}

/** Reads and folds the whole alert log in `dir` (every retained day). */
export function readAlertLog(dir: string): Alert[] {
  const lines: string[] = [];
  for (const file of listAlertLogFiles(dir)) lines.push(...fs.readFileSync(file, "utf8").split("\n"));
  return foldAlertLines(lines);
}

/**
 * Appends an acknowledgement line for `id` (what the CLI's `ack` writes). Throws NOT_FOUND when
 * the log holds no alert with that id.
 */
export async function appendAcknowledgement(
  dir: string,
  id: string,
  by: string,
  nowMs: number = Date.now(),
): Promise<Alert> {
  const alert = readAlertLog(dir).find((candidate) => candidate.id === id);
  if (!alert) throw new TicktraceError("NOT_FOUND", `no alert with id "${id}" in ${dir}`);
  const at = new Date(nowMs).toISOString();
  const line = {
    id,
    event: "acknowledged",
    event_time: at,
    acknowledged: true,
    acknowledged_by: by,
    acknowledged_at: at,
  };
  await fs.promises.mkdir(dir, { recursive: true });
  await fs.promises.appendFile(alertLogFile(dir, nowMs), `${JSON.stringify(line)}\n`);
  return { ...alert, acknowledged: true, acknowledgedBy: by, acknowledgedAt: at };
}

/** Deletes daily files older than `retentionDays` (by the date in the name). Returns the deleted paths. */
export async function cleanupAlertLogs(dir: string, retentionDays: number, nowMs: number): Promise<string[]> {
  const cutoff = new Date(nowMs - retentionDays * 86_400_000).toISOString().slice(0, 10);
  const deleted: string[] = [];
  for (const file of listAlertLogFiles(dir)) {
    if (path.basename(file, ".jsonl") < cutoff) {
      await fs.promises.rm(file, { force: true });
      deleted.push(file);
    }
  }
  return deleted;
}
