import { userInfo } from "node:os";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import * as asciichart from "asciichart";
import { AlertLogFollower, appendAcknowledgement, readAlertLog } from "../alert-log/index.js";
import { parseAlertLogLine } from "../alert-log/log-line.js";
import { processAlive, readOutboxLock } from "../alerting/lock.js";
import { atLeast, parseLevel } from "../alert-model/model.js";
import type { Alert, AlertLevel } from "../alert-model/types.js";
import { loadConfig } from "../config/index.js";
import { TicktraceError } from "../errors.js";
import { formatDuration } from "../format/duration.js";
import { formatNumber } from "../format/number.js";
import { listSnapshotFiles, readDir, readSnapshots } from "../monitoring/files.js";
import { checkHealth, healthUrlFromConfig } from "../monitoring/health-check.js";
import { aggregateSnapshots, numericFields, type TimedSnapshot } from "../monitoring/history.js";
import { parseDuration, parsePositiveInt, parseSince } from "./args.js";
import { colorLevel, colorStatus, colorsFor, formatLabels, table, type CliIo } from "./output.js";

export const MONITOR_USAGE = `Usage: ticktrace monitor <command> [options]

Commands:
  tail                 Follow the alert log live (across the midnight file change)
  status               Active alerts: firing, not acknowledged, not resolved
  health               Query a running process's /health; exit 0 healthy, 1 degraded, 2 unhealthy/unreachable
  metrics              Snapshot history: latest, one field over time, aggregates, a chart
  ack <alert-id>       Acknowledge an alert (appended to the alert log; a running process picks it up)

Options for every command:
  --config FILE        Config file (default: TICKTRACE_CONFIG, else ./config.yaml)
  --url URL            Health server base URL (default http://<health.host>:<health.port>)
  --alerts-dir DIR     Alert log directory (default alerts.jsonl.dir)
  --snapshots-dir DIR  Snapshot directory (default monitoring.snapshot_dir)
  --json               Machine-readable output
  -h, --help           This help

tail:     --since 1h|ISO  --level WARNING  --no-follow  --interval-ms 500
status:   --all (also acknowledged ones)
health:   --timeout-ms 3000
metrics:  --since 1h|ISO  --field pnl.daily  --window 5m  --chart  --list-fields
ack:      --by NAME (default cli:<user>)

Examples:
  ticktrace monitor tail --level WARNING
  ticktrace monitor health --url http://127.0.0.1:8080 && echo ok
  ticktrace monitor metrics --field pnl.daily --since 6h --chart
  ticktrace monitor metrics --window 15m --field positions.count --json
`;

