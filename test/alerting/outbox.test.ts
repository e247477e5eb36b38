import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AlertManager } from "../../src/alerting/manager.js";
import { JOURNAL_FILE, Outbox, foldJournal, type NotificationRecord } from "../../src/alerting/outbox.js";
import type { Alert } from "../../src/alert-model/types.js";
import { HealthRegistry } from "../../src/health/registry.js";
import { createSilentLogger } from "../../src/logging/logger.js";
import { createCapturingLogger, createRecordingChannel } from "./helpers.js";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "ticktrace-outbox-"));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const alert = (id: string, status: "firing" | "resolved" = "firing"): Alert => ({
  id,
  fingerprint: `r{id=${id}}`,
  rule: "r",
  level: "ERROR",
  title: `t ${id}`,
  message: "m",
  timestamp: "2026-01-01T00:00:00.000Z",
  labels: { id },
  fields: {},
  status,
  acknowledged: false,
});

const n = (id: string, a: Alert, ch: string[]): NotificationRecord => ({
  op: "n",
  id,
  at: 1,
  event: "firing",
  alert: a,
  ch,
});

describe("outbox journal", () => {
  it("folds: pending channels are those without a done record; a torn last line is skipped", () => {
    const lines = [
      JSON.stringify(n("n1", alert("a"), ["telegram", "slack"])),
      JSON.stringify({ op: "d", id: "n1", ch: "telegram", outcome: "delivered" }),
      JSON.stringify(n("n2", alert("b"), ["telegram"])),
      JSON.stringify({ op: "d", id: "n2", ch: "telegram", outcome: "dropped" }),
      JSON.stringify(n("n3", alert("a", "resolved"), ["slack"])),
      '{"op":"n","id":"n4","at":1,"event":"fir',
    ];
    const { pending, active } = foldJournal(lines);
    expect(pending.map((r) => [r.id, r.ch])).toEqual([
      ["n1", ["slack"]],
      ["n3", ["slack"]],
    ]);
    expect(active.map((a) => a.id)).toEqual(["b"]); // a was resolved by its last snapshot
  });

  it("regression: a journal line of another shape (null, a number, a record with keys of the wrong type) was trusted and crashed the fold; it is skipped", () => {
    const lines = [
      "null",
      "5",
      '"text"',
      "[]",
      JSON.stringify({ op: "n", id: 7, at: 1, event: "firing", alert: alert("x"), ch: ["slack"] }),
      JSON.stringify({ op: "n", id: "n9", at: 1, event: "firing", alert: alert("y"), ch: "slack" }),
      JSON.stringify({ op: "d", id: "n1", ch: ["slack"] }),
      JSON.stringify({ op: "zap" }),
      JSON.stringify(n("n1", alert("a"), ["slack"])),
    ];
    const { pending, active } = foldJournal(lines);
    expect(pending.map((r) => [r.id, r.ch])).toEqual([["n1", ["slack"]]]);
    expect(active.map((a) => a.id)).toEqual(["a"]);
  });

  it("batches appends off the caller's call and compacts to what is owed", async () => {
    const owed: NotificationRecord[] = [];
    const outbox = new Outbox({
      dir,
      logger: createSilentLogger(),
      compactAfterRecords: 4,
      contents: () => ({ pending: owed, active: [] }),
    });
    expect(outbox.open()).toEqual({ pending: [], active: [] });
    outbox.append(n("n1", alert("a"), ["x"]));
    const file = path.join(dir, JOURNAL_FILE);
    expect(fs.readFileSync(file, "utf8")).toBe(""); // nothing written during the call
    await outbox.idle();
    expect(fs.readFileSync(file, "utf8").trim().split("\n")).toHaveLength(1);
    owed.push(n("n9", alert("z"), ["x"]));
    for (const id of ["n2", "n3", "n4"]) outbox.append(n(id, alert(id), ["x"]));
    await outbox.idle();
    // Four records since the last compaction: rewritten with only what is owed.
    expect(
      fs
        .readFileSync(file, "utf8")
        .trim()
        .split("\n")
        .map((l) => (JSON.parse(l) as { id: string }).id),
    ).toEqual(["n9"]);
    await outbox.close();
    await outbox.close();
  });

  it("a failing disk never crashes trading: logged once, health degraded, delivery goes on from memory", async () => {
    const blocked = path.join(dir, "not-a-dir");
    fs.writeFileSync(blocked, "I am a file");
    const { logger, lines } = createCapturingLogger();
    const health = new HealthRegistry();
    const page = createRecordingChannel({ name: "page" });
    const manager = new AlertManager({ channels: [page], outboxDir: blocked, logger, health }).start();
    for (let i = 0; i < 3; i++)
      manager.raise({ rule: "r", level: "ERROR", title: `t${i}`, message: "m", labels: { i: String(i) } });
    await manager.idle();
    expect(page.delivered).toHaveLength(3);
    const errors = lines.filter((l) => String(l.message).includes("alert outbox"));
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toMatch(/^cannot open the alert outbox .*journal\.jsonl: E(EXIST|NOTDIR)/);
    expect(health.snapshot().components.alerts).toMatchObject({ "alerts.outbox": { status: "degraded" } });
    await manager.shutdown();
  });
});
