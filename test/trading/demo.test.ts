/**
 * Runs the built demo (`node --require ./dist/tracing.js dist/main.js`) once per scenario, in
 * parallel child processes in temporary directories, and checks what a user would see through
 * the public surfaces: `/metrics`, `/health`, `/health/ready`, the log lines and the summary.
 */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-return -- JSON from /health and the log lines is checked field by field */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = resolve(__dirname, "../..");
const dirs: string[] = [];

interface Sample {
  atMs: number;
  health: any;
  ready: number;
}

interface Run {
  code: number | null;
  startedMs: number;
  logs: Record<string, any>[];
  stdout: string;
  stderr: string;
  summary: Record<string, string>;
  samples: Sample[];
  metrics: string[];
}

const FAST = {
  health: { port: 0 },
  telemetry: { otlp: { endpoint: "http://127.0.0.1:9" }, shutdown_timeout_ms: 2_000 },
  logging: { format: "json" },
  trading: {
    // Generous: on a loaded 2-core machine a freshly started process answers its first calls slowly.
    exchange: { reconnect_initial_ms: 100, reconnect_max_ms: 800, request_timeout_ms: 5_000 },
    strategy: { panic_cooldown_ms: 2_000 },
    workers: {
      position_monitor_interval_ms: 500,
      reconciliation_interval_ms: 1_000,
      pnl_snapshot_interval_ms: 500,
    },
    scenario: { incident_after_ms: 2_000, incident_duration_ms: 3_000, status_interval_ms: 2_000 },
  },
};

/**
 * Starts the demo, polls /health and /health/ready every 250 ms, and scrapes /metrics at the given
 * times (milliseconds after the demo logged "demo started").
 */