const OPTIONS = {
  config: { type: "string" },
  url: { type: "string" },
  "alerts-dir": { type: "string" },
  "snapshots-dir": { type: "string" },
  json: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
  since: { type: "string" },
  level: { type: "string" },
  "no-follow": { type: "boolean", default: false },
  "interval-ms": { type: "string" },
  all: { type: "boolean", default: false },
  "timeout-ms": { type: "string" },
  field: { type: "string" },
  window: { type: "string" },
  chart: { type: "boolean", default: false },
  "list-fields": { type: "boolean", default: false },
  by: { type: "string" },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>["values"];

export interface MonitorContext {
  io: CliIo;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Stops `tail` following (Ctrl-C). */
  signal?: AbortSignal;
  now?: () => number;
}

/** Where the commands look, from the config file and the override flags. */
interface Targets {
  url: string | undefined;
  alertsDir: string;
  snapshotsDir: string;
  /** `alerts.outbox.dir`: its lock file names the running process and its run id. */
  outboxDir: string;
}

function targets(values: Values, context: MonitorContext): Targets {
  const argv = values.config !== undefined ? ["--config", values.config] : [];
  const { config } = loadConfig({ argv, env: context.env, cwd: context.cwd });
  const url = values.url ?? (config.health.port === 0 ? undefined : healthUrlFromConfig(config.health));
  return {
    url,
    alertsDir: resolve(context.cwd, values["alerts-dir"] ?? config.alerts.jsonl.dir),
    snapshotsDir: resolve(context.cwd, values["snapshots-dir"] ?? config.monitoring.snapshot_dir),
    outboxDir: resolve(context.cwd, config.alerts.outbox.dir),
  };
}

/** Runs `ticktrace monitor ...`; returns the exit code. Errors reach the caller as TicktraceError. */
export async function runMonitor(argv: readonly string[], context: MonitorContext): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    // Node's messages are long and change between versions: name the option and point at --help.
    const option = /'([^']+)'/.exec((error as Error).message)?.[1];
    const what =
      (error as NodeJS.ErrnoException).code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && option
        ? `unknown option ${option}`
        : ((error as Error).message.split(". ")[0] ?? "");
    throw new TicktraceError("INVALID_ARGUMENT", `${what} (see ticktrace monitor --help)`);
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help || command === undefined || command === "help") {
    context.io.stdout(MONITOR_USAGE);
    return command === undefined && !values.help ? 2 : 0;
  }
  const expectArgs = (count: number, usage: string) => {
    if (rest.length !== count)
      throw new TicktraceError("INVALID_ARGUMENT", `usage: ticktrace monitor ${usage}`);
  };
  switch (command) {
    case "tail":
      expectArgs(0, "tail [--since 1h] [--level WARNING] [--json] [--no-follow]");
      return tail(values, context);
    case "status":
      expectArgs(0, "status [--all] [--json]");
      return status(values, context);
    case "health":
      expectArgs(0, "health [--url URL] [--json]");
      return health(values, context);
    case "metrics":
      expectArgs(0, "metrics [--since 1h] [--field pnl.daily] [--window 5m] [--chart] [--json]");
      return metrics(values, context);
    case "ack":
      expectArgs(1, "ack <alert-id> [--by NAME]");
      return ack(rest[0] ?? "", values, context);
    default:
      throw new TicktraceError(
        "INVALID_ARGUMENT",
        `unknown command "${command}" (commands: tail, status, health, metrics, ack; see ticktrace monitor --help)`,
      );
  }
}

// --- tail ---

async function tail(values: Values, context: MonitorContext): Promise<number> {
  const { alertsDir } = targets(values, context);
  // A missing directory is where a process has not raised its first alert yet: follow it anyway.
  const exists = await directoryExists(alertsDir, "alert directory", "--alerts-dir or alerts.jsonl.dir");
  const now = context.now ?? Date.now;
  const sinceMs = values.since !== undefined ? parseSince(values.since, now()) : undefined;
  const minLevel = values.level !== undefined ? levelOption(values.level) : undefined;
  const intervalMs =
    values["interval-ms"] !== undefined ? parsePositiveInt(values["interval-ms"], "--interval-ms") : 500;
  const c = colorsFor(context.io);
  const levels = new Map<string, AlertLevel>();
  // The backlog: from the day of --since, else the last two days (enough for the last 10 events).
  const fromDay = new Date(sinceMs ?? now() - 86_400_000).toISOString().slice(0, 10);
  const follower = new AlertLogFollower({ dir: alertsDir, fromDay });

  const show = (lines: string[], backlog: boolean) => {
    let shown = lines.flatMap((text) => {
      const line = parseAlertLogLine(text);
      if (!line) return [];
      if (line.severity) levels.set(line.id, line.severity);
      const level = line.severity ?? levels.get(line.id);
      if (minLevel && (!level || !atLeast(level, minLevel))) return [];
      const at = Date.parse(line.event_time ?? line.timestamp ?? "");
      if (sinceMs !== undefined && !(at >= sinceMs)) return [];
      return [{ text, line, level }];
    });
    // Without --since the backlog is the last 10 events, as tail(1) does.
    if (backlog && sinceMs === undefined) shown = shown.slice(-10);
    const count = shown.length;
    for (const { text, line, level } of shown) {
      if (values.json) {
        context.io.stdout(`${text}\n`);
        continue;
      }
      const time = (line.event_time ?? line.timestamp ?? "").replace("T", " ").replace(/\.\d+Z$/, "Z");
      const event = (line.event ?? line.status ?? "").padEnd(12);
      const levelText = colorLevel(c, level ?? "?") + " ".repeat(Math.max(0, 8 - (level ?? "?").length));
      if (line.event === "acknowledged" && line.rule === undefined) {
        context.io.stdout(
          `${c.dim(time)}  ${levelText}  ${event}  ${c.dim(line.id)}  by ${line.acknowledged_by ?? "?"}\n`,
        );
        continue;
      }
      const labels =
        line.labels && Object.keys(line.labels).length > 0 ? ` ${c.dim(formatLabels(line.labels))}` : "";
      context.io.stdout(
        `${c.dim(time)}  ${levelText}  ${event}  ${c.dim(line.id)}  ${line.rule ?? ""}${labels}  ${line.message ?? ""}\n`,
      );
    }
    return count;
  };

  const shownBacklog = show(await follower.poll(), true);
  if (shownBacklog === 0) {
    const where = exists ? `in ${alertsDir}` : `yet: ${alertsDir} does not exist`;
    const what = exists ? "no alerts yet" : "no alerts";
    note(
      context,
      values.json,
      `${what} ${where}${values["no-follow"] ? "" : "; following, the first alert shows here (Ctrl-C to stop)"}`,
    );
  }
  if (values["no-follow"]) return 0;
  const signal = context.signal;
  while (!signal?.aborted) {
    await sleep(intervalMs, signal);
    if (signal?.aborted) break;
    show(await follower.poll(), false);
  }
  return 0;
}

