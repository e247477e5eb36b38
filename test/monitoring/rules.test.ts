import { describe, expect, it } from "vitest";
import { createManualClock } from "../../src/clock.js";
import { CounterWindow, countersOf } from "../../src/monitoring/history.js";
import {
  circuitBreakerRule,
  connectivityRule,
  dailyLossRule,
  evaluateRules,
  heartbeatRule,
  llmCostRule,
  openPositionsRule,
  positionLimitsRule,
  providerFailuresRule,
  rejectionRateRule,
  staleArtifactsRule,
  type ArtifactState,
  type RuleContext,
} from "../../src/monitoring/rules.js";
import type { MonitoringSnapshot } from "../../src/monitoring/snapshot.js";
import { makeConfig, makeSnapshot } from "./fixtures.js";

const rules = makeConfig().monitoring.rules;
const HOUR = 3_600_000;

function context(
  clock: { now(): number },
  snapshot: MonitoringSnapshot | undefined,
  extra: Partial<RuleContext> = {},
): RuleContext {
  return {
    nowMs: clock.now(),
    snapshot,
    startedMs: clock.now() - HOUR,
    window: new CounterWindow({ maxAgeMs: HOUR }),
    artifacts: [],
    ...extra,
  };
}

describe("circuit breaker rule", () => {
  it("fires CRITICAL circuit_breaker_tripped while the breaker is active, and not otherwise", () => {
    const clock = createManualClock();
    expect(
      circuitBreakerRule.evaluate(context(clock, makeSnapshot(clock.now())), rules.circuit_breaker),
    ).toEqual([]);
    const tripped = makeSnapshot(clock.now(), {
      risk: { circuit_breaker_active: true, daily_loss_pct: -5.2 },
      pnl: { daily: -1520 },
    });
    const [finding, ...rest] = circuitBreakerRule.evaluate(context(clock, tripped), rules.circuit_breaker);
    expect(rest).toEqual([]);
    expect(finding).toMatchObject({
      rule: "circuit_breaker_tripped",
      level: "CRITICAL",
      labels: { breaker: "daily_loss" },
    });
    expect(finding!.message).toBe(
      "Circuit breaker active: daily PnL -1520 (-5.2% of equity), 2 open positions",
    );
    expect(finding!.fields).toEqual({ daily_pnl: -1520, daily_loss_pct: -5.2, open_positions: 2 });
  });
});

describe("daily loss rule", () => {
  it("fires at the threshold and beyond, not before", () => {
    const clock = createManualClock();
    const at = (pct: number) =>
      dailyLossRule.evaluate(
        context(clock, makeSnapshot(clock.now(), { risk: { daily_loss_pct: pct } })),
        rules.daily_loss,
      );
    expect(at(-0.99)).toEqual([]);
    expect(at(5)).toEqual([]);
    expect(at(-1)).toHaveLength(1);
    const [finding] = at(-4.5);
    expect(finding).toMatchObject({ rule: "daily_loss_near_limit", level: "WARNING" });
    expect(finding!.message).toBe("Daily loss -4.5% is beyond the -1% threshold (PnL 120.5)");
  });
});

describe("position limits rule", () => {
  it("raises one risk_limit_breached per symbol with limit=position", () => {
    const clock = createManualClock();
    const snap = makeSnapshot(clock.now(), { risk: { position_limit_breaches: ["BTC/USDT", "ETH/USDT"] } });
    const findings = positionLimitsRule.evaluate(context(clock, snap), rules.position_limits);
    expect(findings.map((f) => [f.rule, f.labels])).toEqual([
      ["risk_limit_breached", { limit: "position", symbol: "BTC/USDT" }],
      ["risk_limit_breached", { limit: "position", symbol: "ETH/USDT" }],
    ]);
    expect(
      positionLimitsRule.evaluate(context(clock, makeSnapshot(clock.now())), rules.position_limits),
    ).toEqual([]);
  });
});

