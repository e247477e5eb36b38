/**
 * Reliability of alert delivery, measured on real processes and a real HTTP server:
 *
 * - **crash**: a small bot (`bench/fixtures/alert-crash-child.js`, the built package's
 *   AlertManager with Telegram and Slack channels) raises alerts while a fake Telegram/Slack
 *   server on 127.0.0.1 fails and recovers on a seeded schedule; the bot is killed with SIGKILL
 *   at seeded random points and restarted on the same outbox, many times; a last run drains.
 *   Counted: kills, alerts journaled, alerts lost (journaled but never delivered: must be 0),
 *   alerts raised but killed before their journal write (the fsync window), and duplicate
 *   deliveries (a kill between "the channel accepted" and "the journal recorded it").
 * - **recovery**: time from a channel recovering to the waiting alerts being delivered, with the
 *   default retry policy (500 ms doubling, capped at 60 s).
 *
 * `npm run bench -- --only reliability`; test/alerting/crash.test.ts runs the same trial and
 * asserts on it.
 */
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { readAlertLog } from "../src/alert-log/store.js";
import { createJsonlChannel } from "../src/alerting/channels/jsonl.js";
import { createTelegramChannel } from "../src/alerting/channels/telegram.js";
import { AlertManager } from "../src/alerting/manager.js";
import { JOURNAL_FILE, foldJournal } from "../src/alerting/outbox.js";
import { HealthRegistry } from "../src/health/registry.js";
import { createSilentLogger } from "../src/logging/logger.js";
import { REPO_ROOT, notMeasured, type Benchmark, type Figure } from "./lib.js";

const CHILD = path.join(REPO_ROOT, "bench/fixtures/alert-crash-child.js");

/** mulberry32: a small seeded generator, so a failing trial can be replayed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The fake Telegram + Slack server: answers 503 while `down`, records what it accepted. */
export interface FlakyServer {
  readonly url: string;
  down: boolean;
  /** Accepted deliveries of alert `seq`, per channel. */
  readonly accepted: { telegram: Map<number, number>; slack: Map<number, number> };
  /** Wall time of each accepted request. */
  readonly acceptedAt: number[];
  refused: number;
  close(): Promise<void>;
}

export async function startFlakyServer(): Promise<FlakyServer> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      if (flaky.down) {
        flaky.refused++;
        res.writeHead(503, { "content-type": "text/plain" }).end("service unavailable");
        return;
      }
      const text = Buffer.concat(chunks).toString("utf8");
      const channel = req.url?.startsWith("/slack/") ? "slack" : "telegram";
      const seq = /crash-test alert (\d+)/.exec(text)?.[1];
      if (seq !== undefined) {
        const map = flaky.accepted[channel];
        map.set(Number(seq), (map.get(Number(seq)) ?? 0) + 1);
      }
      flaky.acceptedAt.push(Date.now());
      if (channel === "slack") res.writeHead(200, { "content-type": "text/plain" }).end("ok");
      else res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true,"result":{}}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const flaky: FlakyServer = {
    url: `http://127.0.0.1:${port}`,
    down: false,
    accepted: { telegram: new Map(), slack: new Map() },
    acceptedAt: [],
    refused: 0,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return flaky;
}

