/**
 * The reference process with monitoring on (`node --require ./dist/tracing.js dist/main.js`):
 * scenarios raise and resolve the right monitoring rules, snapshots are written, and the CLI
 * reads them and the live /health.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readAlertLog } from "../../src/alert-log/store.js";
import type { Alert } from "../../src/alert-model/types.js";
import { build, REPO, run } from "../cli/helpers.js";

const dirs: string[] = [];
beforeAll(() => build(), 180_000);
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function config(dir: string): object {
  return {
    health: { port: 0 },
    telemetry: { otlp: { endpoint: "http://127.0.0.1:9" }, shutdown_timeout_ms: 2_000 },
    logging: { format: "json" },
    trading: {
      exchange: { reconnect_initial_ms: 100, reconnect_max_ms: 800 },
      scenario: { incident_after_ms: 1_500, incident_duration_ms: 3_000, status_interval_ms: 2_000 },
    },
    monitoring: {
      snapshot_interval_ms: 1_000,
      evaluation_interval_ms: 250,
      artifacts: { teacher: join(dir, "models/teacher.bin") },
    },
  };
}

interface DemoRun {
  code: number | null;
  dir: string;
  alerts: Alert[];
  snapshots: string[];
  stderr: string;
  stdout: string;
}

function runDemo(
  scenario: string,
  durationS: number,
  onOutput?: (stdout: string, dir: string) => void,
): Promise<DemoRun> {
  const dir = mkdtempSync(join(tmpdir(), `ticktrace-monitoring-${scenario}-`));
  dirs.push(dir);
  writeFileSync(join(dir, "config.yaml"), JSON.stringify(config(dir)));
  const child = spawn(
    process.execPath,
    [
      "--require",
      join(REPO, "dist/tracing.js"),
      join(REPO, "dist/main.js"),
      "--scenario",
      scenario,
      "--duration",
      String(durationS),
      "--config",
      "config.yaml",
    ],
    {
      cwd: dir,
      env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: "", TICKTRACE_CONFIG: "" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
    onOutput?.(stdout, dir);
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  return new Promise((done) => {
    child.on("exit", (code) => {
      let snapshots: string[] = [];
      try {
        snapshots = readdirSync(join(dir, "data/monitoring"));
      } catch {
        snapshots = [];
      }
      done({ code, dir, alerts: readAlertLog(join(dir, "logs/alerts")), snapshots, stdout, stderr });
    });
  });
}

const byFingerprint = (alerts: Alert[], fingerprint: string) =>
  alerts.filter((a) => a.fingerprint === fingerprint);

describe.concurrent("reference process with monitoring on", () => {
  it("flash-crash: breaker (one alert with the hook's), daily loss and a missing artifact are raised; snapshots written; CLI reads them", async () => {
    let healthCheck: ReturnType<typeof run> | undefined;
    const result = await runDemo("flash-crash", 12, (stdout, dir) => {
      const url = /"health_url":"(http:\/\/[^"]+)"/.exec(stdout)?.[1];
      // While the process runs: the CLI's health check against the live /health.
      if (url && !healthCheck) healthCheck = run(["monitor", "health", "--url", url, "--json"], { cwd: dir });
    });
    expect(result.code, result.stderr).toBe(0);

    const breaker = byFingerprint(result.alerts, "circuit_breaker_tripped{breaker=daily_loss}");
    expect(breaker).toHaveLength(1);
    expect(breaker[0]!.level).toBe("CRITICAL");
    expect(byFingerprint(result.alerts, "daily_loss_near_limit")).toHaveLength(1);
    const artifact = byFingerprint(result.alerts, "artifact_stale{artifact=teacher}");
    expect(artifact).toHaveLength(1);
    expect(artifact[0]!.fields).toMatchObject({ missing: true, error: "ENOENT", source: "monitoring" });
    // No heartbeat alarm while the loop ticks.
    expect(byFingerprint(result.alerts, "heartbeat_stale")).toEqual([]);

    expect(result.snapshots.length).toBeGreaterThanOrEqual(5);
    const metrics = await run(["monitor", "metrics", "--field", "risk.circuit_breaker_active", "--json"], {
      cwd: result.dir,
    });
    const series = JSON.parse(metrics.stdout) as { aggregate: { min: number; max: number; last: number } };
    expect(series.aggregate).toMatchObject({ min: 0, max: 1, last: 1 });
    const status = await run(["monitor", "status", "--json"], { cwd: result.dir });
    expect((JSON.parse(status.stdout) as Alert[]).map((a) => a.rule)).toContain("circuit_breaker_tripped");

    expect(healthCheck).toBeDefined();
    const health = await healthCheck!;
    expect([0, 1]).toContain(health.code);
    expect(JSON.parse(health.stdout).components.workers.monitoring).toBeDefined();
  });

  it("exchange-outage: exchange_disconnected is raised and resolved", async () => {
    const result = await runDemo("exchange-outage", 9);
    expect(result.code, result.stderr).toBe(0);
    const disconnected = byFingerprint(result.alerts, "exchange_disconnected{exchange=simex}");
    expect(disconnected.length).toBeGreaterThanOrEqual(1);
    expect(disconnected.every((a) => a.status === "resolved")).toBe(true);
    expect(byFingerprint(result.alerts, "circuit_breaker_tripped{breaker=daily_loss}")).toEqual([]);
  });
});