describe("heartbeat rule", () => {
  it("fires when the last tick is older than max_age_ms", () => {
    const clock = createManualClock();
    const snap = makeSnapshot(clock.now());
    expect(heartbeatRule.evaluate(context(clock, snap), rules.heartbeat)).toEqual([]);
    clock.advance(10_000);
    expect(heartbeatRule.evaluate(context(clock, snap), rules.heartbeat)).toEqual([]);
    clock.advance(5_000);
    const [finding] = heartbeatRule.evaluate(context(clock, snap), rules.heartbeat);
    expect(finding).toMatchObject({
      rule: "heartbeat_stale",
      level: "CRITICAL",
      fields: { reason: "lapsed", age_ms: 15_000 },
    });
    expect(finding!.message).toBe("Heartbeat lapsed: last tick 15s ago (allowed 10s)");
  });

  it("edge: heartbeat never initialised (no snapshot, or last_tick null) fires after max_age_ms from start", () => {
    const clock = createManualClock();
    const startedMs = clock.now();
    const noTick = makeSnapshot(clock.now(), { heartbeat: { last_tick: null, uptime_seconds: 1 } });
    for (const snapshot of [undefined, noTick]) {
      expect(heartbeatRule.evaluate(context(clock, snapshot, { startedMs }), rules.heartbeat)).toEqual([]);
    }
    clock.advance(12_000);
    for (const snapshot of [undefined, noTick]) {
      const [finding] = heartbeatRule.evaluate(context(clock, snapshot, { startedMs }), rules.heartbeat);
      expect(finding!.fields.reason).toBe("never_initialised");
      expect(finding!.message).toBe(
        "Heartbeat never initialised: no tick completed in 12s since monitoring started",
      );
    }
  });
});

describe("connectivity rule", () => {
  it("fires exchange_disconnected labelled with the exchange", () => {
    const clock = createManualClock();
    const down = makeSnapshot(clock.now(), {
      connectivity: { exchange_connected: false, last_api_call: null },
    });
    const [finding] = connectivityRule.evaluate(context(clock, down), rules.connectivity);
    expect(finding).toMatchObject({ rule: "exchange_disconnected", labels: { exchange: "simex" } });
    expect(finding!.message).toBe("Exchange simex connection lost (last API call never)");
    expect(connectivityRule.evaluate(context(clock, makeSnapshot(clock.now())), rules.connectivity)).toEqual(
      [],
    );
  });
});

describe("provider failures rule", () => {
  it("counts failures within the window from the cumulative counter", () => {
    const clock = createManualClock();
    const window = new CounterWindow({ maxAgeMs: HOUR });
    const at = (errors: number) =>
      makeSnapshot(clock.now(), { sentiment: { provider_errors_total: errors } });
    // 100 errors long ago, then the window starts.
    window.add(clock.now(), countersOf(at(100)));
    clock.advance(30 * 60_000);
    window.add(clock.now(), countersOf(at(102)));
    clock.advance(31 * 60_000);
    // Window start (1 h ago) falls after the first sample: baseline 100 -> 5 failures, not above 5.
    expect(
      providerFailuresRule.evaluate(context(clock, at(105), { window }), rules.provider_failures),
    ).toEqual([]);
    const [finding] = providerFailuresRule.evaluate(
      context(clock, at(106), { window }),
      rules.provider_failures,
    );
    expect(finding).toMatchObject({
      rule: "provider_failures_high",
      labels: { provider: "sentiment" },
      fields: { failures: 6 },
    });
    // 30 minutes later the first sample is outside: baseline 102.
    clock.advance(30 * 60_000);
    expect(
      providerFailuresRule.evaluate(context(clock, at(106), { window }), rules.provider_failures),
    ).toEqual([]);
  });

  it("a young process counts from zero; no sentiment section means no finding", () => {
    const clock = createManualClock();
    const young = makeSnapshot(clock.now(), {
      heartbeat: { uptime_seconds: 60 },
      sentiment: { provider_errors_total: 6 },
    });
    expect(providerFailuresRule.evaluate(context(clock, young), rules.provider_failures)).toHaveLength(1);
    const { sentiment: _omit, ...withoutSentiment } = young;
    expect(providerFailuresRule.evaluate(context(clock, withoutSentiment), rules.provider_failures)).toEqual(
      [],
    );
  });
});