interface ChildRun {
  raised: number[];
  journaled: number[];
  lines: string;
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * Runs the child; `killAfter` is called once it printed its start line and returns the delay
 * before SIGKILL (undefined: let it finish on its own, within `timeoutMs`).
 */
function runChild(
  env: Record<string, string>,
  options: { killAtSpawnMs?: number; killAfterStartMs?: number; timeoutMs?: number },
): Promise<ChildRun> {
  const child = spawn(process.execPath, [CHILD], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let lines = "";
  let started = false;
  const kill = () => child.kill("SIGKILL");
  const timers: NodeJS.Timeout[] = [];
  if (options.killAtSpawnMs !== undefined) timers.push(setTimeout(kill, options.killAtSpawnMs));
  timers.push(setTimeout(kill, options.timeoutMs ?? 30_000));
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    lines += chunk;
    if (!started && lines.includes("S ")) {
      started = true;
      if (options.killAfterStartMs !== undefined) timers.push(setTimeout(kill, options.killAfterStartMs));
    }
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (lines += chunk));
  return new Promise((resolve) => {
    child.on("exit", (code, signal) => {
      for (const timer of timers) clearTimeout(timer);
      const raised: number[] = [];
      const journaled: number[] = [];
      for (const line of lines.split("\n")) {
        const match = /^([RD]) (\d+)$/.exec(line);
        if (match) (match[1] === "R" ? raised : journaled).push(Number(match[2]));
      }
      resolve({ raised, journaled, lines, code, signal });
    });
  });
}

export interface CrashTrialOptions {
  kills: number;
  seed: number;
  /** Where the outbox lives (a fresh temporary directory when absent). */
  dir?: string;
}

export interface CrashTrialResult {
  seed: number;
  kills: number;
  /** raise() returned. */
  raised: number;
  /** In the journal before the kill (`journaled()` resolved): these must all be delivered. */
  journaled: number;
  /** Journaled alerts some channel never accepted. Must be 0. */
  lost: number;
  lostDetail: string[];
  /** Raised, killed before the journal write, and never delivered (the fsync window). */
  lostInFsyncWindow: number;
  /**
   * Raised, not confirmed journaled before the kill, delivered anyway: the channel accepted it
   * before the kill, or the journal write completed just before it.
   */
  unconfirmedDelivered: number;
  /** Deliveries beyond the first, per channel: kills between "accepted" and "recorded". */
  duplicates: { telegram: number; slack: number };
  refusedRequests: number;
  drainMs: number;
  durationMs: number;
}

/** The crash trial (see the module comment). */
export async function runCrashTrial(options: CrashTrialOptions): Promise<CrashTrialResult> {
  const began = Date.now();
  const random = seededRandom(options.seed);
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "ticktrace-crash-"));
  const outbox = path.join(dir, "outbox");
  const server = await startFlakyServer();
  // The channels fail and recover on their own schedule, independent of the kills.
  let flapping = true;
  const flap = async () => {
    while (flapping) {
      server.down = !server.down;
      const ms = server.down ? 150 + random() * 600 : 200 + random() * 900;
      await new Promise((resolve) => setTimeout(resolve, ms));
    }
  };
  const flapper = flap();
  const env = {
    CRASH_URL: server.url,
    CRASH_OUTBOX: outbox,
    CRASH_RETRY_INITIAL_MS: "50",
    CRASH_RETRY_MAX_MS: "400",
  };
  const raised = new Set<number>();
  const journaled = new Set<number>();
  let next = 0;
  let kills = 0;
  try {
    for (let i = 0; i < options.kills; i++) {
      // One kill in five lands anywhere from spawn (start-up, journal compaction); the rest while raising.
      const early = random() < 0.2;
      const run = await runChild(
        {
          ...env,
          CRASH_MODE: "raise",
          CRASH_FROM: String(next),
          CRASH_INTERVAL_MS: String(1 + Math.floor(random() * 10)),
        },
        early
          ? { killAtSpawnMs: Math.floor(random() * 1200) }
          : { killAfterStartMs: Math.floor(random() * 500) },
      );
      if (run.signal === "SIGKILL") kills++;
      else
        throw new Error(`the crash child exited on its own (${String(run.code)}): ${run.lines.slice(-2000)}`);
      for (const seq of run.raised) raised.add(seq);
      for (const seq of run.journaled) journaled.add(seq);
      if (run.raised.length > 0) next = Math.max(...run.raised) + 1;
    }
    flapping = false;
    await flapper;
    server.down = false;
    const drainStart = Date.now();
    const drain = await runChild({ ...env, CRASH_MODE: "drain" }, { timeoutMs: 60_000 });
    const drainMs = Date.now() - drainStart;
    if (!drain.lines.includes("DRAINED"))
      throw new Error(`the drain run did not finish: ${String(drain.code)} ${drain.lines.slice(-2000)}`);

    const lostDetail: string[] = [];
    for (const seq of journaled) {
      for (const channel of ["telegram", "slack"] as const)
        if (!server.accepted[channel].has(seq)) lostDetail.push(`${channel}:${seq}`);
    }
    let lostInFsyncWindow = 0;
    let unconfirmedDelivered = 0;
    for (const seq of raised) {
      if (journaled.has(seq)) continue;
      if (server.accepted.telegram.has(seq) && server.accepted.slack.has(seq)) unconfirmedDelivered++;
      else lostInFsyncWindow++;
    }
    const dups = (map: Map<number, number>) => [...map.values()].reduce((sum, count) => sum + count - 1, 0);
    return {
      seed: options.seed,
      kills,
      raised: raised.size,
      journaled: journaled.size,
      lost: lostDetail.length,
      lostDetail: lostDetail.slice(0, 20),
      lostInFsyncWindow,
      unconfirmedDelivered,
      duplicates: { telegram: dups(server.accepted.telegram), slack: dups(server.accepted.slack) },
      refusedRequests: server.refused,
      drainMs,
      durationMs: Date.now() - began,
    };
  } finally {
    flapping = false;
    await flapper;
    await server.close();
    if (options.dir === undefined) fs.rmSync(dir, { recursive: true, force: true });
  }
}