/** A one-line note for people: on stdout, or on stderr when stdout carries JSON. */
function note(context: MonitorContext, json: boolean, text: string): void {
  if (json) context.io.stderr(`ticktrace: ${text}\n`);
  else context.io.stdout(`${text}\n`);
}

/** Whether `dir` exists; any other problem (not a directory, unreadable) is the usual error. */
async function directoryExists(dir: string, what: string, fix: string): Promise<boolean> {
  try {
    await readDir(dir, what, fix);
    return true;
  } catch (error) {
    if (error instanceof TicktraceError && error.code === "NOT_FOUND") return false;
    throw error;
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((done) => {
    const timer = setTimeout(finish, ms);
    function finish() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", finish);
      done();
    }
    signal?.addEventListener("abort", finish, { once: true });
  });
}

function levelOption(text: string): AlertLevel {
  const level = parseLevel(text);
  if (!level)
    throw new TicktraceError(
      "INVALID_ARGUMENT",
      `--level: expected INFO, WARNING, ERROR or CRITICAL, got "${text}"`,
    );
  return level;
}

// --- status ---

/**
 * Whose an alert is: raised by the `current` run (the live process holding the outbox lock), by
 * a `previous` run of it (a leftover the running process resolves after
 * `alerts.outbox.restart_grace_ms` unless it raises it again), or by a run that has `ended`
 * (no live process holds the outbox). `unknown` for lines without a run id (older logs).
 */
type RunOwner = "current" | "previous" | "ended" | "unknown";

function ownerOf(alert: Alert, liveRunId: string | undefined): RunOwner {
  if (alert.runId === undefined) return "unknown";
  if (liveRunId === undefined) return "ended";
  return alert.runId === liveRunId ? "current" : "previous";
}

const OWNER_TEXT: Record<RunOwner, string> = {
  current: "this run",
  previous: "previous run",
  ended: "ended",
  unknown: "?",
};

