import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { readAlertLog } from "../../src/alert-log/store.js";
import { createJsonlChannel } from "../../src/alerting/channels/jsonl.js";
import { AlertManager } from "../../src/alerting/manager.js";
import { createManualClock, type ManualClock } from "../../src/clock.js";
import { HealthRegistry } from "../../src/health/registry.js";
import { snapshotFileName } from "../../src/monitoring/files.js";
import { MonitoringService, type MonitoringServiceOptions } from "../../src/monitoring/service.js";
import type { MonitoringSnapshot } from "../../src/monitoring/snapshot.js";
import { createCapturingLogger, createTestMetrics } from "../alerting/helpers.js";
import { FakeAlerter, makeConfig, makeSnapshot, type DeepPartial } from "./fixtures.js";

const DAY = 86_400_000;
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "ticktrace-monitoring-"));
  dirs.push(dir);
  return dir;
}

async function setup(
  monitoring: Record<string, unknown> = {},
  extra: Partial<MonitoringServiceOptions> = {},
) {
  const root = await tempDir();
  const clock = createManualClock(Date.UTC(2026, 0, 10, 12));
  const alerter = new FakeAlerter();
  const { metrics, points } = createTestMetrics();
  const { logger, lines } = createCapturingLogger();
  const deferred: (() => void)[] = [];
  // Resolution at the first clear evaluation unless a test sets the hold-off itself.
  const config = makeConfig({
    snapshot_dir: join(root, "snapshots"),
    resolve_after_ms: 0,
    ...monitoring,
  }).monitoring;
  const service = new MonitoringService({
    alerter,
    config,
    clock,
    logger,
    metrics,
    defer: (fn) => deferred.push(fn),
    ...extra,
  });
  const runDeferred = () => {
    for (const fn of deferred.splice(0)) fn();
  };
  const tick = (patch: DeepPartial<MonitoringSnapshot> = {}) => {
    service.recordTick(makeSnapshot(clock.now(), patch));
    runDeferred();
  };
  return { root, clock, alerter, service, points, lines, deferred, runDeferred, tick, config };
}