describe("stale artifacts rule", () => {
  it("fires for an old file and, as its own finding, for a missing file (no crash)", () => {
    const clock = createManualClock();
    const artifacts: ArtifactState[] = [
      { name: "teacher", path: "/models/teacher.bin", mtimeMs: clock.now() - 30 * HOUR },
      { name: "student", path: "/models/student.bin", mtimeMs: clock.now() - 2 * HOUR },
      { name: "ghost", path: "/models/ghost.bin", mtimeMs: null, error: "ENOENT" },
    ];
    const findings = staleArtifactsRule.evaluate(
      context(clock, undefined, { artifacts }),
      rules.stale_artifacts,
    );
    expect(findings.map((f) => [f.labels.artifact, f.fields.missing, f.message])).toEqual([
      ["teacher", false, "Artifact teacher not updated for 30 h (allowed 24 h): /models/teacher.bin"],
      ["ghost", true, "Artifact ghost is missing: /models/ghost.bin (ENOENT)"],
    ]);
    expect(findings.every((f) => f.rule === "artifact_stale")).toBe(true);
  });
});

describe("rejection rate rule", () => {
  it("diffs cumulative counters over the window and needs min_orders", () => {
    const clock = createManualClock();
    const window = new CounterWindow({ maxAgeMs: HOUR });
    const at = (placed: number, rejected: number) =>
      makeSnapshot(clock.now(), { orders: { placed_total: placed, rejected_total: rejected } });
    window.add(clock.now(), countersOf(at(1000, 500))); // a bad past does not count
    clock.advance(60_000);
    // 10 orders, 5 rejected: 50% but below min_orders (20).
    expect(
      rejectionRateRule.evaluate(context(clock, at(1005, 505), { window }), rules.rejection_rate),
    ).toEqual([]);
    // 18 placed + 2 rejected = 20 orders, exactly 10%: not above.
    expect(
      rejectionRateRule.evaluate(context(clock, at(1018, 502), { window }), rules.rejection_rate),
    ).toEqual([]);
    const [finding] = rejectionRateRule.evaluate(
      context(clock, at(1017, 503), { window }),
      rules.rejection_rate,
    );
    expect(finding).toMatchObject({
      rule: "order_rejection_rate_high",
      fields: { rejected: 3, orders: 20, rejection_rate: 0.15 },
    });
    expect(finding!.message).toBe("15% of orders rejected in the last 1m (3 of 20; threshold 10%)");
  });
});

describe("open positions rule", () => {
  it("fires above max only", () => {
    const clock = createManualClock();
    const at = (count: number) =>
      openPositionsRule.evaluate(
        context(clock, makeSnapshot(clock.now(), { positions: { count } })),
        rules.open_positions,
      );
    expect(at(50)).toEqual([]);
    expect(at(51)[0]).toMatchObject({ rule: "open_positions_high", message: "51 open positions (max 50)" });
  });
});

describe("llm cost rule", () => {
  it("fires when the spend over the trailing hour exceeds max_usd_per_hour", () => {
    const clock = createManualClock();
    const window = new CounterWindow({ maxAgeMs: HOUR });
    const at = (cost: number) => makeSnapshot(clock.now(), { llm: { cost_usd_total: cost } });
    window.add(clock.now(), countersOf(at(50)));
    clock.advance(HOUR);
    expect(llmCostRule.evaluate(context(clock, at(60), { window }), rules.llm_cost)).toEqual([]);
    const [finding] = llmCostRule.evaluate(context(clock, at(62.5), { window }), rules.llm_cost);
    expect(finding).toMatchObject({ rule: "llm_cost_spike", fields: { cost_usd_last_hour: 12.5 } });
    expect(finding!.message).toBe("LLM spend $12.5 in the last hour (max $10/h)");
  });
});

describe("evaluateRules", () => {
  it("a healthy snapshot has no findings; disabled rules never run", () => {
    const clock = createManualClock();
    expect(evaluateRules(context(clock, makeSnapshot(clock.now())), rules)).toEqual([]);
    const bad = makeSnapshot(clock.now(), {
      risk: { circuit_breaker_active: true },
      connectivity: { exchange_connected: false },
    });
    expect(evaluateRules(context(clock, bad), rules).map((f) => f.rule)).toEqual([
      "circuit_breaker_tripped",
      "exchange_disconnected",
    ]);
    const off = makeConfig({ rules: { circuit_breaker: { enabled: false } } }).monitoring.rules;
    expect(evaluateRules(context(clock, bad), off).map((f) => f.rule)).toEqual(["exchange_disconnected"]);
  });
});
