/**
 * Disk trouble under the outbox and the JSONL log, on a real small file system: a 256 KiB tmpfs
 * (mounted by the test; needs root, skipped with the reason otherwise) filled to ENOSPC, and one
 * mounted read-only then remounted read-write. Telegram is a fake Bot API server on 127.0.0.1.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { readAlertLog } from "../../src/alert-log/store.js";
import { createJsonlChannel } from "../../src/alerting/channels/jsonl.js";
import { createTelegramChannel } from "../../src/alerting/channels/telegram.js";
import { readOutboxLock } from "../../src/alerting/lock.js";
import { AlertManager } from "../../src/alerting/manager.js";
import { JOURNAL_FILE, foldJournal } from "../../src/alerting/outbox.js";
import { HealthRegistry } from "../../src/health/registry.js";
import { createCapturingLogger, createTestMetrics } from "./helpers.js";
import { startFakeHttpServer, type FakeHttpServer } from "./fake-http.js";

let mountError: string | undefined;
const mounts: string[] = [];

function mountTmpfs(options: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ticktrace-disk-"));
  execFileSync("mount", ["-t", "tmpfs", "-o", options, "tmpfs", dir], { stdio: "pipe" });
  mounts.push(dir);
  return dir;
}

beforeAll(() => {
  try {
    const probe = mountTmpfs("size=256k");
    execFileSync("umount", [probe]);
    mounts.pop();
    fs.rmdirSync(probe);
  } catch (error) {
    mountError = `cannot mount a tmpfs here (${(error as Error).message.split("\n")[0] ?? ""}); run as root`;
  }
});

afterEach(() => {
  for (const dir of mounts.splice(0)) {
    try {
      execFileSync("umount", [dir]);
      fs.rmdirSync(dir);
    } catch {
      // left for the OS to clean up
    }
  }
});

/** Fills the file system at `dir` until ENOSPC; returns the filler's path. */
function fill(dir: string): string {
  const filler = path.join(dir, "filler");
  const fd = fs.openSync(filler, "w");
  const block = Buffer.alloc(4096, 1);
  try {
    for (;;) fs.writeSync(fd, block);
  } catch (error) {
    expect((error as NodeJS.ErrnoException).code).toBe("ENOSPC");
  } finally {
    fs.closeSync(fd);
  }
  return filler;
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function setup(root: string, telegram: FakeHttpServer) {
  const capture = createCapturingLogger();
  const health = new HealthRegistry();
  const testMetrics = createTestMetrics();
  const manager = new AlertManager({
    channels: [
      createJsonlChannel({ dir: path.join(root, "alerts") }),
      createTelegramChannel({ botToken: "1:disk", chatId: "disk", apiUrl: telegram.url, minLevel: "INFO" }),
    ],
    outboxDir: path.join(root, "outbox"),
    logger: capture.logger,
    health,
    metrics: testMetrics.metrics,
    retry: { initialDelayMs: 50, maxDelayMs: 200 },
    outboxRetryIntervalMs: 100,
  });
  return { manager, health, ...capture, ...testMetrics };
}

/** A raise with a 6 KiB message: more than a full tmpfs's last partly used page can take. */
const raise = (manager: AlertManager, i: number) =>
  manager.raise({
    rule: "disk_test",
    level: "ERROR",
    title: `disk alert ${i}`,
    message: "x".repeat(6 * 1024),
    labels: { i: String(i) },
  });

const outboxState = (health: HealthRegistry) =>
  (health.snapshot().components.alerts as Record<string, { status: string }> | undefined)?.["alerts.outbox"]
    ?.status;

describe("disk trouble", () => {
  it("regression: a full disk: alerts still reach Telegram from memory, reported once (log, /health, metric), writing resumes with nothing missing", async (context) => {
    if (mountError) return context.skip(mountError);
    const root = mountTmpfs("size=256k");
    const telegram = await startFakeHttpServer();
    try {
      const { manager, health, lines, points } = setup(root, telegram);
      manager.start();
      raise(manager, 0);
      await manager.idle();
      expect(outboxState(health)).toBe("up");

      const filler = fill(root);
      for (let i = 1; i <= 5; i++) expect(raise(manager, i)).toBeDefined(); // raising never throws
      // Telegram splits a long message: the first part carries the title.
      const titled = () =>
        telegram
          .accepted()
          .map((r) => /disk alert (\d+)/.exec(String(r.body.text))?.[1])
          .filter((n) => n !== undefined);
      await waitFor("six alerts on Telegram", () => titled().length >= 6);
      expect(titled()).toEqual(["0", "1", "2", "3", "4", "5"]);
      await waitFor("the outbox to report the failure", () => outboxState(health) === "degraded");
      // Held a while: retries go on, the report does not repeat.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const outboxErrors = lines.filter((l) => String(l.message).startsWith("alert outbox write failed"));
      expect(outboxErrors).toHaveLength(1);
      expect(outboxErrors[0]!.message).toMatch(/ENOSPC/);
      const jsonlWarnings = lines.filter((l) => String(l.message).startsWith("alert channel jsonl failed"));
      expect(jsonlWarnings).toHaveLength(1);
      const errors = await points("ticktrace_alert_outbox_write_errors_total");
      expect(errors[0]?.value ?? 0).toBeGreaterThanOrEqual(1);
      expect(health.snapshot().components.alerts).toMatchObject({
        "alerts.outbox": { status: "degraded" },
        "alerts.jsonl": { status: "degraded" },
      });

      fs.rmSync(filler); // the disk takes writes again
      await waitFor("the outbox to recover", () => outboxState(health) === "up");
      await waitFor("the JSONL log to catch up", () => readAlertLog(path.join(root, "alerts")).length === 6);
      await manager.idle();
      expect(
        lines.filter((l) => String(l.message).startsWith("alert outbox writes succeed again")),
      ).toHaveLength(1);
      // The journal is whole again: every firing alert, nothing owed.
      const journal = foldJournal(
        fs.readFileSync(path.join(root, "outbox", JOURNAL_FILE), "utf8").split("\n"),
      );
      expect(journal.active.map((a) => a.title).sort()).toEqual(
        [0, 1, 2, 3, 4, 5].map((i) => `disk alert ${i}`),
      );
      expect(journal.pending).toEqual([]);
      await manager.shutdown();
      expect(titled()).toHaveLength(6); // and nothing was sent twice
    } finally {
      await telegram.close();
    }
  });

  it("regression: an outbox that is read-only at start runs from memory, then opens and journals what it owes", async (context) => {
    if (mountError) return context.skip(mountError);
    const root = mountTmpfs("size=256k,ro");
    const telegram = await startFakeHttpServer();
    telegram.mode = { kind: "status", status: 502 };
    try {
      const { manager, health, lines } = setup(root, telegram);
      manager.start();
      expect(outboxState(health)).toBe("degraded");
      expect(
        lines.find((l) => String(l.message).startsWith("cannot open the alert outbox"))?.message,
      ).toMatch(
        /EROFS|ENOENT/, // Node's recursive mkdir reports a read-only file system as ENOENT
      );
      raise(manager, 1);
      raise(manager, 2);
      await new Promise((resolve) => setTimeout(resolve, 300));
      execFileSync("mount", ["-o", "remount,rw", root]);
      await waitFor("the outbox to open late", () => outboxState(health) === "up");
      expect(readOutboxLock(path.join(root, "outbox"))?.run_id).toBe(manager.runId); // the lock, taken late
      // Telegram is still down: the journal holds both notifications for it.
      const journal = foldJournal(
        fs.readFileSync(path.join(root, "outbox", JOURNAL_FILE), "utf8").split("\n"),
      );
      expect(
        journal.pending
          .filter((r) => r.ch.includes("telegram"))
          .map((r) => r.alert.title)
          .sort(),
      ).toEqual(["disk alert 1", "disk alert 2"]);
      telegram.mode = { kind: "ok" };
      await waitFor("both alerts on Telegram", () =>
        ["disk alert 1", "disk alert 2"].every((t) =>
          telegram.accepted().some((r) => String(r.body.text).includes(t)),
        ),
      );
      await manager.shutdown();
    } finally {
      await telegram.close();
    }
  });
});
