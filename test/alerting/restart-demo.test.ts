/**
 * Restarts and a shared folder, as a user meets them: the built demo
 * (`node --require ./dist/tracing.js dist/main.js`) run twice from one folder with Telegram
 * pointed at a fake Bot API server on 127.0.0.1, and two demos started on one outbox.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readAlertLog } from "../../src/alert-log/store.js";
import { readOutboxLock } from "../../src/alerting/lock.js";
import type { Alert } from "../../src/alert-model/types.js";
import { startFakeHttpServer, type FakeHttpServer } from "./fake-http.js";

const ROOT = resolve(__dirname, "../..");
const TOKEN = "123456:restart-token";
let telegram: FakeHttpServer;
const dirs: string[] = [];

function workdir(name: string, chatId: string): string {
  const dir = mkdtempSync(join(tmpdir(), `ticktrace-${name}-`));
  dirs.push(dir);
  const config = {
    health: { port: 0 },
    telemetry: { otlp: { endpoint: "http://127.0.0.1:9" }, shutdown_timeout_ms: 1_000 },
    logging: { format: "json" },
    trading: {
      scenario: { incident_after_ms: 2_000, incident_duration_ms: 3_000, status_interval_ms: 2_000 },
    },
    alerts: { telegram: { enabled: true, bot_token: TOKEN, chat_id: chatId, api_url: telegram.url } },
  };
  writeFileSync(join(dir, "config.yaml"), JSON.stringify(config));
  return dir;
}

function demo(dir: string, scenario: string, extra: string[] = []): ChildProcess & { out: () => string } {
  const child = spawn(
    process.execPath,
    [
      "--require",
      join(ROOT, "dist/tracing.js"),
      join(ROOT, "dist/main.js"),
      ...["--scenario", scenario, "--seed", "42", "--config", "config.yaml", ...extra],
    ],
    { cwd: dir, env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: "" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
  return Object.assign(child, { out: () => out });
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((done) =>
    child.exitCode !== null ? done(child.exitCode) : child.once("exit", (code) => done(code)),
  );

/** Runs flash-crash until this run's breaker alert is in the JSONL log and paged, then SIGTERM. */
async function flashCrash(
  dir: string,
  chatId: string,
  sentBefore: number,
): Promise<{ runId: string; log: string }> {
  const child = demo(dir, "flash-crash", ["--duration", "25"]);
  const deadline = Date.now() + 45_000;
  let runId: string | undefined;
  while (Date.now() < deadline && child.exitCode === null) {
    await new Promise((r) => setTimeout(r, 250));
    runId = readOutboxLock(join(dir, "data/alerts-outbox"))?.run_id;
    const own = readAlertLog(join(dir, "logs/alerts")).some(
      (a: Alert) => a.rule === "circuit_breaker_tripped" && a.status === "firing" && a.runId === runId,
    );
    if (own && criticals(chatId).length > sentBefore) break;
  }
  child.kill("SIGTERM");
  const code = await exited(child);
  expect([0, 143], child.out()).toContain(code);
  expect(runId, child.out()).toBeDefined();
  return { runId: runId!, log: child.out() };
}

const criticals = (chatId: string) =>
  telegram
    .accepted()
    .filter((r) => (r.body as { chat_id?: string }).chat_id === chatId)
    .map((r) => String((r.body as { text: unknown }).text))
    .filter((text) => text.startsWith("🚨 <b>CRITICAL Circuit breaker tripped"));

beforeAll(async () => {
  execFileSync("npx", ["tsc", "-p", "tsconfig.build.json"], { cwd: ROOT, stdio: "inherit" });
  telegram = await startFakeHttpServer();
}, 120_000);

afterAll(async () => {
  await (telegram as FakeHttpServer | undefined)?.close(); // unset when beforeAll failed
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("restarts of the built demo", () => {
  it("regression: a breaker trip after a restart is not silent — flash-crash run twice pages two CRITICALs", async () => {
    const dir = workdir("flash-twice", "flash-twice");
    const first = await flashCrash(dir, "flash-twice", 0);
    expect(criticals("flash-twice"), first.log).toHaveLength(1);
    const second = await flashCrash(dir, "flash-twice", 1);
    expect(second.runId).not.toBe(first.runId);
    const sent = criticals("flash-twice");
    expect(sent, second.log).toHaveLength(2);
    expect(sent[1]).toContain("Fired again after a restart");
    // The audit log: the first run's alert closed by the second run, the second run's firing.
    const breakers = readAlertLog(join(dir, "logs/alerts")).filter(
      (a) => a.rule === "circuit_breaker_tripped",
    );
    expect(breakers.map((a) => [a.runId, a.status]).sort()).toEqual(
      [
        [first.runId, "resolved"],
        [second.runId, "firing"],
      ].sort(),
    );
  }, 120_000);

  it("regression: a second process on the same outbox exits 2 with one line naming the directory, the pid and the key", async () => {
    const dir = workdir("shared-outbox", "shared-outbox");
    const holder = demo(dir, "calm");
    try {
      const outbox = join(dir, "data/alerts-outbox");
      const deadline = Date.now() + 30_000;
      while (readOutboxLock(outbox)?.pid !== holder.pid && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      expect(readOutboxLock(outbox)?.pid, holder.out()).toBe(holder.pid);
      const second = demo(dir, "flash-crash");
      const code = await exited(second);
      expect(code).toBe(2);
      const errorLines = second
        .out()
        .split("\n")
        .filter((line) => line.startsWith("ticktrace demo:"));
      expect(errorLines).toEqual([
        expect.stringMatching(
          new RegExp(
            `^ticktrace demo: alerts\\.outbox\\.dir: the alert outbox ${outbox.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} is in use by another process \\(pid ${holder.pid!}, service \\S+, since \\S+\\); two processes must not share one outbox: give this one its own directory with alerts\\.outbox\\.dir`,
          ),
        ),
      ]);
      expect(second.out()).not.toMatch(/\n\s+at /); // no stack trace
      expect(holder.exitCode).toBeNull(); // the holder is untouched
    } finally {
      holder.kill("SIGTERM");
      await exited(holder);
    }
    // A clean exit releases the lock.
    expect(existsSync(join(dir, "data/alerts-outbox/lock"))).toBe(false);
  }, 90_000);
});
