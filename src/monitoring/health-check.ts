import { z } from "zod";
import { TicktraceError } from "../errors.js";
import { httpRequest } from "../http/client.js";
import type { HealthReport, OverallStatus } from "../health/registry.js";
import { forEachComponent, qualifiedName } from "../health/report.js";

/** A `/health` answer as it may arrive from anything listening at the URL. */
const componentSchema = z
  .object({
    status: z.enum(["up", "degraded", "down"]),
    detail: z.string().optional(),
    latency_ms: z.number().optional(),
    last_run: z.string().optional(),
    last_run_ago: z.string().optional(),
  })
  .catchall(z.union([z.string(), z.number(), z.boolean()]));
const healthReportSchema = z.object({
  status: z.enum(["healthy", "degraded", "unhealthy"]),
  ready: z.boolean(),
  timestamp: z.string(),
  uptime_seconds: z.number(),
  components: z.record(z.string(), z.union([componentSchema, z.record(z.string(), componentSchema)])),
});

/**
 * An ad-hoc health check of a running process (`ticktrace monitor health`): GET
 * `<url>/health` and turn the answer into rows and an exit code cron and container health
 * checks can use: 0 healthy, 1 degraded, 2 unhealthy or unreachable.
 */

/** One component of the report, groups flattened (`exchanges.simex`). */
export interface ComponentRow {
  name: string;
  status: string;
  detail?: string;
  latencyMs?: number;
  lastRunAgo?: string;
}

export interface HealthCheckResult {
  url: string;
  status: OverallStatus;
  /** 0 healthy, 1 degraded, 2 unhealthy. */
  exitCode: 0 | 1 | 2;
  report: HealthReport;
  components: ComponentRow[];
}

/** The exit code for an overall status. */
export function exitCodeFor(status: OverallStatus): 0 | 1 | 2 {
  return status === "healthy" ? 0 : status === "degraded" ? 1 : 2;
}

/** The health URL a config points at: `http://<health.host>:<health.port>` (a wildcard host means loopback). */
export function healthUrlFromConfig(health: { host: string; port: number }): string {
  const host = health.host === "0.0.0.0" || health.host === "::" ? "127.0.0.1" : health.host;
  return `http://${host.includes(":") ? `[${host}]` : host}:${health.port}`;
}

/**
 * Queries `<baseUrl>/health`. Throws `UNREACHABLE` (no answer), `TIMEOUT` or `REJECTED` (an
 * answer that is not a health report) with a one-line message naming the URL.
 */
export async function checkHealth(
  baseUrl: string,
  options: { timeoutMs?: number } = {},
): Promise<HealthCheckResult> {
  const url = `${baseUrl.replace(/\/+$/, "")}/health`;
  const answer = await httpRequest({
    operation: "health check",
    url,
    headers: { accept: "application/json" },
    timeoutMs: options.timeoutMs ?? 3_000,
    fix: "is the process running? check --url or health.host/health.port",
  });
  let raw: unknown;
  try {
    raw = JSON.parse(answer.body);
  } catch {
    raw = undefined;
  }
  const parsed = healthReportSchema.safeParse(raw);
  const report = parsed.success ? (parsed.data as HealthReport) : undefined;
  if (!report) {
    throw new TicktraceError(
      "REJECTED",
      `${url} answered HTTP ${answer.status} without a health report (is this a ticktrace health server?)`,
      {
        status: answer.status,
      },
    );
  }
  return {
    url,
    status: report.status,
    exitCode: exitCodeFor(report.status),
    report,
    components: componentRows(report),
  };
}

/** The report's components as rows, groups flattened to `group.name`, in report order. */
export function componentRows(report: HealthReport): ComponentRow[] {
  const rows: ComponentRow[] = [];
  forEachComponent(report, (name, c, group) => {
    rows.push({
      name: qualifiedName(name, group),
      status: c.status,
      ...(c.detail !== undefined ? { detail: c.detail } : {}),
      ...(c.latency_ms !== undefined ? { latencyMs: c.latency_ms } : {}),
      ...(c.last_run_ago !== undefined ? { lastRunAgo: c.last_run_ago } : {}),
    });
  });
  return rows;
}