export interface RecoveryTrialResult {
  /** Alerts waiting when the channel recovered. */
  waiting: number;
  /** From the channel answering again to the first waiting alert accepted, ms. */
  firstDeliveryMs: number;
  /** From the channel answering again to every waiting alert accepted (both channels), ms. */
  allDeliveredMs: number;
  /** How long the channel was down, ms. */
  outageMs: number;
}

/**
 * A channel outage of `outageMs` while alerts wait, with the default retry policy: how long
 * after the channel answers again the alerts arrive.
 */
export async function runRecoveryTrial(outageMs: number): Promise<RecoveryTrialResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ticktrace-recovery-"));
  const server = await startFlakyServer();
  try {
    server.down = true;
    const env = { CRASH_URL: server.url, CRASH_OUTBOX: path.join(dir, "outbox") };
    // Journal some alerts while the channel is down (the bot is killed after 300 ms of raising).
    const raiser = await runChild(
      { ...env, CRASH_MODE: "raise", CRASH_FROM: "0", CRASH_INTERVAL_MS: "20" },
      { killAfterStartMs: 300 },
    );
    const waiting = raiser.journaled.length;
    const drainer = runChild({ ...env, CRASH_MODE: "drain" }, { timeoutMs: outageMs + 120_000 });
    const downAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, outageMs));
    server.down = false;
    const upAt = Date.now();
    const drain = await drainer;
    if (!drain.lines.includes("DRAINED")) throw new Error(`the drain run did not finish: ${drain.lines}`);
    const after = server.acceptedAt.filter((at) => at >= upAt);
    return {
      waiting,
      firstDeliveryMs: (after[0] ?? Number.NaN) - upAt,
      allDeliveredMs: (after.at(-1) ?? Number.NaN) - upAt,
      outageMs: upAt - downAt,
    };
  } finally {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export interface DiskFullTrialResult {
  /** Alerts raised while the file system was full. */
  raisedWhileFull: number;
  /** Of those, accepted by Telegram while the file system was still full (from memory). */
  deliveredWhileFull: number;
  /** Outbox state on /health while full. */
  outboxStateWhileFull: string;
  /** From space being freed to the journal rewritten whole (outbox healthy again), ms. */
  journalResumeMs: number;
  /** From space being freed to the JSONL log holding every alert, ms. */
  jsonlResumeMs: number;
  /** Alerts missing from the journal after it resumed (must be 0). */
  missingFromJournal: number;
}

/**
 * The outbox and the JSONL log on a 256 KiB tmpfs filled to ENOSPC while alerts are raised; a
 * fake Telegram on 127.0.0.1 takes them. Needs root (mount); throws otherwise.
 */
export async function runDiskFullTrial(alerts = 10): Promise<DiskFullTrialResult> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "ticktrace-diskfull-"));
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", root], { stdio: "pipe" });
  const server = await startFlakyServer();
  try {
    const health = new HealthRegistry();
    const manager = new AlertManager({
      channels: [
        createJsonlChannel({ dir: path.join(root, "alerts") }),
        createTelegramChannel({ botToken: "1:disk", chatId: "disk", apiUrl: server.url, minLevel: "INFO" }),
      ],
      outboxDir: path.join(root, "outbox"),
      logger: createSilentLogger(),
      health,
      storm: { windowMs: 60_000, maxPerWindow: 1_000_000 },
      // The defaults: the JSONL channel retries with 500 ms doubling to 60 s, the journal every 5 s.
    }).start();
    const filler = path.join(root, "filler");
    const fd = fs.openSync(filler, "w");
    try {
      for (;;) fs.writeSync(fd, Buffer.alloc(4096, 1));
    } catch {
      // ENOSPC: full
    } finally {
      fs.closeSync(fd);
    }
    for (let i = 0; i < alerts; i++) {
      manager.raise({
        rule: "crash_test",
        level: "ERROR",
        title: `crash-test alert ${i}`,
        message: "y".repeat(3000), // more than the last partly used page of a full tmpfs takes
        labels: { i: String(i) },
      });
    }
    const outboxState = () =>
      (health.snapshot().components.alerts as Record<string, { status: string }> | undefined)?.[
        "alerts.outbox"
      ]?.status ?? "?";
    const deadline = Date.now() + 10_000;
    while (server.accepted.telegram.size < alerts && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
    const deliveredWhileFull = server.accepted.telegram.size;
    const outboxStateWhileFull = outboxState();
    fs.rmSync(filler);
    const freedAt = Date.now();
    let journalResumeMs = Number.NaN;
    let jsonlResumeMs = Number.NaN;
    while (Date.now() - freedAt < 90_000 && (Number.isNaN(journalResumeMs) || Number.isNaN(jsonlResumeMs))) {
      if (Number.isNaN(journalResumeMs) && outboxState() === "up") journalResumeMs = Date.now() - freedAt;
      if (Number.isNaN(jsonlResumeMs) && readAlertLog(path.join(root, "alerts")).length >= alerts)
        jsonlResumeMs = Date.now() - freedAt;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await manager.shutdown();
    const journal = foldJournal(fs.readFileSync(path.join(root, "outbox", JOURNAL_FILE), "utf8").split("\n"));
    return {
      raisedWhileFull: alerts,
      deliveredWhileFull,
      outboxStateWhileFull,
      journalResumeMs,
      jsonlResumeMs,
      missingFromJournal: alerts - journal.active.length,
    };
  } finally {
    await server.close();
    execFileSync("umount", [root]);
    fs.rmdirSync(root);
  }
}

const row = (
  name: string,
  value: number,
  unit: string,
  target: string | null,
  met: boolean | null,
  note?: string,
): Figure => ({
  name,
  value,
  unit,
  baseline: null,
  ratio: null,
  target,
  met,
  ...(note ? { note } : {}),
});

async function diskFullFigures(): Promise<Figure[]> {
  let disk: DiskFullTrialResult;
  try {
    disk = await runDiskFullTrial();
  } catch (error) {
    return [
      notMeasured(
        "reliability: full disk",
        `cannot mount a tmpfs (${(error as Error).message.split("\n")[0] ?? ""}); needs root`,
      ),
    ];
  }
  return [
    row(
      "reliability: full disk, alerts delivered from memory",
      disk.deliveredWhileFull,
      "alerts",
      `${disk.raisedWhileFull}`,
      disk.deliveredWhileFull === disk.raisedWhileFull,
      `256 KiB tmpfs filled to ENOSPC; outbox on /health: ${disk.outboxStateWhileFull}`,
    ),
    row(
      "reliability: full disk, journal whole again after space is freed",
      disk.journalResumeMs,
      "ms",
      null,
      null,
      "journal retried every 5 s",
    ),
    row(
      "reliability: full disk, JSONL log caught up after space is freed",
      disk.jsonlResumeMs,
      "ms",
      null,
      null,
      "JSONL channel retry backoff, 500 ms doubling",
    ),
    row(
      "reliability: full disk, alerts missing from the journal after it resumed",
      disk.missingFromJournal,
      "alerts",
      "0",
      disk.missingFromJournal === 0,
    ),
  ];
}

export const benchmarks: Benchmark[] = [
  {
    name: "reliability",
    async run({ quick }) {
      const kills = quick ? 20 : 60;
      const crash = await runCrashTrial({ kills, seed: 20_261_201 });
      const recovery = await runRecoveryTrial(quick ? 3_000 : 10_000);
      const how = `SIGKILL at seeded random points (seed ${crash.seed}), Telegram+Slack fake failing/recovering`;
      return [
        row("reliability: kills survived", crash.kills, "kills", null, null, how),
        row("reliability: alerts journaled before a kill", crash.journaled, "alerts", null, null),
        row("reliability: journaled alerts lost", crash.lost, "alerts", "0", crash.lost === 0),
        row(
          "reliability: duplicate deliveries after kills",
          crash.duplicates.telegram + crash.duplicates.slack,
          "deliveries",
          null,
          null,
          `telegram ${crash.duplicates.telegram}, slack ${crash.duplicates.slack}; a kill between "accepted" and "recorded"`,
        ),
        row(
          "reliability: raised, killed before the journal write, not delivered",
          crash.lostInFsyncWindow,
          "alerts",
          null,
          null,
          `of ${crash.raised} raised; the few ms between raise() and the journal's fdatasync`,
        ),
        row(
          "reliability: delivery after a channel recovers (first alert)",
          recovery.firstDeliveryMs,
          "ms",
          null,
          null,
          `${recovery.waiting} alerts waiting, ${Math.round(recovery.outageMs / 1000)} s outage, default retry (500 ms doubling, cap 60 s)`,
        ),
        row(
          "reliability: delivery after a channel recovers (all alerts)",
          recovery.allDeliveredMs,
          "ms",
          null,
          null,
        ),
        ...(await diskFullFigures()),
      ];
    },
  },
];
