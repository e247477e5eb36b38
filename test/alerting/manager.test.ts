import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { createManualClock } from "../../src/clock.js";
import { HealthRegistry } from "../../src/health/registry.js";
import { AlertManager } from "../../src/alerting/manager.js";
import { fingerprintOf } from "../../src/alert-model/model.js";
import { isoTimestamp } from "../../src/format/timestamp.js";
import { createCapturingLogger, createRecordingChannel, createTestMetrics, settle } from "./helpers.js";

const breaker = {
  rule: "circuit_breaker_tripped",
  level: "CRITICAL" as const,
  title: "Circuit breaker tripped",
  message: "daily loss 1600 > 1500",
  labels: { breaker: "daily_loss" },
  fields: { daily_pnl: -1600 },
};

function setup(options: { maxPerWindow?: number; repeatIntervalMs?: number } = {}) {
  const clock = createManualClock();
  const page = createRecordingChannel({ name: "page" });
  const audit = createRecordingChannel({ name: "audit", kind: "audit" });
  const { metrics, points } = createTestMetrics();
  const health = new HealthRegistry({ clock });
  const { logger, lines } = createCapturingLogger();
  const manager = new AlertManager({
    channels: [page, audit],
    clock,
    metrics,
    health,
    logger,
    repeatIntervalMs: options.repeatIntervalMs ?? 60_000,
    storm: { windowMs: 10_000, maxPerWindow: options.maxPerWindow ?? 10 },
    retry: { initialDelayMs: 100, maxDelayMs: 1000 },
    random: () => 1,
  });
  return { clock, page, audit, manager, points, health, lines };
}

