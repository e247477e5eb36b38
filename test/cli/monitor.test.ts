import { appendFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createJsonlChannel } from "../../src/alerting/channels/jsonl.js";
import { AlertManager } from "../../src/alerting/manager.js";
import { createManualClock } from "../../src/clock.js";
import { AckWatcher } from "../../src/monitoring/alert-log.js";
import { writeSnapshotFile } from "../../src/monitoring/files.js";
import { makeSnapshot } from "../monitoring/fixtures.js";
import { REFUSING_PORT } from "../support/processes.js";
import { build, run, start } from "./helpers.js";

let root: string;
beforeAll(async () => {
  build();
  root = await mkdtemp(join(tmpdir(), "ticktrace-cli-"));
}, 120_000);
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function workdir(name: string): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  return dir;
}

/**
 * A real AlertManager writing the real JSONL log in `<cwd>/logs/alerts`, holding the default
 * outbox `<cwd>/data/alerts-outbox` (this test process is "the running bot").
 */
function alertLog(cwd: string) {
  const dir = join(cwd, "logs/alerts");
  const clock = createManualClock(Date.now());
  const jsonl = createJsonlChannel({ dir, clock });
  const manager = new AlertManager({
    channels: [jsonl],
    clock,
    outboxDir: join(cwd, "data/alerts-outbox"),
    fsync: false,
  }).start();
  return { dir, clock, manager };
}

