/**
 * Monitoring benchmarks:
 * (a) one evaluation per tick with every rule on (snapshot validation + all ten rules + the
 *     raise/resolve reconcile against an alerter), as the service runs it off the tick path;
 *     median us per tick, target <= 50 us (a tick's budget for monitoring is 50 ms);
 * (b) the rules alone (`evaluateRules`), to show how the cost splits;
 * (c) `recordTick` on the caller's stack (store + schedule), against an empty function.
 */
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import type { Alert, Alerter, RaiseAlertInput } from "../src/alert-model/types.js";
import { parseConfig } from "../src/config/index.js";
import { CounterWindow, countersOf } from "../src/monitoring/history.js";
import { evaluateRules, longestWindowMs, type ArtifactState } from "../src/monitoring/rules.js";
import { MonitoringService } from "../src/monitoring/service.js";
import type { MonitoringSnapshot } from "../src/monitoring/snapshot.js";
import { createTradingMetrics } from "../src/telemetry/metrics.js";
import { compareFigure, interleave, nsPerOp, type Benchmark, type Figure, type Summary } from "./lib.js";

/** An alerter that only counts: the bench measures monitoring, not delivery. */
class CountingAlerter implements Alerter {
  raised = 0;
  resolved = 0;
  raise(_input: RaiseAlertInput): Alert | undefined {
    this.raised++;
    return undefined;
  }
  resolve(): Alert | undefined {
    this.resolved++;
    return undefined;
  }
  acknowledge(): Alert {
    throw new Error("not used");
  }
  active(): Alert[] {
    return [];
  }
}

/** A reference-process-like snapshot for tick `i`: counters grow, PnL moves, one symbol breaches now and then. */
function snapshotAt(i: number, nowMs: number): MonitoringSnapshot {
  const iso = new Date(nowMs).toISOString();
  return {
    timestamp: iso,
    heartbeat: { last_tick: iso, uptime_seconds: 3_600 + i / 10 },
    positions: { count: 2, total_value: 15_000 + (i % 100), symbols: ["BTC/USDT", "ETH/USDT"] },
    pnl: { daily: -400 + (i % 50), unrealized: 20, realized: -420 + (i % 50) },
    risk: {
      circuit_breaker_active: false,
      daily_loss_pct: -0.4,
      max_position_value: 9_000,
      position_limit_breaches: i % 1000 < 10 ? ["ETH/USDT"] : [],
      exposure_ratio: 0.15,
    },
    orders: { placed_total: 5_000 + i, rejected_total: 50 + Math.floor(i / 20) },
    sentiment: { last_score: 0.6, provider_errors_total: Math.floor(i / 500), cache_hit_rate: 0.9 },
    connectivity: { exchange: "simex", exchange_connected: true, last_api_call: iso },
    llm: { cost_usd_total: i * 0.0001 },
  };
}

const config = parseConfig(
  { monitoring: { artifacts: { teacher: "/models/teacher.bin", student: "/models/student.bin" } } },
  { file: "bench" },
);

async function perTick(quick: boolean): Promise<Figure[]> {
  const iterations = quick ? 2_000 : 10_000;
  const rounds = quick ? 7 : 21;
  let now = Date.UTC(2026, 0, 10, 12);
  const clock = {
    now: () => now,
    monotonicMs: () => performance.now(),
    setTimeout: () => ({ id: 0 }),
    clearTimeout: () => undefined,
  };
  const alerter = new CountingAlerter();
  const service = new MonitoringService({
    alerter,
    config: config.monitoring,
    clock,
    metrics: createTradingMetrics(new MeterProvider().getMeter("bench")),
    defer: () => undefined,
    statFile: (path) =>
      Promise.resolve(
        path.includes("teacher") ? { mtimeMs: now - 3_600_000 } : { mtimeMs: null, error: "ENOENT" },
      ),
  });
  await service.checkArtifacts();
  const artifacts: ArtifactState[] = [
    { name: "teacher", path: "/models/teacher.bin", mtimeMs: now - 3_600_000 },
    { name: "student", path: "/models/student.bin", mtimeMs: null, error: "ENOENT" },
  ];
  const window = new CounterWindow({ maxAgeMs: longestWindowMs(config.monitoring.rules) });
  const snapshots = Array.from({ length: 1_000 }, (_, i) => snapshotAt(i, now));
  let tick = 0;
  let sink = 0;

  const { summaries } = await interleave({
    subjects: {
      evaluation: () =>
        nsPerOp(() => {
          now += 100; // 10 ticks per second
          service.recordTick(snapshots[tick++ % snapshots.length]!);
          service.evaluateNow();
        }, iterations),
      rules: () =>
        nsPerOp(() => {
          now += 100;
          const snapshot = snapshots[tick++ % snapshots.length]!;
          window.add(now, countersOf(snapshot));
          sink += evaluateRules(
            { nowMs: now, snapshot, startedMs: 0, window, artifacts },
            config.monitoring.rules,
          ).length;
        }, iterations),
      recordTick: () => nsPerOp((i) => service.recordTick(snapshots[i % snapshots.length]!), iterations),
      empty: () =>
        nsPerOp((i) => {
          sink += i;
        }, iterations),
    },
    rounds,
    warmupRounds: 2,
  });
  await service.shutdown();
  const note = `reference-like snapshots at 10 ticks/s, 2 artifacts watched; ${alerter.raised} raises and ${alerter.resolved} resolves over the run (checksum ${sink % 7})`;
  return [
    compareFigure({
      name: "monitoring: evaluation per tick, all rules on (validation + rules + reconcile)",
      unit: "us",
      subject: scaleSummary(summaries.evaluation, 1 / 1000),
      baseline: null,
      target: "<= 50 us",
      check: (value) => value <= 50,
      note,
    }),
    compareFigure({
      name: "monitoring: rules alone per tick (evaluateRules, 10 rules)",
      unit: "us",
      subject: scaleSummary(summaries.rules, 1 / 1000),
      baseline: null,
      target: null,
    }),
    compareFigure({
      name: "monitoring: recordTick on the caller (vs empty function)",
      unit: "ns",
      subject: summaries.recordTick,
      baseline: summaries.empty,
      target: null,
      note: "stores the snapshot and schedules one coalesced evaluation; the work happens off the tick path",
    }),
  ];
}

/** A summary with every statistic multiplied by `factor` (ns -> us). */
function scaleSummary(s: Summary, factor: number): Summary {
  return {
    n: s.n,
    median: s.median * factor,
    p25: s.p25 * factor,
    p75: s.p75 * factor,
    p99: s.p99 * factor,
    min: s.min * factor,
    max: s.max * factor,
    mad: s.mad * factor,
  };
}

export const benchmarks: Benchmark[] = [{ name: "monitoring", run: ({ quick }) => perTick(quick) }];
