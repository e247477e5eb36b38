/**
 * A bot's own strategy and risk check in the reference orchestrator: both are small object
 * literals written against the `Strategy` and `RiskCheck` interfaces, driving the real order
 * executor and position manager against an in-memory venue.
 */
import {
  InMemorySpanExporter,
  BasicTracerProvider,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { describe, expect, it } from "vitest";
import { createManualClock } from "../../src/clock.js";
import { createTradingEvents } from "../../src/events/trading-events.js";
import { HealthRegistry } from "../../src/health/registry.js";
import { OrderExecutor } from "../../src/trading/execution/order-executor.js";
import { Orchestrator, type TickInfo } from "../../src/trading/orchestrator.js";
import { PositionManager } from "../../src/trading/portfolio/position-manager.js";
import type { OrderIntent, Quotes, RiskCheck, RiskVerdict, Strategy } from "../../src/trading/types.js";
import { createMetricsProbe, FakeVenue, tickDriver } from "./helpers.js";

/** The user's decision type: the quotes plus what the strategy wants to remember about them. */
interface DipBuy extends Quotes {
  readonly mid: number;
}

function setup() {
  const clock = createManualClock();
  const exporter = new InMemorySpanExporter();
  const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).getTracer(
    "test",
  );
  const probe = createMetricsProbe();
  const events = createTradingEvents();
  const health = new HealthRegistry({ clock });
  const venue = new FakeVenue();
  const positions = new PositionManager({ symbols: ["BTC/USDT"], startingEquity: 10_000, clock });
  const executor = new OrderExecutor({
    exchange: "simex",
    venue,
    positions,
    metrics: probe.metrics,
    events,
    clock,
  });

  const outcomes: { mid: number; approved: boolean; riskReason: string | undefined }[] = [];
  /** Bids 10 bps under the mid, one unit; never offers. */
  const strategy: Strategy<DipBuy> = {
    id: "dip-buyer",
    quote(_symbol, bestBid, bestAsk) {
      const mid = (bestBid + bestAsk) / 2;
      return { mid, bid: { side: "buy", price: mid * 0.999, quantity: 1 } };
    },
    recordOutcome(decision, _position, approved, riskReason) {
      outcomes.push({ mid: decision.mid, approved, riskReason });
    },
  };

  const checked: OrderIntent[] = [];
  /** Refuses bids above a price cap; `halt` stands for the user's own kill switch. */
  const risk: RiskCheck & { halt: boolean } = {
    halt: false,
    get breakerActive() {
      return this.halt;
    },
    check(intent): RiskVerdict {
      checked.push(intent);
      return intent.price > 60_000 ? { approved: false, reason: "above_price_cap" } : { approved: true };
    },
  };

  const ticks: TickInfo[] = [];
  const orchestrator = new Orchestrator({
    exchange: "simex",
    symbols: ["BTC/USDT"],
    strategy,
    executor,
    positions,
    risk,
    metrics: probe.metrics,
    events,
    tracer,
    health,
    clock,
    requoteThresholdBps: 4,
    panicCooldownMs: 1_000,
    onTick: (t) => ticks.push(t),
  });
  const tick = tickDriver(orchestrator, clock, ticks);
  return { exporter, venue, executor, outcomes, checked, risk, tick, orchestrator };
}

describe("a user's own Strategy and RiskCheck in the orchestrator", () => {
  it("the strategy's quotes go through the risk check to the venue; a side left out is not quoted", async () => {
    const { venue, checked, outcomes, tick, executor } = setup();
    const info = await tick(50_000);
    expect(info.outcome).toBe("ok");
    expect(venue.placed).toEqual([
      { symbol: "BTC/USDT", side: "buy", type: "limit", price: 50_000 * 0.999, quantity: 1 },
    ]);
    expect(checked).toEqual([{ symbol: "BTC/USDT", side: "buy", price: 50_000 * 0.999, quantity: 1 }]);
    expect(outcomes).toEqual([{ mid: 50_000, approved: true, riskReason: undefined }]);
    expect(executor.restingOrder("BTC/USDT", "buy")?.price).toBe(50_000 * 0.999);
    expect(executor.restingOrder("BTC/USDT", "sell")).toBeUndefined();
  });

  it("a refusal by the user's risk check keeps the order off the venue and reaches the strategy and the span", async () => {
    const { venue, outcomes, tick, exporter } = setup();
    await tick(70_000);
    expect(venue.placed).toEqual([]);
    expect(outcomes).toEqual([{ mid: 70_000, approved: false, riskReason: "above_price_cap" }]);
    const check = exporter.getFinishedSpans().find((s) => s.name === "risk_check")!;
    expect(check.attributes["risk.rejected"]).toBe("above_price_cap");
  });

  it("the user's breaker cancels the resting bid once and skips ticks until it clears", async () => {
    const { venue, risk, tick } = setup();
    await tick(50_000);
    expect(venue.placed).toHaveLength(1);
    risk.halt = true;
    expect((await tick(49_000)).outcome).toBe("skipped");
    expect((await tick(48_000)).outcome).toBe("skipped");
    expect(venue.cancelled).toEqual(["o-1"]);
    expect(venue.placed).toHaveLength(1);
    risk.halt = false;
    expect((await tick(48_000)).outcome).toBe("ok");
    expect(venue.placed.map((p) => p.price)).toEqual([50_000 * 0.999, 48_000 * 0.999]);
  });
});
