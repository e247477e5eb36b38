/**
 * Restart semantics: an alert restored from the outbox belongs to the run that raised it, and a
 * second process cannot share the outbox. In-process managers with a fake clock; the lock is
 * also tried against a real second process.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LOCK_FILE, OutboxLockedError, readOutboxLock } from "../../src/alerting/lock.js";
import { AlertManager } from "../../src/alerting/manager.js";
import type { RaiseAlertInput } from "../../src/alert-model/types.js";
import { createManualClock } from "../../src/clock.js";
import { createRecordingChannel, settle } from "./helpers.js";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "ticktrace-restart-"));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const breaker: RaiseAlertInput = {
  rule: "circuit_breaker_tripped",
  level: "CRITICAL",
  title: "Circuit breaker tripped",
  message: "daily loss limit exceeded",
  labels: { breaker: "daily_loss" },
};
const disconnect: RaiseAlertInput = {
  rule: "exchange_disconnected",
  level: "WARNING",
  title: "Exchange sim disconnected",
  message: "reconnecting",
  labels: { exchange: "sim" },
};

function run(clock = createManualClock()) {
  const page = createRecordingChannel({ name: "page" });
  const audit = createRecordingChannel({ name: "audit", kind: "audit" });
  const state = createRecordingChannel({ name: "state", kind: "state" });
  const manager = new AlertManager({
    channels: [page, audit, state],
    outboxDir: dir,
    fsync: false,
    clock,
    restartGraceMs: 60_000,
  });
  return { manager, page, audit, state, clock };
}

/** A run that raised both alerts and ended without resolving them (a crash or a plain restart). */
async function previousRun(): Promise<string> {
  const first = run();
  first.manager.start();
  first.manager.raise(breaker);
  first.manager.raise(disconnect);
  await first.manager.idle();
  expect(first.page.delivered).toHaveLength(2);
  await first.manager.shutdown();
  return first.manager.runId;
}

