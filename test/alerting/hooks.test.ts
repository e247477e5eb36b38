import { describe, expect, it } from "vitest";
import { attachTradingAlerts } from "../../src/alerting/hooks.js";
import { AlertManager } from "../../src/alerting/manager.js";
import { createManualClock } from "../../src/clock.js";
import { parseConfigText } from "../../src/config/index.js";
import { HealthRegistry } from "../../src/health/registry.js";
import { createTradingEvents } from "../../src/events/trading-events.js";
import { createRecordingChannel } from "./helpers.js";

function setup(yaml = "") {
  const clock = createManualClock();
  const events = createTradingEvents();
  const page = createRecordingChannel({ name: "page" });
  const manager = new AlertManager({ channels: [page], clock });
  const health = new HealthRegistry({ clock });
  const config = parseConfigText(yaml, { file: "test.yaml", env: {} });
  const hooks = attachTradingAlerts({
    events,
    alerter: manager,
    config,
    clock,
    health,
    pollIntervalMs: 1000,
  });
  return { clock, events, page, manager, health, hooks };
}

const levels = (manager: AlertManager) =>
  manager
    .active()
    .map((a) => `${a.rule}:${a.level}`)
    .sort();

describe("attachTradingAlerts", () => {
  it("circuit breaker trip raises one CRITICAL with the trace id; reset resolves it", async () => {
    const { events, page, manager } = setup();
    events.emit("circuitBreakerTripped", {
      breaker: "daily_loss",
      reason: "daily loss limit exceeded",
      dailyPnl: -1600,
      limit: 1500,
      traceId: "t1",
    });
    events.emit("circuitBreakerTripped", {
      breaker: "daily_loss",
      reason: "daily loss limit exceeded",
      dailyPnl: -1700,
      limit: 1500,
    });
    await manager.idle();
    expect(page.delivered).toHaveLength(1);
    expect(page.delivered[0]!.alert).toMatchObject({
      rule: "circuit_breaker_tripped",
      level: "CRITICAL",
      title: "Circuit breaker tripped: trading is stopped",
      message:
        "Breaker daily_loss tripped: daily loss limit exceeded. Daily PnL -1,600 against a limit of 1,500.",
      labels: { breaker: "daily_loss" },
      traceId: "t1",
    });
    events.emit("circuitBreakerReset", { breaker: "daily_loss" });
    await manager.idle();
    expect(page.delivered.map((d) => d.event)).toEqual(["firing", "resolved"]);
  });

  it("exchange disconnect is WARNING, escalates to ERROR after alerts.escalation.exchange_disconnect_ms, resolves on reconnect", async () => {
    const { clock, events, page, manager } = setup(
      "alerts:\n  escalation:\n    exchange_disconnect_ms: 30000\n",
    );
    events.emit("exchangeDisconnected", { exchange: "sim", reason: "socket closed" });
    clock.advance(29_999);
    expect(levels(manager)).toEqual(["exchange_disconnected:WARNING"]);
    clock.advance(1);
    expect(levels(manager)).toEqual(["exchange_disconnected:ERROR"]);
    events.emit("exchangeReconnected", { exchange: "sim", downtimeMs: 31_000 });
    await manager.idle();
    expect(page.delivered.map((d) => `${d.event}:${d.alert.level}`)).toEqual([
      "firing:WARNING",
      "escalated:ERROR",
      "resolved:ERROR",
    ]);
    expect(page.delivered[1]!.alert.title).toBe("Exchange sim down for 30s");
    // A short blip does not escalate.
    events.emit("exchangeDisconnected", { exchange: "sim", reason: "blip" });
    clock.advance(1000);
    events.emit("exchangeReconnected", { exchange: "sim", downtimeMs: 1000 });
    clock.advance(60_000);
    expect(manager.active()).toEqual([]);
  });

  it("risk breaches keep their severity; strategy panic is CRITICAL; large fills are one INFO each", async () => {
    const { events, manager, page } = setup("alerts:\n  large_fill_notional: 10000\n");
    events.emit("riskLimitBreached", {
      limit: "position",
      severity: "WARNING",
      value: 2.5,
      threshold: 2,
      symbol: "BTC/USDT",
    });
    events.emit("riskLimitBreached", {
      limit: "daily_loss",
      severity: "ERROR",
      value: 1600,
      threshold: 1500,
    });
    events.emit("strategyPanic", { strategy: "mm", error: "TypeError: x is undefined" });
    const fill = {
      exchange: "sim",
      symbol: "BTC/USDT",
      side: "buy" as const,
      price: 50_000,
      quantity: 0.5,
      orderId: "o1",
    };
    events.emit("fill", { ...fill, notional: 25_000 });
    events.emit("fill", { ...fill, notional: 25_000, orderId: "o2" });
    events.emit("fill", { ...fill, notional: 9_999, orderId: "o3" });
    expect(levels(manager)).toEqual([
      "risk_limit_breached:ERROR",
      "risk_limit_breached:WARNING",
      "strategy_panic:CRITICAL",
    ]);
    await manager.idle();
    expect(
      page.delivered.filter((d) => d.alert.rule === "large_fill").map((d) => d.alert.fields.order_id),
    ).toEqual(["o1", "o2"]);
    events.emit("riskLimitCleared", { limit: "position", symbol: "BTC/USDT" });
    events.emit("strategyRecovered", { strategy: "mm" });
    expect(levels(manager)).toEqual(["risk_limit_breached:ERROR"]);
  });

  it("rate limiting raises WARNING and resolves after a quiet minute", () => {
    const { clock, events, manager } = setup();
    events.emit("rateLimited", { exchange: "sim", operation: "placeOrder", retryAfterMs: 1000 });
    clock.advance(30_000);
    events.emit("rateLimited", { exchange: "sim", operation: "placeOrder", retryAfterMs: 1000 });
    clock.advance(59_999);
    expect(levels(manager)).toEqual(["rate_limit_exceeded:WARNING"]);
    clock.advance(1);
    expect(levels(manager)).toEqual([]);
  });

  it("regression: order_rejection_rate_high had two owners; the hooks leave it to monitoring.rules.rejection_rate", () => {
    const { clock, events, manager } = setup();
    for (let i = 0; i < 50; i++)
      events.emit("orderRejected", { reason: "position_limit", symbol: "BTC/USDT", source: "risk" });
    clock.advance(5000);
    expect(levels(manager)).toEqual([]);
  });

  it("a worker that stops reporting raises worker_stalled, resolved when it runs again; workerFailed raises at once", () => {
    const { clock, manager, health, events } = setup();
    health.register("position_monitor", { group: "workers", expectedIntervalMs: 1000 });
    health.workerRan("position_monitor", { ok: true, durationMs: 1 });
    clock.advance(2000);
    expect(manager.active()).toEqual([]);
    clock.advance(1000);
    expect(manager.active()[0]).toMatchObject({
      rule: "worker_stalled",
      level: "ERROR",
      labels: { worker: "position_monitor" },
    });
    health.workerRan("position_monitor", { ok: true, durationMs: 1 });
    clock.advance(1000);
    expect(manager.active()).toEqual([]);
    events.emit("workerFailed", { worker: "order_executor", error: "crashed" });
    expect(manager.active()[0]).toMatchObject({
      rule: "worker_stalled",
      message: "Worker order_executor failed: crashed",
    });
  });

  it("stop unsubscribes and stops the timers", () => {
    const { clock, events, manager, hooks } = setup();
    events.emit("exchangeDisconnected", { exchange: "sim", reason: "x" });
    hooks.stop();
    hooks.stop();
    clock.advance(60_000);
    expect(levels(manager)).toEqual(["exchange_disconnected:WARNING"]);
    events.emit("strategyPanic", { strategy: "mm", error: "e" });
    expect(levels(manager)).toEqual(["exchange_disconnected:WARNING"]);
  });
});