describe("MonitoringService", () => {
  it("resolves only after the condition has been clear for resolve_after_ms, so a value at the threshold does not flap", async () => {
    const { clock, alerter, tick } = await setup({ resolve_after_ms: 5_000 });
    const open = (count: number) => tick({ positions: { count } });
    open(60); // above the default max of 50
    expect(alerter.raised.map((a) => a.rule)).toEqual(["open_positions_high"]);
    clock.advance(1_000);
    open(50); // clear
    clock.advance(1_000);
    open(51); // back within the hold-off: still the same firing alert, nothing resolved or re-raised
    clock.advance(1_000);
    open(40);
    clock.advance(4_999);
    open(40);
    expect(alerter.resolved).toEqual([]);
    expect(alerter.raised).toHaveLength(1);
    clock.advance(1);
    open(40); // clear for 5 s: resolved once
    expect(alerter.resolved).toEqual([{ rule: "open_positions_high", labels: {} }]);
  });

  it("over a sequence of snapshots raises and resolves the right rules", async () => {
    const { alerter, tick, service } = await setup();
    tick();
    expect(alerter.raised).toEqual([]);

    tick({
      risk: { circuit_breaker_active: true, daily_loss_pct: -5.1 },
      connectivity: { exchange_connected: false },
    });
    expect(alerter.firingFingerprints()).toEqual([
      "circuit_breaker_tripped{breaker=daily_loss}",
      "daily_loss_near_limit",
      "exchange_disconnected{exchange=simex}",
    ]);
    expect(alerter.raised.find((r) => r.rule === "circuit_breaker_tripped")).toMatchObject({
      level: "CRITICAL",
      title: "Circuit breaker tripped: trading is stopped",
      fields: { source: "monitoring", daily_loss_pct: -5.1 },
    });

    // Still firing: not raised again on every tick.
    const raisedSoFar = alerter.raised.length;
    tick({
      risk: { circuit_breaker_active: true, daily_loss_pct: -5.1 },
      connectivity: { exchange_connected: false },
    });
    expect(alerter.raised.length).toBe(raisedSoFar);

    // Connectivity back: only that one resolves.
    tick({ risk: { circuit_breaker_active: true, daily_loss_pct: -5.1 } });
    expect(alerter.resolved).toEqual([{ rule: "exchange_disconnected", labels: { exchange: "simex" } }]);
    expect(alerter.firingFingerprints()).toEqual([
      "circuit_breaker_tripped{breaker=daily_loss}",
      "daily_loss_near_limit",
    ]);

    tick({ risk: { position_limit_breaches: ["ETH/USDT"] } });
    expect(alerter.firingFingerprints()).toEqual(["risk_limit_breached{limit=position,symbol=ETH/USDT}"]);
    tick();
    expect(alerter.firingFingerprints()).toEqual([]);
    expect(service.findings()).toEqual([]);
    expect(service.evaluationCounts()).toEqual({ ok: 6, invalid: 0, error: 0 });
  });

  it("through the real AlertManager: the JSONL log shows the rules firing and resolving", async () => {
    const root = await tempDir();
    const alertsDir = join(root, "alerts");
    const clock = createManualClock(Date.now());
    const manager = new AlertManager({ channels: [createJsonlChannel({ dir: alertsDir, clock })], clock });
    const deferred: (() => void)[] = [];
    const service = new MonitoringService({
      alerter: manager,
      clock,
      config: makeConfig({ snapshot_dir: join(root, "snapshots"), resolve_after_ms: 0 }).monitoring,
      defer: (fn) => deferred.push(fn),
    });
    const tick = (patch: DeepPartial<MonitoringSnapshot>) => {
      service.recordTick(makeSnapshot(clock.now(), patch));
      for (const fn of deferred.splice(0)) fn();
    };
    tick({ risk: { circuit_breaker_active: true, daily_loss_pct: -1.6 }, positions: { count: 55 } });
    clock.advance(1_000);
    tick({ risk: { circuit_breaker_active: true, daily_loss_pct: -1.6 } });
    clock.advance(1_000);
    tick({});
    await manager.idle();
    const alerts = readAlertLog(alertsDir);
    expect(alerts.map((a) => [a.fingerprint, a.level, a.status]).sort()).toEqual([
      ["circuit_breaker_tripped{breaker=daily_loss}", "CRITICAL", "resolved"],
      ["daily_loss_near_limit", "WARNING", "resolved"],
      ["open_positions_high", "WARNING", "resolved"],
    ]);
    expect(alerts.find((a) => a.rule === "open_positions_high")).toMatchObject({
      message: "55 open positions (max 50)",
      fields: { open_positions: 55, max: 50, source: "monitoring" },
    });
    expect(manager.active()).toEqual([]);
    await service.shutdown();
    await manager.shutdown();
  });

  it("recordTick does no work on the caller's stack and coalesces a burst into one evaluation", async () => {
    const { alerter, service, deferred, runDeferred, clock, points } = await setup();
    for (let i = 0; i < 100; i++)
      service.recordTick(makeSnapshot(clock.now(), { positions: { count: 60 + i } }));
    expect(alerter.raised).toEqual([]);
    expect(deferred).toHaveLength(1);
    runDeferred();
    expect(alerter.raised.map((r) => r.message)).toEqual(["159 open positions (max 50)"]);
    expect(await points("ticktrace_monitoring_evaluations_total")).toEqual([
      { attributes: { outcome: "ok" }, value: 1 },
    ]);
    expect(await points("ticktrace_monitoring_evaluation_duration_seconds")).toEqual([
      { attributes: {}, value: 1 },
    ]);
  });

  it("edge: an invalid snapshot is counted and logged, never thrown; the last valid one stays in force", async () => {
    const { service, runDeferred, tick, points, lines, alerter } = await setup();
    tick({ connectivity: { exchange_connected: false } });
    expect(() =>
      service.recordTick({ timestamp: "yesterday" } as unknown as MonitoringSnapshot),
    ).not.toThrow();
    runDeferred();
    service.recordTick({ ...makeSnapshot(0), positions: { count: -1, total_value: 0, symbols: [] } });
    runDeferred();
    expect(service.evaluationCounts()).toEqual({ ok: 1, invalid: 2, error: 0 });
    expect(await points("ticktrace_monitoring_evaluations_total")).toEqual(
      expect.arrayContaining([
        { attributes: { outcome: "ok" }, value: 1 },
        { attributes: { outcome: "invalid" }, value: 2 },
      ]),
    );
    // One log line (rate-limited), naming the bad field.
    const logged = lines.filter((l) => l.message === "invalid monitoring snapshot ignored");
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ component: "monitoring", level: "warn", path: "timestamp" });
    expect(alerter.firingFingerprints()).toEqual(["exchange_disconnected{exchange=simex}"]);
  });

  it("a failing alerter or snapshot getter is logged and counted as an error and nothing more", async () => {
    const { service, runDeferred, tick, alerter, points, clock } = await setup();
    alerter.failNext = true;
    expect(() => tick({ positions: { count: 99 } })).not.toThrow();
    expect(alerter.raised).toEqual([]);
    service.recordTick(() => {
      throw new Error("engine state unavailable");
    });
    expect(() => runDeferred()).not.toThrow();
    expect(service.evaluationCounts()).toEqual({ ok: 0, invalid: 0, error: 2 });
    // The next evaluation recovers and raises.
    service.recordTick(() => makeSnapshot(clock.now(), { positions: { count: 99 } }));
    runDeferred();
    expect(alerter.firingFingerprints()).toEqual(["open_positions_high"]);
    expect(await points("ticktrace_monitoring_evaluations_total")).toContainEqual({
      attributes: { outcome: "error" },
      value: 2,
    });
  });

  it("edge: heartbeat never initialised, then lapsed, is raised by the periodic evaluation and resolved by a tick", async () => {
    const health = new HealthRegistry();
    const { service, clock, alerter, tick } = await setup(
      { rules: { heartbeat: { max_age_ms: 5_000 } } },
      { health },
    );
    service.start();
    clock.advance(5_000);
    expect(alerter.raised).toEqual([]);
    clock.advance(1_000);
    expect(alerter.raised).toMatchObject([
      { rule: "heartbeat_stale", level: "CRITICAL", fields: { reason: "never_initialised" } },
    ]);
    tick();
    expect(alerter.resolved).toEqual([{ rule: "heartbeat_stale", labels: {} }]);
    clock.advance(6_000);
    expect(alerter.raised.at(-1)).toMatchObject({
      rule: "heartbeat_stale",
      fields: { reason: "lapsed", age_ms: 6_000 },
    });
    expect(health.snapshot().components.workers).toMatchObject({ monitoring: { status: "up" } });
    await service.shutdown();
  });

  it("regression: the first snapshot waited a whole interval; it is written at the first tick, then at the interval (not every tick), only when changed", async () => {
    const { service, clock, tick, config } = await setup({
      snapshot_interval_ms: 60_000,
      evaluation_interval_ms: 60_000,
    });
    service.start();
    const firstTime = clock.now();
    tick({ pnl: { daily: 1 } });
    await waitForFiles(config.snapshot_dir, 1);
    const first = snapshotFileName(firstTime);
    expect(await listDir(config.snapshot_dir)).toEqual([first]);
    expect(JSON.parse(await readFile(join(config.snapshot_dir, first), "utf8")).pnl.daily).toBe(1);
    tick({ pnl: { daily: 2 } });
    tick({ pnl: { daily: 3 } });
    expect(await listDir(config.snapshot_dir)).toEqual([first]);
    clock.advance(60_000);
    await waitForFiles(config.snapshot_dir, 2);
    const name = snapshotFileName(firstTime + 60_000);
    expect(name).toBe("metrics_2026-01-10T12-01-00-000Z.json");
    const written = JSON.parse(await readFile(join(config.snapshot_dir, name), "utf8"));
    expect(written.pnl.daily).toBe(3);
    clock.advance(60_000); // nothing new
    await service.persistSnapshot();
    expect(await listDir(config.snapshot_dir)).toEqual([first, name]);
    tick({ pnl: { daily: 4 } });
    await service.shutdown(); // writes the last one
    expect(await listDir(config.snapshot_dir)).toEqual([
      first,
      name,
      "metrics_2026-01-10T12-02-00-000Z.json",
    ]);
  });

  it("retention deletes snapshots after 30 days in the background; alert files are the JSONL channel's (regression: two owners)", async () => {
    const { service, clock, root, config } = await setup({ retention: { cleanup_interval_ms: DAY } });
    const snapshots = config.snapshot_dir;
    const alerts = join(root, "alerts");
    const { mkdir } = await import("node:fs/promises");
    await mkdir(snapshots, { recursive: true });
    await mkdir(alerts, { recursive: true });
    const now = clock.now();
    const snapshotNames = [now - 31 * DAY, now - 29 * DAY].map(snapshotFileName);
    for (const name of [...snapshotNames, "notes.txt"]) await writeFile(join(snapshots, name), "{}");
    for (const name of ["2025-10-01.jsonl", "2025-10-12.jsonl", "2026-01-10.jsonl", "keep.log"])
      await writeFile(join(alerts, name), "");

    service.start(); // runs once at start
    await waitForFiles(snapshots, 2);
    expect(await listDir(snapshots)).toEqual([snapshotNames[1], "notes.txt"].sort());
    // Alert files belong to alerts.jsonl.retention_days (the channel); monitoring leaves them.
    expect(await listDir(alerts)).toEqual([
      "2025-10-01.jsonl",
      "2025-10-12.jsonl",
      "2026-01-10.jsonl",
      "keep.log",
    ]);

    // Two days on, the background cleanup (daily) removes what aged out meanwhile.
    clock.advance(2 * DAY);
    await waitForFiles(snapshots, 1);
    expect(await listDir(snapshots)).toEqual(["notes.txt"]);
    expect(await listDir(alerts)).toHaveLength(4);
    await service.shutdown();
  });

  it("stat's artifacts at the edge: an old file and a missing file are findings, a fresh one is not", async () => {
    const root = await tempDir();
    const fresh = join(root, "student.bin");
    const old = join(root, "teacher.bin");
    await writeFile(fresh, "s");
    await writeFile(old, "t");
    const clock: ManualClock = createManualClock(Date.now());
    const oldSeconds = (clock.now() - 30 * 3_600_000) / 1000;
    await utimes(old, oldSeconds, oldSeconds);
    const alerter = new FakeAlerter();
    const service = new MonitoringService({
      alerter,
      clock,
      config: makeConfig({
        snapshot_dir: join(root, "s"),
        artifacts: { student: fresh, teacher: old, ghost: join(root, "ghost.bin") },
        resolve_after_ms: 0,
      }).monitoring,
      defer: (fn) => fn(),
    });
    const states = await service.checkArtifacts();
    expect(states.map((s) => [s.name, s.mtimeMs === null ? s.error : "ok"])).toEqual([
      ["student", "ok"],
      ["teacher", "ok"],
      ["ghost", "ENOENT"],
    ]);
    service.evaluateNow();
    expect(alerter.firingFingerprints()).toEqual([
      "artifact_stale{artifact=ghost}",
      "artifact_stale{artifact=teacher}",
    ]);
    // The teacher model is retrained: the next check clears it.
    await utimes(old, new Date(), new Date());
    await service.checkArtifacts();
    service.evaluateNow();
    expect(alerter.firingFingerprints()).toEqual(["artifact_stale{artifact=ghost}"]);
    await service.shutdown();
  });

  it("shutdown is idempotent and later ticks are ignored", async () => {
    const { service, deferred, clock } = await setup();
    service.start();
    await service.shutdown();
    await service.shutdown();
    service.recordTick(makeSnapshot(clock.now()));
    expect(deferred).toEqual([]);
  });
});

async function listDir(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch {
    return [];
  }
}

/** Waits for `count` finished files: a snapshot is written to `<name>.<pid>.tmp`, then renamed. */
async function waitForFiles(dir: string, count: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const names = await listDir(dir);
    if (names.length === count && !names.some((name) => name.endsWith(".tmp"))) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`expected ${count} files in ${dir}, found ${(await listDir(dir)).join(", ")}`);
}
