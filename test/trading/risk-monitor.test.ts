import { describe, expect, it } from "vitest";
import { createManualClock } from "../../src/clock.js";
import { HealthRegistry } from "../../src/health/registry.js";
import { createTradingEvents, type TradingEventMap } from "../../src/events/trading-events.js";
import { PositionManager } from "../../src/trading/portfolio/position-manager.js";
import { RiskMonitor, type RiskLimits } from "../../src/trading/risk/risk-monitor.js";
import { createMetricsProbe } from "./helpers.js";

const LIMITS: RiskLimits = {
  startingEquity: 100_000,
  dailyLossLimit: 1_500,
  maxPositionNotional: 20_000,
  maxExposureRatio: 0.5,
  maxOrdersPerSecond: 3,
};

function setup(limits: Partial<RiskLimits> = {}) {
  const clock = createManualClock();
  const probe = createMetricsProbe();
  const events = createTradingEvents();
  const seen: { name: keyof TradingEventMap; payload: unknown }[] = [];
  for (const name of [
    "circuitBreakerTripped",
    "riskLimitBreached",
    "riskLimitCleared",
    "orderRejected",
    "circuitBreakerReset",
  ] as const) {
    events.on(name, (payload) => seen.push({ name, payload }));
  }
  const health = new HealthRegistry({ clock });
  const risk = new RiskMonitor({
    limits: { ...LIMITS, ...limits },
    strategy: "mm-1",
    metrics: probe.metrics,
    events,
    health,
    clock,
  });
  const positions = new PositionManager({ startingEquity: 100_000, clock });
  return { clock, probe, risk, positions, seen, health };
}

describe("RiskMonitor.check", () => {
  it("approves an order inside every limit", () => {
    const { risk, positions } = setup();
    const decision = risk.check(
      { symbol: "BTC/USDT", side: "buy", quantity: 0.1, price: 60_000 },
      positions.position("BTC/USDT"),
      positions.totals(),
    );
    expect(decision).toEqual({ approved: true });
  });

  it("refuses an order that would take the position beyond its limit, but not one that reduces it", async () => {
    const { risk, positions, probe, seen } = setup();
    positions.applyFill({ symbol: "BTC/USDT", side: "buy", quantity: 0.3, price: 60_000, fee: 0 });
    positions.mark("BTC/USDT", 60_000);
    const p = positions.position("BTC/USDT");
    expect(
      risk.check({ symbol: "BTC/USDT", side: "buy", quantity: 0.05, price: 60_000 }, p, positions.totals()),
    ).toEqual({
      approved: false,
      reason: "position_limit",
    });
    expect(
      risk.check({ symbol: "BTC/USDT", side: "sell", quantity: 0.05, price: 60_000 }, p, positions.totals()),
    ).toEqual({
      approved: true,
    });
    expect(await probe.points("trading_orders_rejected_total")).toEqual([
      { attributes: { reason: "position_limit" }, value: 1 },
    ]);
    expect(seen.map((e) => e.name)).toEqual(["orderRejected", "riskLimitBreached"]);
    expect(seen[1]!.payload).toMatchObject({
      limit: "position",
      severity: "WARNING",
      symbol: "BTC/USDT",
      threshold: 20_000,
    });
  });

  it("refuses on gross exposure against equity", () => {
    const { risk, positions } = setup({ maxPositionNotional: 1_000_000, maxExposureRatio: 0.1 });
    positions.applyFill({ symbol: "ETH/USDT", side: "buy", quantity: 3, price: 3_000, fee: 0 });
    positions.mark("ETH/USDT", 3_000);
    const decision = risk.check(
      { symbol: "BTC/USDT", side: "buy", quantity: 0.1, price: 60_000 },
      positions.position("BTC/USDT"),
      positions.totals(),
    );
    expect(decision).toEqual({ approved: false, reason: "exposure_limit" });
  });

  it("limits the order rate per second, then lets orders through again", () => {
    const { risk, positions, clock } = setup();
    const intent = { symbol: "BTC/USDT", side: "buy" as const, quantity: 0.001, price: 60_000 };
    const p = positions.position("BTC/USDT");
    const results = Array.from({ length: 4 }, () => risk.check(intent, p, positions.totals()).approved);
    expect(results).toEqual([true, true, true, false]);
    expect(risk.rejections()).toEqual({ order_rate: 1 });
    clock.advance(1_000);
    expect(risk.check(intent, p, positions.totals()).approved).toBe(true);
  });
});

describe("circuit breaker", () => {
  it("trips once when the daily loss reaches the limit, refuses every order, shows in metrics and health", async () => {
    const { risk, positions, probe, seen, health } = setup();
    positions.applyFill({ symbol: "BTC/USDT", side: "buy", quantity: 0.3, price: 60_000, fee: 0 });
    positions.mark("BTC/USDT", 55_100); // -1470: not yet
    risk.evaluate(positions.totals(), positions.all());
    expect(risk.breakerActive).toBe(false);
    positions.mark("BTC/USDT", 55_000); // -1500: trips
    risk.evaluate(positions.totals(), positions.all(), "abc123");
    risk.evaluate(positions.totals(), positions.all());
    expect(risk.breakerActive).toBe(true);
    const trips = seen.filter((e) => e.name === "circuitBreakerTripped");
    expect(trips).toHaveLength(1);
    expect(trips[0]!.payload).toEqual({
      breaker: "daily_loss",
      reason: "daily loss 1500.00 reached the limit 1500",
      dailyPnl: -1500,
      limit: 1500,
      traceId: "abc123",
    });
    expect(await probe.points("trading_circuit_breaker_active")).toEqual([
      { attributes: { breaker: "daily_loss" }, value: 1 },
    ]);
    expect(await probe.points("trading_circuit_breaker_trips_total")).toEqual([
      { attributes: { breaker: "daily_loss", level: "critical" }, value: 1 },
    ]);
    expect(await probe.points("trading_risk_daily_loss_limit_usd")).toEqual([
      { attributes: { strategy: "mm-1" }, value: 1500 },
    ]);
    const report = health.snapshot();
    expect(report.status).toBe("degraded");
    expect(
      (report.components.trading as Record<string, { status: string; detail: string }>).risk,
    ).toMatchObject({
      status: "down",
      detail: "circuit breaker tripped: daily loss 1500.00 reached the limit 1500; trading stopped",
    });
    const decision = risk.check(
      { symbol: "BTC/USDT", side: "sell", quantity: 0.01, price: 55_000 },
      positions.position("BTC/USDT"),
      positions.totals(),
    );
    expect(decision).toEqual({ approved: false, reason: "circuit_breaker" });
    risk.reset();
    expect(risk.breakerActive).toBe(false);
    expect(seen.at(-1)).toEqual({ name: "circuitBreakerReset", payload: { breaker: "daily_loss" } });
  });

  it("clears a breach once it has not been hit for a while", () => {
    const { risk, positions, seen, clock } = setup({ maxOrdersPerSecond: 1 });
    const intent = { symbol: "BTC/USDT", side: "buy" as const, quantity: 0.001, price: 60_000 };
    risk.check(intent, positions.position("BTC/USDT"), positions.totals());
    risk.check(intent, positions.position("BTC/USDT"), positions.totals());
    risk.check(intent, positions.position("BTC/USDT"), positions.totals());
    expect(seen.filter((e) => e.name === "riskLimitBreached")).toHaveLength(1);
    clock.advance(6_000);
    risk.evaluate(positions.totals(), positions.all());
    expect(seen.at(-1)).toEqual({ name: "riskLimitCleared", payload: { limit: "order_rate" } });
  });
});
