/**
 * Crash consistency: a bot built on the package (bench/fixtures/alert-crash-child.js) is killed
 * with SIGKILL at seeded random points, 50 times, while a fake Telegram/Slack server on 127.0.0.1
 * fails and recovers; a last run drains the outbox. Every alert that reached the journal is
 * delivered to both channels; duplicates (a kill between "accepted" and "recorded") are counted
 * and reported, not hidden.
 */
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runCrashTrial } from "../../bench/reliability.js";
import { AlertManager } from "../../src/alerting/manager.js";
import { createRecordingChannel } from "./helpers.js";

const ROOT = path.resolve(__dirname, "../..");
const SEED = 20_261_201;

beforeAll(() => {
  execFileSync("npx", ["tsc", "-p", "tsconfig.build.json"], { cwd: ROOT, stdio: "inherit" });
}, 120_000);

describe("crash consistency", () => {
  it("50 SIGKILLs while channels fail and recover: 0 journaled alerts lost, duplicates counted", async () => {
    const result = await runCrashTrial({ kills: 50, seed: SEED });
    const report = path.join(os.tmpdir(), `ticktrace-crash-report-${SEED}.json`);
    fs.writeFileSync(report, `${JSON.stringify(result, null, 2)}\n`);
    // The figures, for the test log (the same trial runs in `npm run bench -- --only reliability`).
    console.log(`crash trial (report ${report}):`, JSON.stringify(result));
    expect(result.kills).toBe(50);
    expect(result.journaled).toBeGreaterThan(50); // the trial did raise alerts between the kills
    expect(result.refusedRequests).toBeGreaterThan(0); // and the channels did fail meanwhile
    expect(result.lostDetail).toEqual([]);
    expect(result.lost).toBe(0);
  }, 240_000);

  it.each([
    ["an uncaught exception", "throw new Error('boom')", 1],
    ["process.exit()", "process.exit(0)", 0],
  ])(
    "regression: an alert raised just before %s is journaled on the way out and delivered by the next start",
    async (_what, ending, status) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ticktrace-exit-"));
      try {
        const script = `
          const { AlertManager } = require(${JSON.stringify(path.join(ROOT, "dist/alerting/index.js"))});
          const hang = { name: "page", minLevel: "INFO", send: () => new Promise(() => {}) };
          const manager = new AlertManager({ channels: [hang], outboxDir: ${JSON.stringify(dir)} }).start();
          manager.raise({ rule: "last_words", level: "CRITICAL", title: "raised right before the end", message: "m" });
          ${ending};
        `;
        const child = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: 30_000 });
        expect(child.status, child.stderr).toBe(status);
        const page = createRecordingChannel({ name: "page" });
        const next = new AlertManager({ channels: [page], outboxDir: dir, fsync: false }).start();
        await next.idle();
        expect(page.delivered.map((d) => d.alert.title)).toEqual(["raised right before the end"]);
        await next.shutdown();
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
    60_000,
  );
});