function runDemo(
  scenario: string,
  durationS: number,
  scrapeAtMs: number[],
  config: object = FAST,
): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), `ticktrace-demo-${scenario}-`));
  dirs.push(dir);
  writeFileSync(join(dir, "config.yaml"), JSON.stringify(config));
  const child = spawn(
    process.execPath,
    [
      "--require",
      join(ROOT, "dist/tracing.js"),
      join(ROOT, "dist/main.js"),
      "--scenario",
      scenario,
      "--duration",
      String(durationS),
      "--seed",
      "42",
      "--config",
      "config.yaml",
    ],
    { cwd: dir, env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: "" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  const run: Run = {
    code: null,
    startedMs: Date.now(),
    logs: [],
    stdout: "",
    stderr: "",
    summary: {},
    samples: [],
    metrics: [],
  };
  let healthUrl: string | undefined;
  let demoStartedMs: number | undefined;
  let buffer = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    run.stdout += chunk;
    buffer += chunk;
    let nl;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line.startsWith("{")) {
        const entry = JSON.parse(line) as Record<string, any>;
        run.logs.push(entry);
        if (entry.health_url) healthUrl = entry.health_url;
        if (entry.message === "demo started") demoStartedMs = Date.now();
      } else if (line.startsWith("summary: ")) {
        for (const pair of line.slice("summary: ".length).split(" ")) {
          const [k, v] = pair.split("=");
          run.summary[k!] = v!;
        }
      }
    }
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (run.stderr += chunk));
  let done = false;
  const poll = async () => {
    while (!done) {
      if (healthUrl) {
        try {
          const [health, ready] = await Promise.all([
            fetch(`${healthUrl}/health`),
            fetch(`${healthUrl}/health/ready`),
          ]);
          run.samples.push({
            atMs: Date.now() - run.startedMs,
            health: await health.json(),
            ready: ready.status,
          });
          if (
            demoStartedMs !== undefined &&
            scrapeAtMs.length > 0 &&
            Date.now() - demoStartedMs >= scrapeAtMs[0]!
          ) {
            scrapeAtMs.shift();
            run.metrics.push(await (await fetch(`${healthUrl}/metrics`)).text());
          }
        } catch {
          // The process is shutting down.
        }
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  const polling = poll();
  return new Promise((resolvePromise) => {
    child.on("exit", (code) => {
      done = true;
      run.code = code;
      void polling.then(() => resolvePromise(run));
    });
  });
}

/** Sum of a metric's samples whose line matches every given label fragment. */
function metric(text: string | undefined, name: string, ...labels: string[]): number {
  let total = 0;
  let found = false;
  for (const line of (text ?? "").split("\n")) {
    if (line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? ([^ ]+)/.exec(line);
    if (match?.[1] !== name) continue;
    if (!labels.every((l) => (match[2] ?? "").includes(l))) continue;
    found = true;
    total += Number(match[3]);
  }
  return found ? total : Number.NaN;
}

const component = (sample: Sample, group: string, name: string) => sample.health?.components?.[group]?.[name];
const logged = (run: Run, message: string) => run.logs.filter((l) => l.message === message);

let runs: Record<string, Run>;

beforeAll(async () => {
  execFileSync("npx", ["tsc", "-p", "tsconfig.build.json"], { cwd: ROOT, stdio: "inherit" });
  const defaultsWithFastWorkers = {
    ...FAST,
    trading: { ...FAST.trading, scenario: { status_interval_ms: 2_000 } },
  };
  const entries = await Promise.all([
    runDemo("calm", 7, [3_500, 6_000]).then((r) => ["calm", r] as const),
    // The default scenario timing and risk limits: the breaker must trip within 20 s of start.
    runDemo("flash-crash", 16, [13_000, 15_000], defaultsWithFastWorkers).then(
      (r) => ["flash-crash", r] as const,
    ),
    runDemo("exchange-outage", 9, [8_500]).then((r) => ["exchange-outage", r] as const),
    runDemo("rate-limit-storm", 8, [7_500]).then((r) => ["rate-limit-storm", r] as const),
    runDemo("strategy-panic", 8, [7_500]).then((r) => ["strategy-panic", r] as const),
    runDemo("large-fill", 6, [5_500]).then((r) => ["large-fill", r] as const),
    runDemo("volatile", 6, [5_500]).then((r) => ["volatile", r] as const),
  ]);
  runs = Object.fromEntries(entries);
  if (process.env.TT_DEBUG) writeFileSync("/tmp/tt-runs.json", JSON.stringify(runs));
}, 120_000);

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("npm start -- --scenario NAME (built demo, real processes)", () => {
  it("calm: every market-maker metric family moves; health is up; the run ends cleanly with a summary", () => {
    const run = runs.calm!;
    expect(run.code, run.stderr).toBe(0);
    const [first, second] = run.metrics;
    for (const name of [
      "trading_orders_placed_total",
      "trading_orders_filled_total",
      "trading_orders_cancelled_total",
      "trading_volume_base_total",
      "trading_volume_quote_total",
      "trading_fees_quote_total",
      "trading_exchange_request_duration_seconds_count",
      "trading_exchange_ratelimit_wait_seconds_count",
      "trading_tick_duration_seconds_count",
      "trading_ticks_total",
      "trading_order_execution_duration_seconds_count",
      "trading_portfolio_value_usd",
    ]) {
      expect(metric(second, name), name).toBeGreaterThan(0);
    }
    expect(metric(second, "trading_tick_to_trade_duration_seconds_count", 'stage="sent"')).toBeGreaterThan(0);
    expect(metric(second, "trading_tick_to_trade_duration_seconds_count", 'stage="ack"')).toBeGreaterThan(0);
    for (const worker of ["position_monitor", "reconciliation", "pnl_snapshot"]) {
      expect(
        metric(second, "trading_worker_runs_total", `worker="${worker}"`, 'status="ok"'),
        worker,
      ).toBeGreaterThan(0);
      expect(
        metric(second, "trading_worker_duration_seconds_count", `worker="${worker}"`),
        worker,
      ).toBeGreaterThan(0);
    }
    for (const name of [
      "trading_position_size",
      "trading_pnl_realized_usd",
      "trading_pnl_unrealized_usd",
      "trading_pnl_daily_usd",
      "trading_exposure_ratio",
      "trading_positions_open",
      "trading_orders_active",
    ]) {
      expect(Number.isNaN(metric(second, name)), name).toBe(false);
    }
    expect(metric(second, "trading_heartbeat_timestamp_seconds")).toBeGreaterThan(
      metric(first, "trading_heartbeat_timestamp_seconds"),
    );
    expect(metric(second, "trading_ticks_total")).toBeGreaterThan(metric(first, "trading_ticks_total"));
    expect(metric(second, "trading_circuit_breaker_active", 'breaker="daily_loss"')).toBe(0);
    expect(metric(second, "trading_exchange_connected", 'exchange="simex"')).toBe(1);
    expect(metric(second, "trading_risk_daily_loss_limit_usd")).toBe(1500);
    const last = run.samples.at(-1)!;
    expect(component(last, "exchanges", "simex")).toMatchObject({ status: "up", detail: "connected" });
    expect(component(last, "workers", "reconciliation").last_run).toBeDefined();
    expect(component(last, "strategies", "mm-1").status).toBe("up");
    expect(Number(run.summary.ticks)).toBeGreaterThan(5);
    expect(run.summary).toMatchObject({
      scenario: "calm",
      breaker: "off",
      exchange: "connected",
      strategy: "running",
    });
  });

  it("flash-crash: the daily-loss breaker trips within 20 s with the default config; trading stops; metrics and /health show it", () => {
    const run = runs["flash-crash"]!;
    expect(run.code, run.stderr).toBe(0);
    const [trip] = logged(run, "circuit breaker tripped: trading stopped");
    expect(trip, run.stdout.slice(-2000)).toBeDefined();
    expect(Date.parse(trip!.timestamp) - Date.parse(logged(run, "demo started")[0]!.timestamp)).toBeLessThan(
      20_000,
    );
    expect(trip!.trace_id).toMatch(/^[0-9a-f]{32}$/);
    const [before, after] = run.metrics;
    expect(metric(after, "trading_circuit_breaker_active", 'breaker="daily_loss"')).toBe(1);
    expect(metric(after, "trading_circuit_breaker_trips_total")).toBe(1);
    expect(metric(after, "trading_pnl_daily_usd")).toBeLessThanOrEqual(-1500);
    // Trading stopped: no order placed between the two scrapes, but ticks (heartbeat) go on.
    expect(metric(after, "trading_orders_placed_total")).toBe(metric(before, "trading_orders_placed_total"));
    expect(metric(after, "trading_ticks_total", 'outcome="skipped"')).toBeGreaterThan(
      metric(before, "trading_ticks_total", 'outcome="skipped"'),
    );
    expect(metric(after, "trading_orders_active")).toBe(0);
    const last = run.samples.at(-1)!;
    expect(last.health.status).toBe("degraded");
    expect(component(last, "trading", "risk")).toMatchObject({
      status: "down",
      circuit_breaker_active: true,
    });
    expect(run.summary.breaker).toBe("tripped");
    // Regression: the strategy said `up quoting` while the breaker held it.
    const strategy = run.samples.map((s) => component(s, "strategies", "mm-1"));
    expect(strategy).toContainEqual({
      status: "degraded",
      detail: "halted: circuit breaker active, orders cancelled",
    });
  });

  it("exchange-outage: connectivity, /health and readiness go down, then recover", () => {
    const run = runs["exchange-outage"]!;
    expect(run.code, run.stderr).toBe(0);
    const states = run.samples.map(
      (s) => `${String(component(s, "exchanges", "simex")?.status)}/${String(s.ready)}`,
    );
    const down = states.indexOf("down/503");
    expect(down, states.join(" ")).toBeGreaterThan(0);
    expect(states.slice(0, down)).toContain("up/200");
    expect(states.slice(down)).toContain("up/200");
    expect(run.samples.find((s) => s.ready === 503)!.health.status).toBe("unhealthy");
    expect(metric(run.metrics[0], "trading_exchange_reconnects_total")).toBeGreaterThanOrEqual(1);
    expect(metric(run.metrics[0], "trading_exchange_connected")).toBe(1);
    expect(logged(run, "stream disconnected; reconnecting")).toHaveLength(1);
    expect(logged(run, "stream reconnected")[0]!.downtime_ms).toBeGreaterThanOrEqual(3_000);
    expect(run.summary.exchange).toBe("connected");
    // Regression: the strategy said `up quoting` through the outage.
    const strategy = run.samples.map((s) => component(s, "strategies", "mm-1")?.detail);
    expect(strategy, strategy.join(" | ")).toContain(
      "halted: exchange simex disconnected (market-data stream closed)",
    );
    const halted = strategy.indexOf("halted: exchange simex disconnected (market-data stream closed)");
    expect(strategy.slice(halted)).toContain("quoting");
  });

  it("rate-limit-storm: 429s are counted and retry-after is honoured (the simulator saw no early request)", () => {
    const run = runs["rate-limit-storm"]!;
    expect(run.code, run.stderr).toBe(0);
    expect(Number(run.summary.sim_429)).toBeGreaterThan(0);
    expect(run.summary.retry_after_violations).toBe("0");
    expect(metric(run.metrics[0], "trading_exchange_rate_limit_hits_total")).toBeGreaterThan(0);
    expect(
      metric(run.metrics[0], "trading_exchange_request_duration_seconds_count", 'outcome="rate_limited"'),
    ).toBeGreaterThan(0);
    expect(logged(run, "rate limited by the exchange; pausing requests")[0]).toMatchObject({
      retry_after_s: 1,
    });
  });

  it("strategy-panic: contained, strategy faulted then recovered, the process stays up and keeps ticking", () => {
    const run = runs["strategy-panic"]!;
    expect(run.code, run.stderr).toBe(0);
    const [panic] = logged(run, "strategy panic contained: strategy faulted, orders cancelled");
    expect(panic).toMatchObject({
      error: "simulated strategy bug: cannot read properties of undefined (reading 'mid')",
    });
    const states = run.samples.map((s) => component(s, "strategies", "mm-1")?.status);
    expect(states).toContain("down");
    expect(states.at(-1)).toBe("up");
    expect(logged(run, "strategy recovered")).toHaveLength(1);
    expect(metric(run.metrics[0], "trading_ticks_total", 'outcome="error"')).toBe(1);
    expect(metric(run.metrics[0], "trading_ticks_total", 'outcome="ok"')).toBeGreaterThan(5);
    expect(run.summary.strategy).toBe("running");
  });

  it("large-fill: a fill far above the usual size", () => {
    const run = runs["large-fill"]!;
    expect(run.code, run.stderr).toBe(0);
    const [large] = logged(run, "large fill");
    expect(large, run.stdout.slice(-3000)).toBeDefined();
    expect(large!.notional).toBeGreaterThanOrEqual(2_500);
    expect(large).toMatchObject({ symbol: "BTC/USDT", side: "buy" });
  });

  it("volatile: the regime shifts and the process keeps trading", () => {
    const run = runs.volatile!;
    expect(run.code, run.stderr).toBe(0);
    expect(logged(run, "scenario: volatility regime shift: volatile")).toHaveLength(1);
    expect(Number(run.summary.fills)).toBeGreaterThan(0);
  });

  it("an unknown scenario is one clear line and exit status 2", () => {
    const dir = mkdtempSync(join(tmpdir(), "ticktrace-demo-bad-"));
    dirs.push(dir);
    writeFileSync(join(dir, "config.yaml"), JSON.stringify(FAST));
    let status = 0;
    let stderr = "";
    try {
      execFileSync(
        process.execPath,
        [join(ROOT, "dist/main.js"), "--scenario", "meteor", "--config", "config.yaml"],
        { cwd: dir, stdio: "pipe" },
      );
    } catch (error) {
      status = (error as { status: number }).status;
      stderr = String((error as { stderr: Buffer }).stderr);
    }
    expect(status).toBe(2);
    expect(stderr.split("\n")[0]).toBe(
      'ticktrace demo: unknown scenario "meteor" (expected one of: calm, volatile, flash-crash, exchange-outage, rate-limit-storm, strategy-panic, large-fill)',
    );
  });
});