describe("AlertManager", () => {
  it("delivers a raised alert to every channel, with fingerprint, id and firing status", async () => {
    const { page, audit, manager, lines } = setup();
    const alert = manager.raise(breaker)!;
    expect(alert).toMatchObject({
      rule: "circuit_breaker_tripped",
      level: "CRITICAL",
      status: "firing",
      acknowledged: false,
      fingerprint: "circuit_breaker_tripped{breaker=daily_loss}",
      timestamp: "2026-01-01T00:00:00.000Z",
    });
    expect(alert.id).toMatch(/^[0-9a-f]{6}-1$/);
    expect(page.delivered).toHaveLength(0); // raise only enqueues
    await manager.idle();
    expect(page.delivered.map((d) => [d.event, d.alert.id])).toEqual([["firing", alert.id]]);
    expect(audit.delivered.map((d) => d.event)).toEqual(["firing"]);
    // The log channel is added as the fallback: one line with component="alert".
    const logLine = lines.find((line) => line.component === "alert");
    expect(logLine).toMatchObject({
      message: "alert firing: Circuit breaker tripped",
      severity: "CRITICAL",
      alert_id: alert.id,
      level: "error",
    });
    await manager.shutdown();
  });

  it("does not re-send the same fingerprint before the repeat interval, and repeats after it", async () => {
    const { clock, page, audit, manager } = setup({ repeatIntervalMs: 60_000 });
    const first = manager.raise(breaker)!;
    clock.advance(30_000);
    const again = manager.raise({ ...breaker, message: "daily loss 1700" })!;
    expect(again.id).toBe(first.id);
    expect(manager.active()[0]!.message).toBe("daily loss 1700");
    await manager.idle();
    expect(page.delivered).toHaveLength(1);
    clock.advance(30_000);
    manager.raise(breaker);
    await manager.idle();
    expect(page.delivered.map((d) => d.event)).toEqual(["firing", "repeat"]);
    expect(audit.delivered.map((d) => d.event)).toEqual(["firing"]); // audit records state changes only
    expect(manager.active()).toHaveLength(1);
    await manager.shutdown();
  });

  it("acknowledged alerts stop repeating; resolve sends a resolve notification; a new raise is a new occurrence", async () => {
    const { clock, page, audit, manager } = setup({ repeatIntervalMs: 1000 });
    const alert = manager.raise(breaker)!;
    const acked = manager.acknowledge(alert.id, "telegram:@alice");
    expect(acked).toMatchObject({
      acknowledged: true,
      acknowledgedBy: "telegram:@alice",
      acknowledgedAt: "2026-01-01T00:00:00.000Z",
    });
    expect(manager.acknowledge(alert.id, "cli")).toBe(acked); // idempotent
    clock.advance(5000);
    manager.raise(breaker);
    await manager.idle();
    expect(page.delivered.map((d) => d.event)).toEqual(["firing"]);
    const resolved = manager.resolve("circuit_breaker_tripped", { breaker: "daily_loss" })!;
    expect(resolved).toMatchObject({
      status: "resolved",
      resolvedAt: "2026-01-01T00:00:05.000Z",
      id: alert.id,
    });
    expect(manager.resolve("circuit_breaker_tripped", { breaker: "daily_loss" })).toBeUndefined();
    await manager.idle();
    expect(page.delivered.map((d) => d.event)).toEqual(["firing", "resolved"]);
    expect(audit.delivered.map((d) => d.event)).toEqual(["firing", "acknowledged", "resolved"]);
    expect(manager.active()).toEqual([]);
    const next = manager.raise(breaker)!;
    expect(next.id).not.toBe(alert.id);
    await manager.shutdown();
  });

  it("acknowledging an unknown id throws NOT_FOUND with a message naming the id", () => {
    const { manager } = setup();
    expect(() => manager.acknowledge("nope-1")).toThrowError(
      expect.objectContaining({
        code: "NOT_FOUND",
        message: 'no firing alert has id "nope-1"; list them with `ticktrace monitor status`',
      }),
    );
  });

  it("a raise at a higher level escalates at once, whatever the repeat interval", async () => {
    const { clock, page, manager } = setup();
    manager.raise({
      rule: "exchange_disconnected",
      level: "WARNING",
      title: "down",
      message: "m",
      labels: { exchange: "sim" },
    });
    clock.advance(1000);
    const escalated = manager.raise({
      rule: "exchange_disconnected",
      level: "ERROR",
      title: "down long",
      message: "m",
      labels: { exchange: "sim" },
    })!;
    expect(escalated.level).toBe("ERROR");
    // A later WARNING does not lower it.
    expect(
      manager.raise({
        rule: "exchange_disconnected",
        level: "WARNING",
        title: "down",
        message: "m",
        labels: { exchange: "sim" },
      })!.level,
    ).toBe("ERROR");
    await manager.idle();
    expect(page.delivered.map((d) => [d.event, d.alert.level])).toEqual([
      ["firing", "WARNING"],
      ["escalated", "ERROR"],
    ]);
    await manager.shutdown();
  });

  it("storm control collapses a burst into one summary; CRITICAL still pages; audit keeps every alert", async () => {
    const { clock, page, audit, manager } = setup({ maxPerWindow: 3 });
    for (let i = 0; i < 8; i++) {
      manager.raise({
        rule: "risk_limit_breached",
        level: "WARNING",
        title: `breach ${i}`,
        message: "m",
        labels: { symbol: `S${i}` },
      });
    }
    manager.raise(breaker);
    await manager.idle();
    expect(page.delivered.map((d) => d.alert.title)).toEqual([
      "breach 0",
      "breach 1",
      "breach 2",
      "Circuit breaker tripped",
    ]);
    expect(audit.delivered).toHaveLength(9);
    clock.advance(10_000);
    await manager.idle();
    const summary = page.delivered[4]!;
    expect(summary.event).toBe("summary");
    expect(summary.alert).toMatchObject({
      rule: "alert_storm",
      level: "WARNING",
      collapsedCount: 5,
      title: "Alert storm: 5 alerts in 10s collapsed",
      message: "WARNING breach 3\nWARNING breach 4\nWARNING breach 5\nWARNING breach 6\nWARNING breach 7",
    });
    expect(summary.collapsed?.map((a) => a.title)).toEqual([
      "breach 3",
      "breach 4",
      "breach 5",
      "breach 6",
      "breach 7",
    ]);
    expect(page.delivered).toHaveLength(5);
    // Collapsed alerts were never paged, so their resolves are not paged either.
    manager.resolve("risk_limit_breached", { symbol: "S5" });
    manager.resolve("risk_limit_breached", { symbol: "S0" });
    await manager.idle();
    expect(page.delivered.slice(5).map((d) => [d.event, d.alert.title])).toEqual([["resolved", "breach 0"]]);
    await manager.shutdown();
  });

  it("honours min_level per channel", async () => {
    const clock = createManualClock();
    const warn = createRecordingChannel({ name: "warn", minLevel: "WARNING" });
    const manager = new AlertManager({ channels: [warn], clock });
    manager.raise({ rule: "large_fill", level: "INFO", title: "fill", message: "m", transient: true });
    manager.raise({ rule: "r", level: "ERROR", title: "err", message: "m" });
    await manager.idle();
    expect(warn.delivered.map((d) => d.alert.title)).toEqual(["err"]);
    await manager.shutdown();
  });

  it("retries with backoff, honours retry-after, and reports the channel degraded then up in /health", async () => {
    const { clock, page, manager, health, points } = setup();
    page.failNext = 2;
    manager.raise(breaker);
    await settle();
    expect(page.attempts).toBe(1);
    expect(health.snapshot().components.alerts).toMatchObject({
      "alerts.page": { status: "degraded", detail: "page said no" },
    });
    clock.advance(99); // backoff 100 ms (random pinned to 1)
    await settle();
    expect(page.attempts).toBe(1);
    clock.advance(1);
    await settle();
    expect(page.attempts).toBe(2);
    page.retryAfterSeconds = 7;
    // third attempt would be after 200 ms, but this failure says retry after 7 s
    page.failNext = 1;
    clock.advance(200);
    await settle();
    expect(page.attempts).toBe(3);
    clock.advance(6999);
    await settle();
    expect(page.attempts).toBe(3);
    clock.advance(1);
    await manager.idle();
    expect(page.delivered).toHaveLength(1);
    expect(page.delivered[0]!.attempt).toBe(4);
    expect(health.snapshot().components.alerts).toMatchObject({
      "alerts.page": { status: "up", pending: 0 },
    });
    const outcomes = await points("ticktrace_alert_notifications_total");
    expect(
      outcomes.filter((p) => p.attributes.channel === "page").map((p) => [p.attributes.outcome, p.value]),
    ).toEqual(
      expect.arrayContaining([
        ["retry", 3],
        ["delivered", 1],
      ]),
    );
    expect(await points("ticktrace_alerts_raised_total")).toEqual([
      { attributes: { rule: "circuit_breaker_tripped", level: "CRITICAL" }, value: 1 },
    ]);
    const durations = await points("ticktrace_alert_delivery_duration_seconds");
    expect(durations.find((p) => p.attributes.channel === "page")?.value).toBe(1);
    await manager.shutdown();
  });

  it("a non-retryable refusal is given up at once and logged with the alert (the log is the fallback)", async () => {
    const { page, manager, lines } = setup();
    page.failNext = 1;
    page.failCode = "REJECTED";
    manager.raise(breaker);
    await manager.idle();
    expect(page.attempts).toBe(1);
    expect(lines.find((l) => String(l.message).startsWith("alert channel page gave up"))).toMatchObject({
      message: "alert channel page gave up on an alert (failed): page said no",
      rule: "circuit_breaker_tripped",
      title: "Circuit breaker tripped",
    });
    await manager.shutdown();
  });

  it("a hanging channel is cut off at its timeout and does not delay another channel", async () => {
    const clock = createManualClock();
    const slow = createRecordingChannel({ name: "slow", timeoutMs: 5000 });
    const fast = createRecordingChannel({ name: "fast" });
    slow.hang = true;
    const manager = new AlertManager({
      channels: [slow, fast],
      clock,
      retry: { initialDelayMs: 100, maxDelayMs: 100 },
    });
    manager.raise(breaker);
    manager.raise({ ...breaker, labels: { breaker: "other" } });
    await settle();
    expect(fast.delivered).toHaveLength(2);
    expect(slow.delivered).toHaveLength(0);
    clock.advance(5000);
    await settle();
    expect(slow.aborted).toBe(1);
    slow.hang = false;
    clock.advance(100);
    await manager.idle();
    expect(slow.delivered.map((d) => d.alert.labels.breaker)).toEqual(["daily_loss", "other"]);
    await manager.shutdown();
  });

  it("state channels get a resend of every firing alert each interval, and skip transient alerts", async () => {
    const clock = createManualClock();
    const state = createRecordingChannel({ name: "am", kind: "state", resendIntervalMs: 60_000 });
    const manager = new AlertManager({ channels: [state], clock }).start();
    manager.raise(breaker);
    manager.raise({ rule: "large_fill", level: "INFO", title: "fill", message: "m", transient: true });
    await manager.idle();
    clock.advance(60_000);
    await manager.idle();
    manager.resolve(breaker.rule, breaker.labels);
    await manager.idle();
    clock.advance(60_000);
    await manager.idle();
    expect(state.delivered.map((d) => [d.event, d.alert.status])).toEqual([
      ["firing", "firing"],
      ["resend", "firing"],
      ["resolved", "resolved"],
    ]);
    await manager.shutdown();
  });

  it("raise returns undefined when alerts are disabled and only the log hears of it", async () => {
    const page = createRecordingChannel({ name: "page" });
    const { logger, lines } = createCapturingLogger();
    const manager = new AlertManager({ channels: [page], enabled: false, logger });
    expect(manager.raise(breaker)).toBeUndefined();
    await manager.idle();
    expect(page.delivered).toHaveLength(0);
    expect(lines.some((l) => l.component === "alert" && l.rule === "circuit_breaker_tripped")).toBe(true);
    await manager.shutdown();
  });

  it("rejects duplicate channel names and non-positive options with a message naming the option", () => {
    const a = createRecordingChannel({ name: "x" });
    expect(() => new AlertManager({ channels: [a, a] })).toThrow(
      'alert channel names must be unique: "x" appears twice',
    );
    expect(() => new AlertManager({ channels: [], repeatIntervalMs: 0 })).toThrow(
      "repeatIntervalMs must be greater than 0 (got 0)",
    );
  });

  it("storm control keeps only what the summary shows, and counts every collapsed alert", async () => {
    const { clock, page, manager } = setup({ maxPerWindow: 1 });
    for (let i = 0; i < 50; i++) {
      manager.raise({
        rule: "r",
        level: i === 7 ? "ERROR" : "WARNING",
        title: `t${i}`,
        message: "m",
        labels: { i: `${i}` },
      });
    }
    await manager.idle();
    clock.advance(10_000);
    await manager.idle();
    const summary = page.delivered.find((d) => d.event === "summary")!;
    expect(summary.alert).toMatchObject({ collapsedCount: 49, level: "ERROR", fields: { collapsed: 49 } });
    expect(summary.alert.message.split("\n")).toEqual([
      ...Array.from({ length: 10 }, (_, i) => `${i + 1 === 7 ? "ERROR" : "WARNING"} t${i + 1}`),
      "... and 39 more",
    ]);
    expect(summary.collapsed?.map((a) => a.title)).toEqual(Array.from({ length: 20 }, (_, i) => `t${i + 1}`));
    await manager.shutdown();
  });

  it("fans out in the order of the calls: a resolve in the raise's own turn is paged, after the firing", async () => {
    const { page, manager } = setup();
    manager.raise(breaker);
    manager.resolve(breaker.rule, breaker.labels);
    expect(page.delivered).toHaveLength(0);
    await manager.idle();
    expect(page.delivered.map((d) => d.event)).toEqual(["firing", "resolved"]);
    await manager.shutdown();
  });

  it("a raise during or after shutdown is journaled and delivered by the next start", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ticktrace-manager-"));
    try {
      const hanging = createRecordingChannel({ name: "page" });
      hanging.hang = true;
      const first = new AlertManager({ channels: [hanging], outboxDir: dir, fsync: false }).start();
      first.raise(breaker);
      const stopping = first.shutdown({ drainMs: 50 });
      first.raise({ ...breaker, labels: { breaker: "during" } });
      await stopping;
      first.raise({ ...breaker, labels: { breaker: "after" } });
      const page = createRecordingChannel({ name: "page" });
      const second = new AlertManager({ channels: [page], outboxDir: dir, fsync: false }).start();
      await second.idle();
      expect(page.delivered.map((d) => d.alert.labels.breaker).sort()).toEqual([
        "after",
        "daily_loss",
        "during",
      ]);
      await second.shutdown();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("isoTimestamp is Date#toISOString", () => {
    const samples = [
      0,
      -1,
      999,
      1000,
      -86_400_001,
      Date.UTC(2026, 0, 1),
      Date.UTC(2026, 0, 1) - 1,
      1.7,
      -1.5,
    ];
    for (let i = 0; i < 2000; i++)
      samples.push(Math.round((i * 7_919_111_017) % 4e12) - 1e12, Date.UTC(2026, 0, 1) + i * 977);
    for (const ms of samples) expect(isoTimestamp(ms)).toBe(new Date(ms).toISOString());
  });

  it("fingerprints sort labels", () => {
    expect(fingerprintOf("r", { b: "2", a: "1" })).toBe("r{a=1,b=2}");
    expect(fingerprintOf("r", {})).toBe("r");
  });
});
