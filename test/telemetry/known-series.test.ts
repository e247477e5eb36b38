import { spawn } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { METRICS } from "../../src/telemetry/catalogue.js";
import { KNOWN_SERIES_LABELS } from "../../src/telemetry/known-series.js";
import { REFUSING_PORT } from "../support/processes.js";
import { ensureBuilt, ROOT, tempDir } from "./helpers.js";

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("counters whose label values are known start at 0", () => {
  it("fills in exactly the catalogue's labels of each counter", () => {
    for (const [key, labels] of Object.entries(KNOWN_SERIES_LABELS)) {
      const definition = METRICS[key as keyof typeof METRICS];
      expect(definition.kind, key).toBe("counter");
      expect([...labels].sort(), key).toEqual([...definition.labels].sort());
    }
  });

  it("regression: after a flash-crash run /metrics lacked the counters that had not moved; they are served at 0", async () => {
    ensureBuilt();
    const dir = tempDir("known-series");
    dirs.push(dir);
    writeFileSync(
      join(dir, "config.yaml"),
      JSON.stringify({
        health: { port: 0 },
        telemetry: { otlp: { endpoint: `http://127.0.0.1:${REFUSING_PORT}` }, shutdown_timeout_ms: 1_000 },
        logging: { format: "json" },
        trading: { scenario: { incident_after_ms: 1_000, incident_duration_ms: 2_000 } },
      }),
    );
    const child = spawn(
      process.execPath,
      [
        "--require",
        join(ROOT, "dist/tracing.js"),
        join(ROOT, "dist/main.js"),
        "--scenario",
        "flash-crash",
        "--duration",
        "30",
        "--seed",
        "7",
        "--config",
        "config.yaml",
      ],
      { cwd: dir, env: { PATH: process.env.PATH, HOME: dir }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
    const exited = new Promise((resolve) => child.once("exit", resolve));
    try {
      const deadline = Date.now() + 30_000;
      let url: string | undefined;
      while (!(url && out.includes('"demo started"'))) {
        if (Date.now() > deadline) throw new Error(`the demo did not start:\n${out}`);
        url ??= /"health_url":"(http:\/\/[^"]+)"/.exec(out)?.[1];
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      // Past the crash: the breaker trips, yet none of these moved in this run.
      let text = "";
      while (!/trading_circuit_breaker_trips_total\{[^}]*\} [1-9]/.test(text)) {
        if (Date.now() > deadline + 20_000) throw new Error(`the breaker did not trip:\n${text}\n${out}`);
        await new Promise((resolve) => setTimeout(resolve, 500));
        text = await (await fetch(`${url}/metrics`)).text();
      }
      // `name{labels}` without the scope label -> value
      const values = new Map<string, number>();
      for (const line of text.split("\n")) {
        const match = /^(\w+)\{(.*)\} (\S+)$/.exec(line);
        if (!match) continue;
        const labels = match[2]!.replace(/,?otel_scope_name="[^"]*"/, "");
        values.set(`${match[1]!}{${labels}}`, Number(match[3]));
      }
      const family = (name: string) => [...values.keys()].filter((key) => key.startsWith(`${name}{`));

      expect(values.get('trading_exchange_reconnects_total{exchange="simex"}'), text).toBe(0);
      expect(family("trading_exchange_rate_limit_hits_total")).toHaveLength(7);
      expect(
        values.get('trading_exchange_rate_limit_hits_total{exchange="simex",operation="place_order"}'),
      ).toBe(0);
      expect(values.get('trading_orders_failed_total{exchange="simex",reason="rate_limited"}')).toBe(0);
      for (const worker of ["position_monitor", "reconciliation", "pnl_snapshot"]) {
        expect(values.get(`trading_worker_errors_total{worker="${worker}",error_type="timeout"}`)).toBe(0);
      }
      expect(values.get('ticktrace_alert_notifications_total{channel="log",outcome="failed"}')).toBe(0);
      expect(values.get('ticktrace_alerts_raised_total{rule="exchange_disconnected",level="CRITICAL"}')).toBe(
        0,
      );
      expect(values.get('ticktrace_telemetry_export_failures_total{signal="traces"}')).toBeGreaterThanOrEqual(
        0,
      );
      // Counters that moved count on from there: the crash trips the breaker.
      expect(
        family("trading_circuit_breaker_trips_total").some((key) => (values.get(key) ?? 0) > 0),
        text,
      ).toBe(true);
    } finally {
      child.kill("SIGTERM");
      await exited;
    }
  }, 60_000);
});
