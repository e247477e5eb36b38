/**
 * The package's public surface as a user's bot sees it: `require("ticktrace")` resolves through
 * the package's `exports` to the built `dist/index.js`, exposes the documented entry points, and
 * has no side effects on import (no OpenTelemetry globals, nothing keeping the process alive).
 */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { ensureBuilt, ROOT } from "./telemetry/helpers.js";

const DOCUMENTED = [
  "loadConfig",
  "getRuntime",
  "startRuntime",
  "createTradingMetrics",
  "HotPathRecorder",
  "METRICS",
  "createLogger",
  "HealthRegistry",
  "createTradingEvents",
  "createAlerting",
  "attachTradingAlerts",
  "AlertManager",
  "startMonitoring",
  "MonitoringService",
  "createDecisionRecorderFromConfig",
  "createTelegramBot",
  "ExchangeSimulator",
  "TicktraceError",
];

describe("public API", () => {
  it("require('ticktrace') exposes the documented entry points and registers nothing on import", () => {
    ensureBuilt();
    const script = `
      const api = require("ticktrace");
      const otel = require("@opentelemetry/api");
      const missing = ${JSON.stringify(DOCUMENTED)}.filter((name) => api[name] === undefined);
      const tracerIsNoop = otel.trace.getTracerProvider().constructor.name === "ProxyTracerProvider"
        && otel.trace.getTracer("x").startSpan("s").isRecording() === false;
      const runtime = api.getRuntime();
      process.stdout.write(JSON.stringify({ missing, tracerIsNoop, runtime: runtime === undefined }));
    `;
    const run = spawnSync(process.execPath, ["-e", script], { cwd: ROOT, encoding: "utf8", timeout: 30_000 });
    expect(run.stderr).toBe("");
    expect(JSON.parse(run.stdout)).toEqual({ missing: [], tracerIsNoop: true, runtime: true });
    // The child exited on its own: no timer or server was left running by the import.
    expect(run.status).toBe(0);
  });
});
