/**
 * The package's public surface as a user's bot sees it: `require("ticktrace")` and
 * `require("ticktrace/testing")` resolve through the package's `exports` to the built files,
 * expose exactly the values listed here (a change to the surface shows in this test and in the
 * API reports under etc/), keep the demo and internals out, and have no side effects on import
 * (no OpenTelemetry globals, no runtime, nothing keeping the process alive).
 */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { ensureBuilt, ROOT } from "./telemetry/helpers.js";

const MAIN = [
  "ALERT_LEVELS",
  "ALERT_RULES",
  "ConfigError",
  "DURATION_BUCKETS_SECONDS",
  "LATENCY_BUCKETS_SECONDS",
  "METRICS",
  "METRIC_DEFINITIONS",
  "OutboxLockedError",
  "TRADING_EVENT_NAMES",
  "TicktraceError",
  "createAlertmanagerChannel",
  "createJsonlChannel",
  "createSlackChannel",
  "createTelegramChannel",
  "createTrader",
  "getRuntime",
  "loadConfig",
  "parseConfig",
  "startRuntime",
  "systemClock",
];

const TESTING = [
  "ExchangeSimulator",
  "InMemoryMetricReader",
  "createManualClock",
  "createRecordingChannel",
  "createTestMetrics",
];

describe("public API", () => {
  it("ticktrace and ticktrace/testing export exactly the named values and register nothing on import", () => {
    ensureBuilt();
    const script = `
      const api = require("ticktrace");
      const testing = require("ticktrace/testing");
      const otel = require("@opentelemetry/api");
      const tracerIsNoop = otel.trace.getTracerProvider().constructor.name === "ProxyTracerProvider"
        && otel.trace.getTracer("x").startSpan("s").isRecording() === false;
      let noRuntime;
      try { api.getRuntime(); } catch (error) { noRuntime = error.code; }
      process.stdout.write(JSON.stringify({
        main: Object.keys(api).sort(),
        testing: Object.keys(testing).sort(),
        tracerIsNoop,
        noRuntime,
      }));
    `;
    const run = spawnSync(process.execPath, ["-e", script], { cwd: ROOT, encoding: "utf8", timeout: 30_000 });
    expect(run.stderr).toBe("");
    expect(JSON.parse(run.stdout)).toEqual({
      main: MAIN,
      testing: TESTING,
      tracerIsNoop: true,
      noRuntime: "INVALID_STATE",
    });
    // The child exited on its own: no timer or server was left running by the import.
    expect(run.status).toBe(0);
  });

  it("the demo, the internals and the second ways to build a thing are not exported", () => {
    for (const name of [
      "startDemo",
      "SCENARIOS",
      "MarketMaker",
      "demoBotProviders",
      "escapeHtml",
      "HELP_TEXT",
      "exitOnConfigError",
      "AlertManager",
      "createAlerting",
      "createChannels",
      "attachTradingAlerts",
      "MonitoringService",
      "startMonitoring",
      "HotPathRecorder",
      "createTradingEvents",
      "createTelegramBot",
      "PrometheusTextSerializer",
    ]) {
      expect(MAIN).not.toContain(name);
      expect(TESTING).not.toContain(name);
    }
  });
});