async function status(values: Values, context: MonitorContext): Promise<number> {
  const { alertsDir, outboxDir } = targets(values, context);
  await readDir(alertsDir, "alert directory", "--alerts-dir or alerts.jsonl.dir");
  const firing = readAlertLog(alertsDir).filter((a) => a.status === "firing");
  const shown = values.all ? firing : firing.filter((a) => !a.acknowledged);
  const lock = readOutboxLock(outboxDir);
  const liveRunId = lock !== undefined && processAlive(lock.pid) ? lock.run_id : undefined;
  const owners = shown.map((a) => ownerOf(a, liveRunId));
  if (values.json) {
    const out = shown.map((a, i) => ({ ...a, run: owners[i] }));
    context.io.stdout(`${JSON.stringify(out, null, 2)}\n`);
    return 0;
  }
  const c = colorsFor(context.io);
  const acknowledged = firing.length - firing.filter((a) => !a.acknowledged).length;
  if (shown.length === 0) {
    // Only "no active alerts" when there are none: acknowledged ones are still active (firing).
    context.io.stdout(
      acknowledged > 0
        ? `${c.green("No unacknowledged alerts")}; ${acknowledged} acknowledged still firing (--all lists them)\n`
        : `${c.green("No active alerts")}\n`,
    );
    return 0;
  }
  const now = (context.now ?? Date.now)();
  // The RUN column appears when something listed is not the running process's own.
  const showRun = owners.some((owner) => owner !== "current");
  const rows = shown.map((a: Alert) => [
    a.id,
    ...(showRun ? [OWNER_TEXT[ownerOf(a, liveRunId)]] : []),
    colorLevel(c, a.level),
    a.rule,
    formatLabels(a.labels),
    formatDuration(now - Date.parse(a.timestamp)),
    ...(values.all ? [a.acknowledged ? `yes (${a.acknowledgedBy ?? "?"})` : "no"] : []),
    // Messages are multi-line at times (restart notes): the table shows the first line.
    a.message.split("\n")[0] ?? "",
  ]);
  const header = [
    "ID",
    ...(showRun ? ["RUN"] : []),
    "LEVEL",
    "RULE",
    "LABELS",
    "AGE",
    ...(values.all ? ["ACKED"] : []),
    "MESSAGE",
  ];
  context.io.stdout(table(header, rows, c));
  const note = acknowledged > 0 && !values.all ? `, ${acknowledged} acknowledged not shown (--all)` : "";
  context.io.stdout(`${shown.length} active alert${shown.length === 1 ? "" : "s"}${note}\n`);
  const previous = owners.filter((owner) => owner === "previous").length;
  const ended = owners.filter((owner) => owner === "ended").length;
  if (previous > 0) {
    context.io.stdout(
      `${previous} left over from a previous run: the running process (pid ${lock?.pid ?? "?"}) resolves them after alerts.outbox.restart_grace_ms unless it raises them again\n`,
    );
  }
  if (ended > 0) {
    context.io.stdout(
      `${ended} from a run that has ended (no running process holds ${outboxDir}); the next start resolves them after alerts.outbox.restart_grace_ms unless it raises them again\n`,
    );
  }
  return 0;
}

// --- health ---