describe("restart: restored alerts belong to the previous run", () => {
  it("regression: a breaker trip after a restart is not silent — the new run's raise notifies, saying it fired again", async () => {
    const oldRun = await previousRun();
    const second = run();
    second.manager.start();
    expect(second.manager.active().map((a) => [a.rule, a.runId])).toEqual(
      expect.arrayContaining([
        ["circuit_breaker_tripped", oldRun],
        ["exchange_disconnected", oldRun],
      ]),
    );
    const raised = second.manager.raise(breaker)!;
    expect(raised.runId).toBe(second.manager.runId);
    await second.manager.idle();
    expect(second.page.delivered.map((d) => [d.event, d.alert.id])).toEqual([["firing", raised.id]]);
    expect(second.page.delivered[0]!.alert.message).toMatch(
      /^daily loss limit exceeded\nFired again after a restart \(a previous run raised it at .+\)\.$/,
    );
    // The audit log closes the leftover and records the new alert; Alertmanager sees only the new one.
    expect(second.audit.delivered.map((d) => [d.event, d.alert.runId, d.alert.resolveReason])).toEqual([
      ["resolved", oldRun, `raised again after a restart by run ${second.manager.runId}`],
      ["firing", second.manager.runId, undefined],
    ]);
    expect(second.state.delivered.map((d) => [d.event, d.alert.id])).toEqual([["firing", raised.id]]);
    // From here it is this run's alert: the next raise is deduplicated as usual.
    second.manager.raise(breaker);
    await second.manager.idle();
    expect(second.page.delivered).toHaveLength(1);
    await second.manager.shutdown();
  });

  it("leftovers nothing raises again are resolved after the grace period, with the reason, on every channel", async () => {
    const oldRun = await previousRun();
    const second = run();
    second.manager.start();
    second.manager.raise(breaker);
    await second.manager.idle();
    second.clock.advance(59_999);
    await second.manager.idle();
    expect(
      second.manager
        .active()
        .map((a) => a.rule)
        .sort(),
    ).toEqual(["circuit_breaker_tripped", "exchange_disconnected"]);
    second.clock.advance(1);
    await second.manager.idle();
    expect(second.manager.active().map((a) => [a.rule, a.runId])).toEqual([
      ["circuit_breaker_tripped", second.manager.runId],
    ]);
    const resolved = second.page.delivered.filter((d) => d.event === "resolved");
    expect(resolved.map((d) => [d.alert.rule, d.alert.runId, d.alert.resolveReason])).toEqual([
      ["exchange_disconnected", oldRun, "not raised again within 60s after a restart"],
    ]);
    expect(resolved[0]!.alert.message).toBe(
      "reconnecting\nResolved: not raised again within 60s after a restart; the run that raised it has ended.",
    );
    expect(second.state.delivered.filter((d) => d.event === "resolved")).toHaveLength(1);
    await second.manager.shutdown();

    // A third run restores only what was still firing: the second run's breaker.
    const third = run();
    third.manager.start();
    expect(third.manager.active().map((a) => [a.rule, a.runId])).toEqual([
      ["circuit_breaker_tripped", second.manager.runId],
    ]);
    await third.manager.shutdown();
  });

  it("notifications pending at the end of a run are delivered by the next one, once", async () => {
    const first = run();
    first.page.hang = true;
    first.manager.start();
    first.manager.raise(breaker);
    await first.manager.shutdown({ drainMs: 20 });
    const second = run();
    second.manager.start();
    await second.manager.idle();
    expect(second.page.delivered.map((d) => [d.event, d.alert.runId])).toEqual([
      ["firing", first.manager.runId],
    ]);
    await second.manager.shutdown();
    const third = run();
    third.manager.start();
    await third.manager.idle();
    expect(third.page.delivered).toEqual([]);
    await third.manager.shutdown();
  });

  it("a raise before start() is delivered from memory and journaled by start()", async () => {
    const early = run();
    early.page.hang = true;
    early.manager.raise(disconnect);
    await settle();
    expect(early.audit.delivered).toHaveLength(1);
    early.manager.start();
    await early.manager.shutdown({ drainMs: 20 });
    const next = run();
    next.manager.start();
    await next.manager.idle();
    expect(next.page.delivered.map((d) => d.alert.rule)).toEqual(["exchange_disconnected"]);
    await next.manager.shutdown();
  });
});

describe("one process per outbox", () => {
  it("start() takes the lock; a second manager gets OutboxLockedError naming the directory, the pid and the key", async () => {
    const first = run();
    expect(fs.existsSync(path.join(dir, LOCK_FILE))).toBe(false); // the constructor does no I/O
    first.manager.start();
    expect(readOutboxLock(dir)).toMatchObject({ pid: process.pid, run_id: first.manager.runId });
    // Same pid (as after a container restart): that is a stale lock, taken over.
    const samePid = run();
    expect(() => samePid.manager.start()).not.toThrow();
    await samePid.manager.shutdown();
    await first.manager.shutdown();
    expect(fs.existsSync(path.join(dir, LOCK_FILE))).toBe(false);
  });

  it("a lock held by a live process refuses; a dead holder's lock is recovered", async () => {
    const holder = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
    try {
      fs.writeFileSync(
        path.join(dir, LOCK_FILE),
        JSON.stringify({ pid: holder.pid, run_id: "abcd1234", started_at: "2026-01-01T00:00:00.000Z" }),
      );
      const blocked = run();
      let error: unknown;
      try {
        blocked.manager.start();
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(OutboxLockedError);
      expect((error as Error).message).toBe(
        `alerts.outbox.dir: the alert outbox ${dir} is in use by another process (pid ${holder.pid!}, since 2026-01-01T00:00:00.000Z); ` +
          "two processes must not share one outbox: give this one its own directory with alerts.outbox.dir " +
          "(for example data/<service.name>/alerts-outbox), or stop the other process",
      );
    } finally {
      holder.kill("SIGKILL");
      await new Promise((resolve) => holder.once("exit", resolve));
    }
    const recovered = run();
    recovered.manager.start();
    expect(readOutboxLock(dir)?.run_id).toBe(recovered.manager.runId);
    await recovered.manager.shutdown();
  });
});