describe.concurrent("ticktrace CLI", () => {
  it("--help and monitor --help print usage; a bad command is one line and exit 2", async () => {
    const cwd = await workdir("help");
    const top = await run(["--help"], { cwd });
    expect(top).toMatchObject({ code: 0, stderr: "" });
    expect(top.stdout).toContain("Usage: ticktrace <command>");
    const monitor = await run(["monitor", "--help"], { cwd });
    expect(monitor.code).toBe(0);
    expect(monitor.stdout).toContain("ack <alert-id>");
    const bad = await run(["monitor", "frobnicate"], { cwd });
    expect(bad).toEqual({
      code: 2,
      stdout: "",
      stderr:
        'ticktrace: unknown command "frobnicate" (commands: tail, status, health, metrics, ack; see ticktrace monitor --help)\n',
    });
    const badFlag = await run(["monitor", "status", "--colour"], { cwd });
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toBe("ticktrace: unknown option --colour (see ticktrace monitor --help)\n");
  });

  it("a missing directory is one clear line and exit 1, with no stack trace", async () => {
    const cwd = await workdir("missing");
    for (const command of ["status", "ack"]) {
      const result = await run(["monitor", command, ...(command === "ack" ? ["abc"] : [])], { cwd });
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(
        `ticktrace: alert directory ${join(cwd, "logs/alerts")} does not exist (set --alerts-dir or alerts.jsonl.dir)\n`,
      );
    }
  });

  it("regression: before the first snapshot or alert, metrics and tail said 'does not exist' and exited 1; they say so in one line", async () => {
    const cwd = await workdir("first-minute");
    const metrics = await run(["monitor", "metrics"], { cwd });
    expect(metrics).toEqual({
      code: 0,
      stderr: "",
      stdout: `no snapshots yet (no directory) ${join(cwd, "data/monitoring")}: a running process writes the first one within seconds of its first tick\n`,
    });
    await mkdir(join(cwd, "data/monitoring"), { recursive: true });
    const empty = await run(["monitor", "metrics", "--json"], { cwd });
    expect(empty.code).toBe(0);
    expect(empty.stdout).toBe("null\n");
    expect(empty.stderr.split("\n").filter(Boolean)).toHaveLength(1);
    expect(empty.stderr).toContain(`no snapshots yet in ${join(cwd, "data/monitoring")}`);

    const once = await run(["monitor", "tail", "--no-follow"], { cwd });
    expect(once).toEqual({
      code: 0,
      stderr: "",
      stdout: `no alerts yet: ${join(cwd, "logs/alerts")} does not exist\n`,
    });
  });

  it("regression: tail before the first alert exited 1; it keeps following and shows the first alert when it comes", async () => {
    const cwd = await workdir("tail-first");
    const follow = start(["monitor", "tail", "--interval-ms", "50"], { cwd });
    try {
      await follow.waitFor(/no alerts yet: .* does not exist; following/);
      const { manager } = alertLog(cwd);
      manager.raise({
        rule: "exchange_disconnected",
        level: "WARNING",
        title: "down",
        message: "simex is down",
      });
      await follow.waitFor(/WARNING +firing .*exchange_disconnected.*simex is down/);
      expect(follow.output().split("\n").filter(Boolean)).toHaveLength(2);
      await manager.shutdown();
    } finally {
      follow.child.kill("SIGINT");
      await follow.exited;
    }
  });

  it("status lists firing, unacknowledged alerts written by the real alert manager; ack reaches the log and the running manager", async () => {
    const cwd = await workdir("status");
    const { dir, manager, clock } = alertLog(cwd);
    const breaker = manager.raise({
      rule: "circuit_breaker_tripped",
      level: "CRITICAL",
      title: "Breaker",
      message: "Circuit breaker active",
      labels: { breaker: "daily_loss" },
    })!;
    const disconnected = manager.raise({
      rule: "exchange_disconnected",
      level: "WARNING",
      title: "Down",
      message: "simex lost",
      labels: { exchange: "simex" },
    })!;
    const positions = manager.raise({
      rule: "open_positions_high",
      level: "WARNING",
      title: "Many",
      message: "60 open positions",
    })!;
    manager.resolve("exchange_disconnected", { exchange: "simex" });
    manager.acknowledge(positions.id, "telegram:@alice");
    await manager.idle();

    const status = await run(["monitor", "status"], { cwd });
    expect(status.code).toBe(0);
    const lines = status.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ID\s+LEVEL\s+RULE\s+LABELS\s+AGE\s+MESSAGE$/);
    expect(lines[1]).toMatch(
      new RegExp(
        `^${breaker.id}\\s+CRITICAL\\s+circuit_breaker_tripped\\s+breaker=daily_loss\\s+\\d+s\\s+Circuit breaker active$`,
      ),
    );
    expect(lines.slice(2)).toEqual(["1 active alert, 1 acknowledged not shown (--all)"]);
    expect(status.stdout).not.toContain(disconnected.id);

    const json = JSON.parse((await run(["monitor", "status", "--all", "--json"], { cwd })).stdout);
    expect(json.map((a: { id: string }) => a.id).sort()).toEqual([breaker.id, positions.id].sort());

    // ack from the CLI: appended to the log, and the running manager picks it up.
    const watcher = new AckWatcher({ dir, alerter: manager, intervalMs: 1_000, clock });
    await watcher.pollNow();
    const acked = await run(["monitor", "ack", breaker.id, "--by", "cli:ops"], { cwd });
    expect(acked).toEqual({
      code: 0,
      stdout: `acknowledged ${breaker.id} circuit_breaker_tripped [CRITICAL] by cli:ops\n`,
      stderr: "",
    });
    expect(await watcher.pollNow()).toBe(1);
    expect(manager.get(breaker.id)).toMatchObject({ acknowledged: true, acknowledgedBy: "cli:ops" });
    await manager.idle();
    // The manager's own acknowledgement line does not loop back.
    expect(await watcher.pollNow()).toBe(0);
    expect((await run(["monitor", "status"], { cwd })).stdout).toBe(
      "No unacknowledged alerts; 2 acknowledged still firing (--all lists them)\n",
    );
    const again = await run(["monitor", "ack", breaker.id], { cwd });
    expect(again.stdout).toMatch(new RegExp(`^${breaker.id} was already acknowledged by cli:ops at `));

    const unknown = await run(["monitor", "ack", "nope-1"], { cwd });
    expect(unknown).toEqual({
      code: 1,
      stdout: "",
      stderr: `ticktrace: no alert with id "nope-1" in ${dir}\n`,
    });
    await watcher.shutdown();
    await manager.shutdown();
  });

  it("regression: status tells the running process's alerts from leftovers of a process that is gone", async () => {
    const cwd = await workdir("status-runs");
    const first = alertLog(cwd);
    const old = first.manager.raise({
      rule: "circuit_breaker_tripped",
      level: "CRITICAL",
      title: "Breaker",
      message: "Circuit breaker active",
      labels: { breaker: "daily_loss" },
    })!;
    await first.manager.idle();
    await first.manager.shutdown(); // the process is gone; its alert still fires in the log

    const ended = await run(["monitor", "status"], { cwd });
    const outbox = join(cwd, "data/alerts-outbox");
    expect(ended.stdout.split("\n")[0]).toMatch(/^ID\s+RUN\s+LEVEL\s+RULE\s+LABELS\s+AGE\s+MESSAGE$/);
    expect(ended.stdout).toMatch(new RegExp(`^${old.id}\\s+ended\\s+CRITICAL`, "m"));
    expect(ended.stdout).toContain(
      `1 from a run that has ended (no running process holds ${outbox}); the next start resolves them after alerts.outbox.restart_grace_ms unless it raises them again\n`,
    );

    const second = alertLog(cwd); // the restart: the old alert is a leftover
    const fresh = second.manager.raise({
      rule: "exchange_disconnected",
      level: "WARNING",
      title: "Down",
      message: "simex lost",
      labels: { exchange: "simex" },
    })!;
    await second.manager.idle();
    const mixed = await run(["monitor", "status"], { cwd });
    expect(mixed.stdout).toMatch(new RegExp(`^${fresh.id}\\s+this run\\s+WARNING`, "m"));
    expect(mixed.stdout).toMatch(new RegExp(`^${old.id}\\s+previous run\\s+CRITICAL`, "m"));
    expect(mixed.stdout).toContain(
      `1 left over from a previous run: the running process (pid ${process.pid}) resolves them after alerts.outbox.restart_grace_ms unless it raises them again\n`,
    );
    const json = JSON.parse((await run(["monitor", "status", "--json"], { cwd })).stdout) as {
      id: string;
      run: string;
    }[];
    expect(Object.fromEntries(json.map((a) => [a.id, a.run]))).toEqual({
      [fresh.id]: "current",
      [old.id]: "previous",
    });
    await second.manager.shutdown();
  });

  it("tail shows the backlog filtered by --level/--since, follows new lines across the midnight file change, colours by level", async () => {
    const cwd = await workdir("tail");
    const dir = join(cwd, "logs/alerts");
    await mkdir(dir, { recursive: true });
    // Today and tomorrow (UTC): without --since, tail's backlog starts yesterday.
    const day0 = new Date().toISOString().slice(0, 10);
    const day1 = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const line = (id: string, severity: string, rule: string, at: string) =>
      JSON.stringify({
        timestamp: at,
        severity,
        rule,
        message: `${rule} happened`,
        context: {},
        acknowledged: false,
        id,
        fingerprint: rule,
        status: "firing",
        title: rule,
        labels: {},
        event: "firing",
        event_time: at,
      }) + "\n";
    await writeFile(
      join(dir, `${day0}.jsonl`),
      line("a-1", "INFO", "large_fill", `${day0}T23:50:00.000Z`) +
        line("a-2", "WARNING", "open_positions_high", `${day0}T23:55:00.000Z`),
    );

    // An old day: not in the default backlog, found with --since.
    await writeFile(
      join(dir, "2020-01-01.jsonl"),
      line("a-0", "ERROR", "worker_stalled", "2020-01-01T10:00:00.000Z"),
    );
    const old = await run(["monitor", "tail", "--no-follow", "--json", "--since", "2020-01-01"], { cwd });
    expect(old.stdout.split("\n")[0]).toContain('"id":"a-0"');
    const backlog = await run(["monitor", "tail", "--no-follow", "--level", "warning"], { cwd });
    expect(backlog).toEqual({
      code: 0,
      stderr: "",
      stdout: `${day0} 23:55:00Z  WARNING   firing        a-2  open_positions_high  open_positions_high happened\n`,
    });
    const since = await run(["monitor", "tail", "--no-follow", "--json", "--since", `${day0}T23:52:00Z`], {
      cwd,
    });
    expect(
      since.stdout
        .trim()
        .split("\n")
        .map((l) => (JSON.parse(l) as { id: string }).id),
    ).toEqual(["a-2"]);
    const coloured = await run(["monitor", "tail", "--no-follow"], {
      cwd,
      env: { NO_COLOR: "", FORCE_COLOR: "1" },
    });
    expect(coloured.stdout).toContain("\u001b[33mWARNING\u001b[39m ");
    expect(coloured.stdout).toContain("\u001b[36mINFO\u001b[39m    ");

    const follow = start(["monitor", "tail", "--interval-ms", "50"], { cwd });
    await follow.waitFor(/a-2/);
    await appendFile(
      join(dir, `${day0}.jsonl`),
      line("a-3", "ERROR", "worker_stalled", `${day0}T23:59:59.000Z`),
    );
    await follow.waitFor(/a-3/);
    // Midnight: the writer moves to the next day's file.
    await writeFile(
      join(dir, `${day1}.jsonl`),
      line("a-4", "CRITICAL", "circuit_breaker_tripped", `${day1}T00:00:01.000Z`),
    );
    await appendFile(
      join(dir, `${day1}.jsonl`),
      JSON.stringify({
        id: "a-4",
        event: "acknowledged",
        event_time: `${day1}T00:00:05.000Z`,
        acknowledged: true,
        acknowledged_by: "cli:ops",
      }) + "\n",
    );
    const out = await follow.waitFor(/by cli:ops/);
    expect(
      out
        .trimEnd()
        .split("\n")
        .map((l) => l.split(/\s+/).slice(2, 5).join(" ")),
    ).toEqual([
      "INFO firing a-1",
      "WARNING firing a-2",
      "ERROR firing a-3",
      "CRITICAL firing a-4",
      "CRITICAL acknowledged a-4",
    ]);
    follow.child.kill("SIGINT");
    expect(await follow.exited).toBe(0);
  });

  it("regression: status said No active alerts while status --all listed one", async () => {
    const cwd = await workdir("status-acked");
    const { dir, manager } = alertLog(cwd);
    await mkdir(dir, { recursive: true });
    expect((await run(["monitor", "status"], { cwd })).stdout).toBe("No active alerts\n");
    const alert = manager.raise({
      rule: "exchange_disconnected",
      level: "WARNING",
      title: "Down",
      message: "simex lost",
      labels: { exchange: "simex" },
    })!;
    manager.acknowledge(alert.id, "cli:ops");
    await manager.idle();
    const status = await run(["monitor", "status"], { cwd });
    expect(status.stdout).toBe("No unacknowledged alerts; 1 acknowledged still firing (--all lists them)\n");
    const all = await run(["monitor", "status", "--all"], { cwd });
    expect(all.stdout).toContain(alert.id);
    expect(all.stdout.trimEnd().split("\n").at(-1)).toBe("1 active alert");
    await manager.shutdown();
  });

  it("regression: tail printed labels as JSON while status printed k=v", async () => {
    const cwd = await workdir("labels");
    const { manager } = alertLog(cwd);
    const alert = manager.raise({
      rule: "position_limit_breached",
      level: "ERROR",
      title: "Limit",
      message: "BTC over its limit",
      labels: { exchange: "simex", symbol: "BTC/USDT" },
    })!;
    await manager.idle();
    const tail = await run(["monitor", "tail", "--no-follow"], { cwd });
    const status = await run(["monitor", "status"], { cwd });
    expect(tail.stdout).toMatch(
      new RegExp(
        `  ${alert.id}  position_limit_breached exchange=simex,symbol=BTC/USDT  BTC over its limit\\n$`,
      ),
    );
    expect(tail.stdout).not.toContain("{");
    expect(status.stdout.split("\n")[1]).toMatch(/\sexchange=simex,symbol=BTC\/USDT\s/);
    await manager.shutdown();
  });

  describe.sequential("health", () => {
    let server: Server;
    let url: string;
    let answer: { status: number; body: string } = { status: 200, body: "" };
    beforeAll(async () => {
      server = createServer((request, response) => {
        if (request.url !== "/health") {
          response.writeHead(404).end();
          return;
        }
        if (answer.status === 0) return; // hang: no answer at all
        response.writeHead(answer.status, { "content-type": "application/json" }).end(answer.body);
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(
      () =>
        new Promise<void>((r) => {
          server.close(() => r());
          server.closeAllConnections();
        }),
    );

    const report = (status: string, components: Record<string, unknown>) =>
      JSON.stringify({
        status,
        ready: status !== "unhealthy",
        timestamp: new Date().toISOString(),
        uptime_seconds: 3725,
        components,
      });

    it("exits 0 healthy, 1 degraded, 2 unhealthy and prints component status", async () => {
      const cwd = await workdir("health");
      answer = {
        status: 200,
        body: report("healthy", {
          exchanges: { simex: { status: "up", latency_ms: 12.5 } },
          telemetry: { status: "up" },
        }),
      };
      const healthy = await run(["monitor", "health", "--url", url], { cwd });
      expect(healthy.code).toBe(0);
      expect(healthy.stdout.split("\n")[0]).toBe(`healthy  ${url}/health  uptime 1h 2m  ready yes`);
      expect(healthy.stdout).toMatch(/exchanges\.simex\s+up\s+12\.5 ms/);

      answer = {
        status: 200,
        body: report("degraded", {
          workers: {
            reconciliation: {
              status: "degraded",
              detail: "stalled: last run 2m ago",
              last_run_ago: "2m ago",
            },
          },
        }),
      };
      const degraded = await run(["monitor", "health", "--url", url], { cwd });
      expect(degraded.code).toBe(1);
      expect(degraded.stdout).toMatch(
        /workers\.reconciliation\s+degraded\s+2m ago\s+stalled: last run 2m ago/,
      );

      answer = {
        status: 503,
        body: report("unhealthy", { exchanges: { simex: { status: "down", detail: "connection refused" } } }),
      };
      const unhealthy = await run(["monitor", "health", "--url", url, "--json"], { cwd });
      expect(unhealthy.code).toBe(2);
      expect(JSON.parse(unhealthy.stdout).components.exchanges.simex.status).toBe("down");

      answer = { status: 200, body: "<html>hello</html>" };
      const foreign = await run(["monitor", "health", "--url", url], { cwd });
      expect(foreign).toEqual({
        code: 2,
        stdout: "",
        stderr: `ticktrace: ${url}/health answered HTTP 200 without a health report (is this a ticktrace health server?)\n`,
      });
    });

    it("a health server that does not answer within --timeout-ms is exit 2 with one line", async () => {
      const cwd = await workdir("health-timeout");
      answer = { status: 0, body: "" };
      const result = await run(["monitor", "health", "--url", url, "--timeout-ms", "300"], { cwd });
      answer = { status: 200, body: report("healthy", {}) };
      expect(result).toEqual({
        code: 2,
        stdout: "",
        stderr: `ticktrace: health check: no answer from GET ${url}/health within 300 ms; is the process running? check --url or health.host/health.port\n`,
      });
    });

    it("regression: monitor health printed alerts.alerts.log (the group prefix doubled)", async () => {
      const cwd = await workdir("health-alerts");
      answer = {
        status: 200,
        body: report("healthy", {
          alerts: {
            "alerts.log": { status: "up" },
            "alerts.outbox": { status: "up" },
            telegram_bot: { status: "up" },
          },
        }),
      };
      const out = await run(["monitor", "health", "--url", url], { cwd });
      expect(out.code).toBe(0);
      const names = out.stdout
        .trimEnd()
        .split("\n")
        .slice(2)
        .map((l) => l.split(/\s+/)[0]);
      expect(names).toEqual(["alerts.log", "alerts.outbox", "alerts.telegram_bot"]);
    });

    it("unreachable is exit 2 with one line; --config finds the URL from health.host/port", async () => {
      const cwd = await workdir("unreachable");
      const port = REFUSING_PORT;
      await writeFile(join(cwd, "ops.yaml"), `health:\n  host: 127.0.0.1\n  port: ${port}\n`);
      const result = await run(["monitor", "health", "--config", "ops.yaml"], { cwd });
      expect(result).toEqual({
        code: 2,
        stdout: "",
        stderr: `ticktrace: health check could not reach GET http://127.0.0.1:${port}/health: ECONNREFUSED; is the process running? check --url or health.host/health.port\n`,
      });
      const live = url.split(":").at(-1)!;
      await writeFile(join(cwd, "live.yaml"), `health:\n  port: ${live}\n`);
      answer = { status: 200, body: report("healthy", {}) };
      expect((await run(["monitor", "health", "--config", "live.yaml"], { cwd })).code).toBe(0);
      const badConfig = await run(["monitor", "health", "--config", "missing.yaml"], { cwd });
      expect(badConfig).toEqual({
        code: 2,
        stdout: "",
        stderr: `ticktrace: config error: ${join(cwd, "missing.yaml")}: file not found (check --config or TICKTRACE_CONFIG)\n`,
      });
    });
  });

  it("metrics: latest, a field over a window with aggregates, windowed aggregates, a chart, --json", async () => {
    const cwd = await workdir("metrics");
    const dir = join(cwd, "snaps");
    await writeFile(join(cwd, "config.yaml"), "monitoring:\n  snapshot_dir: snaps\n");
    const start = Date.UTC(2026, 0, 10, 12, 0);
    const pnls = [10, 20, -5, 40, 30, 25];
    for (let i = 0; i < pnls.length; i++) {
      const t = start + i * 60_000;
      await writeSnapshotFile(
        dir,
        t,
        JSON.stringify(makeSnapshot(t, { pnl: { daily: pnls[i]! }, positions: { count: i } })),
      );
    }
    await writeFile(join(dir, "metrics_2026-01-10T11-00-00-000Z.json"), "{ torn");

    const latest = await run(["monitor", "metrics"], { cwd });
    expect(latest.code).toBe(0);
    expect(latest.stdout).toContain("Latest snapshot  2026-01-10T12:05:00.000Z");
    expect(latest.stdout).toContain("positions     5 open");
    expect(latest.stdout).toContain("pnl           daily 25");

    const field = JSON.parse(
      (
        await run(
          ["monitor", "metrics", "--field", "pnl.daily", "--since", "2026-01-10T12:01:00Z", "--json"],
          { cwd },
        )
      ).stdout,
    );
    expect(field.aggregate).toEqual({ min: -5, max: 40, avg: 22, last: 25, count: 5 });
    expect(field.series.map((p: { value: number }) => p.value)).toEqual([20, -5, 40, 30, 25]);

    const windows = JSON.parse(
      (
        await run(
          [
            "monitor",
            "metrics",
            "--field",
            "pnl.daily",
            "--window",
            "3m",
            "--since",
            "2026-01-10T12:00:00Z",
            "--json",
          ],
          { cwd },
        )
      ).stdout,
    );
    expect(
      windows.map((w: { start: string; fields: Record<string, unknown> }) => [
        w.start,
        w.fields["pnl.daily"],
      ]),
    ).toEqual([
      ["2026-01-10T12:00:00.000Z", { min: -5, max: 20, avg: 25 / 3, last: -5, count: 3 }],
      ["2026-01-10T12:03:00.000Z", { min: 25, max: 40, avg: 95 / 3, last: 25, count: 3 }],
    ]);

    const chart = await run(["monitor", "metrics", "--field", "pnl.daily", "--chart"], { cwd });
    expect(chart.code).toBe(0);
    expect(chart.stdout).toContain("min -5  max 40  avg 20  last 25");
    expect(chart.stdout).toMatch(/┤/);
    // One line per unreadable file (the JSON parser's wording varies by Node version).
    expect(chart.stderr.split("\n")).toEqual([
      expect.stringMatching(
        new RegExp(`^ticktrace: skipped ${dir}/metrics_2026-01-10T11-00-00-000Z\\.json: .*JSON`),
      ),
      "",
    ]);

    const badField = await run(["monitor", "metrics", "--field", "pnl.weekly"], { cwd });
    expect(badField.code).toBe(2);
    expect(badField.stderr).toContain('--field: no numeric field "pnl.weekly"');
  });
});
