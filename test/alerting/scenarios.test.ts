/**
 * End to end: the built demo (`node --require ./dist/tracing.js dist/main.js`) runs every
 * scenario with Telegram pointed at a fake Bot API server on 127.0.0.1; the alerts are read back
 * from the fake server and from the JSONL alert log each run wrote.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readAlertLog } from "../../src/alert-log/store.js";
import { levelRank, type Alert } from "../../src/alert-model/types.js";
import { startFakeHttpServer, type FakeHttpServer, type ReceivedRequest } from "./fake-http.js";

const ROOT = resolve(__dirname, "../..");
const TOKEN = "123456:scenario-token";
const dirs: string[] = [];
let telegram: FakeHttpServer;

interface Run {
  code: number | null;
  alerts: Alert[];
  messages: ReceivedRequest[];
  stdout: string;
  stderr: string;
}

function config(scenario: string, apiUrl: string): object {
  return {
    health: { port: 0 },
    telemetry: { otlp: { endpoint: "http://127.0.0.1:9" }, shutdown_timeout_ms: 2_000 },
    logging: { format: "json" },
    trading: {
      exchange: { reconnect_initial_ms: 100, reconnect_max_ms: 800 },
      strategy: { panic_cooldown_ms: 2_000 },
      scenario: { incident_after_ms: 2_000, incident_duration_ms: 3_000, status_interval_ms: 2_000 },
    },
    alerts: {
      telegram: { enabled: true, bot_token: TOKEN, chat_id: scenario, api_url: apiUrl },
      escalation: { exchange_disconnect_ms: 1_500 },
    },
  };
}

/**
 * Runs one scenario. With `until`, the demo runs without `--duration` until the JSONL log shows
 * what the test waits for (or `maxS` passes), plus a second for delivery, then gets SIGTERM and
 * shuts down gracefully: a loaded machine slows the incident down but does not fail the test.
 */
