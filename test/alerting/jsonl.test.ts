import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  appendAcknowledgement,
  cleanupAlertLogs,
  foldAlertLines,
  readAlertLog,
} from "../../src/alert-log/store.js";
import { createJsonlChannel } from "../../src/alerting/channels/jsonl.js";
import { AlertManager } from "../../src/alerting/manager.js";
import { createManualClock } from "../../src/clock.js";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "ticktrace-jsonl-"));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("JSONL channel", () => {
  it("appends alert lines to <dir>/<date>.jsonl, one per event, daily files, and folds them back", async () => {
    const clock = createManualClock(Date.UTC(2026, 2, 10, 23, 59, 0));
    const jsonl = createJsonlChannel({ dir, clock });
    const manager = new AlertManager({ channels: [jsonl], clock });
    const alert = manager.raise({
      rule: "circuit_breaker_tripped",
      level: "CRITICAL",
      title: "Circuit breaker tripped",
      message: "Circuit breaker active - daily loss limit exceeded",
      labels: { breaker: "daily_loss" },
      fields: { daily_loss_pct: -5.2, threshold: -5.0, open_positions: 3 },
      traceId: "abc",
    })!;
    await manager.idle();
    manager.acknowledge(alert.id, "telegram:@alice");
    await manager.idle();
    clock.advance(120_000); // past midnight UTC: the resolve goes to the next day's file
    manager.resolve("circuit_breaker_tripped", { breaker: "daily_loss" });
    await manager.idle();

    expect(fs.readdirSync(dir).sort()).toEqual(["2026-03-10.jsonl", "2026-03-11.jsonl"]);
    const day1 = fs
      .readFileSync(path.join(dir, "2026-03-10.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(day1[0]).toEqual({
      timestamp: "2026-03-10T23:59:00.000Z",
      severity: "CRITICAL",
      rule: "circuit_breaker_tripped",
      message: "Circuit breaker active - daily loss limit exceeded",
      context: { daily_loss_pct: -5.2, threshold: -5, open_positions: 3 },
      acknowledged: false,
      id: alert.id,
      fingerprint: "circuit_breaker_tripped{breaker=daily_loss}",
      status: "firing",
      title: "Circuit breaker tripped",
      labels: { breaker: "daily_loss" },
      event: "firing",
      event_time: "2026-03-10T23:59:00.000Z",
      trace_id: "abc",
      run_id: manager.runId,
    });
    expect(day1[1]).toMatchObject({
      event: "acknowledged",
      acknowledged: true,
      acknowledged_by: "telegram:@alice",
    });
    const day2 = fs
      .readFileSync(path.join(dir, "2026-03-11.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(day2).toHaveLength(1);
    expect(day2[0]).toMatchObject({
      event: "resolved",
      status: "resolved",
      resolved_at: "2026-03-11T00:01:00.000Z",
      acknowledged: true,
    });

    const folded = readAlertLog(dir);
    expect(folded).toHaveLength(1);
    expect(folded[0]).toMatchObject({
      id: alert.id,
      status: "resolved",
      acknowledged: true,
      acknowledgedBy: "telegram:@alice",
      level: "CRITICAL",
    });
    await manager.shutdown();
  });

  it("foldAlertLines merges partial acknowledgement lines, skips torn and foreign lines, newest first", () => {
    const line = (id: string, timestamp: string) =>
      JSON.stringify({
        timestamp,
        severity: "WARNING",
        rule: "r",
        message: "m",
        context: {},
        acknowledged: false,
        id,
        fingerprint: `r{id=${id}}`,
        status: "firing",
        title: "t",
        labels: {},
        event: "firing",
        event_time: timestamp,
      });
    const alerts = foldAlertLines([
      line("a-1", "2026-01-01T00:00:00.000Z"),
      line("a-2", "2026-01-01T00:01:00.000Z"),
      '{"id":"a-1","event":"acknowledged","event_time":"2026-01-01T00:02:00.000Z","acknowledged":true,"acknowledged_by":"cli"}',
      '{"id":"a-2","event":"resol',
      "not json",
      '{"hello":"world"}',
      '{"id":"ghost","event":"acknowledged","acknowledged":true}',
      "",
    ]);
    expect(alerts.map((a) => [a.id, a.acknowledged, a.acknowledgedBy ?? null, a.status])).toEqual([
      ["a-2", false, null, "firing"],
      ["a-1", true, "cli", "firing"],
    ]);
  });

  it("appendAcknowledgement writes a partial line the fold understands; unknown ids are NOT_FOUND", async () => {
    const clock = createManualClock(Date.UTC(2026, 0, 5));
    const manager = new AlertManager({ channels: [createJsonlChannel({ dir, clock })], clock });
    const alert = manager.raise({ rule: "r", level: "ERROR", title: "t", message: "m" })!;
    await manager.shutdown();
    const acked = await appendAcknowledgement(dir, alert.id, "cli", Date.UTC(2026, 0, 5, 1));
    expect(acked).toMatchObject({
      id: alert.id,
      acknowledged: true,
      acknowledgedBy: "cli",
      acknowledgedAt: "2026-01-05T01:00:00.000Z",
    });
    expect(readAlertLog(dir)[0]).toMatchObject({ acknowledged: true, acknowledgedBy: "cli" });
    await expect(appendAcknowledgement(dir, "nope", "cli")).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("retention deletes daily files older than retention_days, at start and on its timer", async () => {
    const now = Date.UTC(2026, 5, 1);
    for (const name of [
      "2026-02-28.jsonl",
      "2026-03-03.jsonl",
      "2026-03-04.jsonl",
      "2026-05-31.jsonl",
      "notes.txt",
    ]) {
      fs.writeFileSync(path.join(dir, name), "\n");
    }
    expect((await cleanupAlertLogs(dir, 90, now)).map((f) => path.basename(f))).toEqual(["2026-02-28.jsonl"]);
    const clock = createManualClock(now);
    const channel = createJsonlChannel({ dir, clock, retentionDays: 90, cleanupIntervalMs: 3_600_000 });
    clock.set(now + 86_400_000); // a day later the 03-03 file is 91 days old
    clock.advance(3_600_000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(fs.readdirSync(dir).sort()).toEqual(["2026-03-04.jsonl", "2026-05-31.jsonl", "notes.txt"]);
    await channel.shutdown?.();
  });
});