async function health(values: Values, context: MonitorContext): Promise<number> {
  const { url } = targets(values, context);
  if (url === undefined) {
    throw new TicktraceError(
      "INVALID_ARGUMENT",
      "health.port is 0 (a free port picked at start): pass --url http://127.0.0.1:<port>",
    );
  }
  const timeoutMs =
    values["timeout-ms"] !== undefined ? parsePositiveInt(values["timeout-ms"], "--timeout-ms") : 3_000;
  let result;
  try {
    result = await checkHealth(url, { timeoutMs });
  } catch (error) {
    // Unreachable is a health answer too: exit 2, so cron and container checks see "unhealthy".
    if (
      error instanceof TicktraceError &&
      (error.code === "UNREACHABLE" || error.code === "TIMEOUT" || error.code === "REJECTED")
    ) {
      if (values.json)
        context.io.stdout(`${JSON.stringify({ url, status: "unreachable", error: error.message })}\n`);
      context.io.stderr(`ticktrace: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  if (values.json) {
    context.io.stdout(`${JSON.stringify(result.report, null, 2)}\n`);
    return result.exitCode;
  }
  const c = colorsFor(context.io);
  const { report } = result;
  context.io.stdout(
    `${c.bold(colorStatus(c, report.status))}  ${result.url}  uptime ${formatDuration(report.uptime_seconds * 1000)}  ready ${report.ready ? "yes" : c.red("no")}\n`,
  );
  if (result.components.length > 0) {
    const rows = result.components.map((row) => [
      row.name,
      colorStatus(c, row.status),
      row.latencyMs !== undefined ? `${formatNumber(row.latencyMs, { decimals: 1 })} ms` : "",
      row.lastRunAgo ?? "",
      row.detail ?? "",
    ]);
    context.io.stdout(table(["COMPONENT", "STATUS", "LATENCY", "LAST RUN", "DETAIL"], rows, c));
  }
  return result.exitCode;
}

// --- metrics ---

async function metrics(values: Values, context: MonitorContext): Promise<number> {
  const { snapshotsDir } = targets(values, context);
  const now = (context.now ?? Date.now)();
  const sinceMs = values.since !== undefined ? parseSince(values.since, now) : undefined;
  const exists = await directoryExists(
    snapshotsDir,
    "snapshot directory",
    "--snapshots-dir or monitoring.snapshot_dir",
  );
  const files = exists ? await listSnapshotFiles(snapshotsDir) : [];
  const newest = files.at(-1);
  if (newest === undefined) {
    // Before the first snapshot is written: not an error, say so.
    if (values.json) context.io.stdout("null\n");
    note(
      context,
      values.json,
      `no snapshots yet ${exists ? "in" : "(no directory)"} ${snapshotsDir}: a running process writes the first one within seconds of its first tick`,
    );
    return 0;
  }
  // Without --since and --window, only the latest snapshot is needed.
  const wantsSeries =
    values.field !== undefined || values.window !== undefined || values.chart || sinceMs !== undefined;
  const { snapshots, skipped } = wantsSeries
    ? await readSnapshots(snapshotsDir, sinceMs !== undefined ? { sinceMs } : {})
    : await readSnapshots(snapshotsDir, { sinceMs: newest.timeMs });
  for (const s of skipped) context.io.stderr(`ticktrace: skipped ${s.path}: ${s.reason}\n`);
  const latest = snapshots.at(-1);
  if (latest === undefined) {
    throw new TicktraceError(
      "NOT_FOUND",
      `no valid snapshots in ${snapshotsDir}${sinceMs !== undefined ? ` since ${new Date(sinceMs).toISOString()}` : ""}`,
    );
  }
  if (values["list-fields"]) {
    const fields = Object.keys(numericFields(latest.snapshot));
    context.io.stdout(values.json ? `${JSON.stringify(fields)}\n` : `${fields.join("\n")}\n`);
    return 0;
  }
  const field = values.field;
  if (field !== undefined && !(field in numericFields(latest.snapshot))) {
    throw new TicktraceError(
      "INVALID_ARGUMENT",
      `--field: no numeric field "${field}" in the snapshots (try pnl.daily, positions.count, risk.daily_loss_pct; --list-fields shows all)`,
    );
  }
  const c = colorsFor(context.io);

  if (values.window !== undefined) {
    const windowMs = parseDuration(values.window, "--window");
    const windows = aggregateSnapshots(snapshots, {
      windowMs,
      ...(field !== undefined ? { fields: [field] } : {}),
    });
    if (values.json) {
      context.io.stdout(`${JSON.stringify(windows, null, 2)}\n`);
      return 0;
    }
    const shownFields =
      field !== undefined ? [field] : ["pnl.daily", "positions.count", "risk.daily_loss_pct"];
    const rows = windows.flatMap((w) =>
      shownFields.flatMap((f) => {
        const agg = w.fields[f];
        return agg
          ? [
              [
                w.start,
                f,
                formatNumber(agg.min),
                formatNumber(agg.max),
                formatNumber(agg.avg),
                formatNumber(agg.last),
                String(agg.count),
              ],
            ]
          : [];
      }),
    );
    context.io.stdout(table(["WINDOW START", "FIELD", "MIN", "MAX", "AVG", "LAST", "N"], rows, c));
    return 0;
  }

  if (field !== undefined) {
    const series = snapshots.flatMap((s: TimedSnapshot) => {
      const value = numericFields(s.snapshot)[field];
      return value === undefined ? [] : [{ time: new Date(s.timeMs).toISOString(), value }];
    });
    const [all] = aggregateSnapshots(snapshots, { fields: [field] });
    const agg = all?.fields[field];
    const first = series[0];
    const last = series.at(-1);
    // The latest snapshot has the field (checked above), so none of these is missing.
    if (agg === undefined || first === undefined || last === undefined) {
      throw new TicktraceError("NOT_FOUND", `--field: no values of "${field}" in the snapshots`);
    }
    if (values.json) {
      context.io.stdout(
        `${JSON.stringify({ field, aggregate: { min: agg.min, max: agg.max, avg: agg.avg, last: agg.last, count: agg.count }, series }, null, 2)}\n`,
      );
      return 0;
    }
    context.io.stdout(
      `${c.bold(field)}  ${series.length} snapshots ${first.time} .. ${last.time}\n` +
        `min ${formatNumber(agg.min)}  max ${formatNumber(agg.max)}  avg ${formatNumber(agg.avg)}  last ${formatNumber(agg.last)}\n`,
    );
    if (values.chart) {
      context.io.stdout(`${chart(series.map((p) => p.value))}\n`);
    } else {
      context.io.stdout(
        table(
          ["TIME", field],
          series.map((p) => [p.time, formatNumber(p.value)]),
          c,
        ),
      );
    }
    return 0;
  }

  if (values.chart)
    throw new TicktraceError("INVALID_ARGUMENT", "--chart needs --field (e.g. --field pnl.daily)");
  if (values.json) {
    context.io.stdout(
      `${JSON.stringify({ time: new Date(latest.timeMs).toISOString(), snapshot: latest.snapshot }, null, 2)}\n`,
    );
    return 0;
  }
  const s = latest.snapshot;
  const lines = [
    `${c.bold("Latest snapshot")}  ${s.timestamp}  (${formatDuration(now - latest.timeMs)} ago, ${files.length} on disk)`,
    `heartbeat     last tick ${s.heartbeat.last_tick ?? c.red("never")}  uptime ${formatDuration(s.heartbeat.uptime_seconds * 1000)}`,
    `positions     ${s.positions.count} open, value ${formatNumber(s.positions.total_value, { decimals: 2 })}${s.positions.symbols.length ? ` (${s.positions.symbols.join(", ")})` : ""}`,
    `pnl           daily ${formatNumber(s.pnl.daily, { decimals: 2 })}  realized ${formatNumber(s.pnl.realized, { decimals: 2 })}  unrealized ${formatNumber(s.pnl.unrealized, { decimals: 2 })}`,
    `risk          breaker ${s.risk.circuit_breaker_active ? c.red("ACTIVE") : c.green("off")}  daily loss ${formatNumber(s.risk.daily_loss_pct, { decimals: 2 })}%  exposure ${formatNumber(s.risk.exposure_ratio, { decimals: 2 })}${s.risk.position_limit_breaches.length ? c.red(`  limit breached: ${s.risk.position_limit_breaches.join(", ")}`) : ""}`,
    `orders        ${s.orders.placed_total} placed, ${s.orders.rejected_total} rejected`,
    `connectivity  ${s.connectivity.exchange} ${s.connectivity.exchange_connected ? c.green("connected") : c.red("DISCONNECTED")}  last API call ${s.connectivity.last_api_call ?? "never"}`,
    ...(s.sentiment
      ? [
          `sentiment     score ${s.sentiment.last_score ?? "-"}  provider errors ${s.sentiment.provider_errors_total}`,
        ]
      : []),
    ...(s.llm ? [`llm           cost $${formatNumber(s.llm.cost_usd_total, { decimals: 2 })} total`] : []),
  ];
  context.io.stdout(`${lines.join("\n")}\n`);
  return 0;
}

/** A terminal chart of at most 80 points (downsampled by taking every n-th point, keeping the last). */
function chart(values: number[]): string {
  const maxPoints = 80;
  let points = values;
  if (values.length > maxPoints) {
    const step = values.length / maxPoints;
    points = Array.from(
      { length: maxPoints },
      (_, i) => values[Math.min(values.length - 1, Math.round((i + 1) * step) - 1)] ?? 0,
    );
  }
  if (points.length === 1) points = [...points, ...points];
  return asciichart.plot(points, {
    height: 10,
    format: (x: number) => formatNumber(x, { decimals: 2 }).padStart(10),
  });
}

// --- ack ---

async function ack(id: string, values: Values, context: MonitorContext): Promise<number> {
  const { alertsDir } = targets(values, context);
  await readDir(alertsDir, "alert directory", "--alerts-dir or alerts.jsonl.dir");
  const by = values.by ?? `cli:${safeUser()}`;
  const before = readAlertLog(alertsDir).find((a) => a.id === id);
  if (before?.acknowledged) {
    context.io.stdout(
      `${id} was already acknowledged by ${before.acknowledgedBy ?? "?"} at ${before.acknowledgedAt ?? "?"}\n`,
    );
    return 0;
  }
  const alert = await appendAcknowledgement(alertsDir, id, by, (context.now ?? Date.now)());
  if (values.json) {
    context.io.stdout(`${JSON.stringify(alert)}\n`);
    return 0;
  }
  const note = alert.status === "resolved" ? " (already resolved)" : "";
  context.io.stdout(`acknowledged ${id} ${alert.rule} [${alert.level}]${note} by ${by}\n`);
  return 0;
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return "unknown";
  }
}