function runDemo(
  scenario: string,
  options: { durationS?: number; until?: (alerts: Alert[]) => boolean; maxS?: number },
): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), `ticktrace-alerts-${scenario}-`));
  dirs.push(dir);
  writeFileSync(join(dir, "config.yaml"), JSON.stringify(config(scenario, telegram.url)));
  const duration = options.durationS === undefined ? [] : ["--duration", String(options.durationS)];
  const child = spawn(
    process.execPath,
    [
      "--require",
      join(ROOT, "dist/tracing.js"),
      join(ROOT, "dist/main.js"),
      ...["--scenario", scenario, ...duration, "--seed", "42", "--config", "config.yaml"],
    ],
    { cwd: dir, env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: "" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  let exited = false;
  const until = options.until;
  if (until) {
    const deadline = Date.now() + (options.maxS ?? 45) * 1000;
    const timer = setInterval(() => {
      if (exited) {
        clearInterval(timer);
        return;
      }
      if (Date.now() > deadline || until(readAlertLog(join(dir, "logs/alerts")))) {
        clearInterval(timer);
        setTimeout(() => child.kill("SIGTERM"), 1000);
      }
    }, 250);
  }
  return new Promise((resolvePromise) => {
    child.on("exit", (code) => {
      exited = true;
      resolvePromise({
        code,
        alerts: readAlertLog(join(dir, "logs/alerts")),
        messages: telegram.accepted().filter((r) => (r.body as { chat_id?: string }).chat_id === scenario),
        stdout,
        stderr,
      });
    });
  });
}

const runs = new Map<string, Run>();

beforeAll(async () => {
  execFileSync("npx", ["tsc", "-p", "tsconfig.build.json"], { cwd: ROOT, stdio: "inherit" });
  telegram = await startFakeHttpServer();
  const has = (rule: string, status?: string) => (alerts: Alert[]) =>
    alerts.some((a) => a.rule === rule && (status === undefined || a.status === status));
  const plan: [string, Parameters<typeof runDemo>[1]][] = [
    ["calm", { durationS: 7 }],
    ["flash-crash", { until: has("circuit_breaker_tripped") }],
    ["exchange-outage", { until: has("exchange_disconnected", "resolved") }],
    ["rate-limit-storm", { until: has("rate_limit_exceeded") }],
    ["strategy-panic", { until: has("strategy_panic", "resolved") }],
    ["large-fill", { until: has("large_fill") }],
  ];
  const results = await Promise.all(
    plan.map(async ([name, options]) => [name, await runDemo(name, options)] as const),
  );
  for (const [name, run] of results) runs.set(name, run);
}, 120_000);

afterAll(async () => {
  await (telegram as FakeHttpServer | undefined)?.close(); // unset when beforeAll failed
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function run(name: string): Run {
  const r = runs.get(name);
  if (!r) throw new Error(`scenario ${name} did not run`);
  // 0 after --duration, 143 after the SIGTERM that ends a run once its alert was seen.
  expect([0, 143], r.stderr).toContain(r.code);
  return r;
}

const byRule = (r: Run, rule: string) => r.alerts.filter((a) => a.rule === rule);
const texts = (r: Run) => r.messages.map((m) => String((m.body as { text: unknown }).text));

describe("scenarios raise the alerts they should (built demo, fake Telegram)", () => {
  it("every alert request used the configured bot token path and HTML parse mode", () => {
    const sends = telegram.requests.filter((r) => r.path.endsWith("/sendMessage"));
    expect(sends.length).toBeGreaterThan(0);
    for (const request of sends) {
      expect(request.path).toBe(`/bot${TOKEN}/sendMessage`);
      expect((request.body as { parse_mode: string }).parse_mode).toBe("HTML");
    }
  });

  it("calm: no alert above INFO, nothing paged", () => {
    const r = run("calm");
    expect(
      r.alerts.filter((a) => levelRank(a.level) > levelRank("INFO")).map((a) => `${a.rule}:${a.level}`),
    ).toEqual([]);
    expect(texts(r)).toEqual([]);
  });

  it("flash-crash: exactly one CRITICAL circuit-breaker message reaches Telegram, with an Acknowledge button", () => {
    const r = run("flash-crash");
    const critical = r.messages.filter((m) =>
      String((m.body as { text: unknown }).text).startsWith("🚨 <b>CRITICAL Circuit breaker tripped"),
    );
    expect(critical, JSON.stringify({ texts: texts(r), alerts: r.alerts.map((a) => a.rule) })).toHaveLength(
      1,
    );
    const [breaker] = byRule(r, "circuit_breaker_tripped");
    expect(breaker).toMatchObject({ level: "CRITICAL", labels: { breaker: "daily_loss" } });
    expect((critical[0]!.body as { reply_markup: unknown }).reply_markup).toEqual({
      inline_keyboard: [[{ text: "Acknowledge", callback_data: `ack:${breaker!.id}` }]],
    });
  });

  it("exchange-outage: WARNING escalated to ERROR while down, resolved on reconnect", () => {
    const r = run("exchange-outage");
    const [down] = byRule(r, "exchange_disconnected");
    expect(down).toMatchObject({ level: "ERROR", status: "resolved" });
    const paged = texts(r).filter((t) => t.includes("Exchange"));
    expect(paged[0]).toMatch(/^⚠️ <b>WARNING Exchange \S+ disconnected, reconnecting<\/b>/);
    expect(paged.some((t) => /^🔴 <b>ERROR \(escalated\) Exchange \S+ down for 2s<\/b>/.test(t))).toBe(true);
    expect(paged.at(-1)).toMatch(/^✅ <b>RESOLVED /);
  });

  it("rate-limit-storm: rate_limit_exceeded (WARNING)", () => {
    const r = run("rate-limit-storm");
    expect(byRule(r, "rate_limit_exceeded").map((a) => a.level)).toEqual(["WARNING"]);
  });

  it("strategy-panic: strategy_panic (CRITICAL), resolved when the strategy recovers", () => {
    const r = run("strategy-panic");
    expect(byRule(r, "strategy_panic")).toEqual([
      expect.objectContaining({ level: "CRITICAL", status: "resolved" }),
    ]);
  });

  it("large-fill: a large_fill INFO alert in the log, not paged (below Telegram's WARNING)", () => {
    const r = run("large-fill");
    const fills = byRule(r, "large_fill");
    expect(fills.length).toBeGreaterThanOrEqual(1);
    expect(fills[0]).toMatchObject({ level: "INFO" });
    expect(Number(fills[0]!.fields.notional)).toBeGreaterThanOrEqual(5_000);
    expect(texts(r).some((t) => t.includes("Large fill"))).toBe(false);
  });
});
