import { describe, expect, it } from "vitest";
import { createManualClock } from "../../src/clock.js";
import { createDecisionRecorder, createSqliteDecisionStore } from "../../src/decisions/index.js";
import { createQuoteDecisionAdapter } from "../../src/demo/quote-decisions.js";
import { MarketMaker } from "../../src/trading/strategy/market-maker.js";

describe("quote decision adapter", () => {
  it("turns the market maker's quoting decisions into sessions with its reasoning, the risk check and the decision", async () => {
    const clock = createManualClock();
    const recorder = createDecisionRecorder({
      store: createSqliteDecisionStore({ path: ":memory:" }),
      clock,
    });
    const strategy = new MarketMaker({
      id: "mm-1",
      halfSpreadBps: 5,
      quoteNotional: 1_000,
      inventorySkewBps: 10,
      maxPositionNotional: 10_000,
      recordIntervalMs: 5_000,
      clock,
      decisionRecorder: createQuoteDecisionAdapter(recorder, { strategyId: "mm-1" }),
    });

    // Long 0.1 BTC at 50,000 = half the position limit: quotes skew down; risk rejects.
    const first = strategy.quote("BTC/USDT", 49_990, 50_010, 0.1);
    strategy.recordOutcome(first, 0.1, false, "position limit");
    // Throttled: a second decision within record_interval_ms is not recorded.
    clock.advance(1_000);
    strategy.recordOutcome(strategy.quote("BTC/USDT", 49_990, 50_010, 0.1), 0.1, true);
    await recorder.flush();

    const sessions = await recorder.reader.recentSessions();
    expect(sessions).toHaveLength(1);
    const trace = await recorder.reader.getSession(sessions[0]!.id);
    expect(trace?.session).toMatchObject({
      agent: "market_maker",
      strategyId: "mm-1",
      symbol: "BTC/USDT",
      status: "completed",
    });
    expect(trace?.session.decision).toMatchObject({
      action: "quote_skew_down",
      regime: "calm",
      confidence: 1,
      approved: false,
      riskScore: 0.5,
      reason: "position limit",
    });
    expect(trace?.events.map((e) => (e.kind === "step" ? e.text : e.kind))).toEqual([
      "Market BTC/USDT: mid 50000.00; position +0.1 (base).",
      "Strategy reasoning: long 0.50 of limit: skew down.",
      "Skew 5 bps: both quotes move down so the ask fills first and the long position shrinks.",
      "tool_call",
      "Risk monitor rejected the quotes (position limit): nothing is sent for BTC/USDT this tick.",
      "decision",
    ]);
    expect(trace?.events[3]).toMatchObject({
      name: "risk_check",
      args: { symbol: "BTC/USDT", position: 0.1, mid: 50_000, skew_bps: 5 },
      result: "rejected: position limit",
    });
    expect((await recorder.reader.latestDecision("mm-1"))?.session.id).toBe(trace?.session.id);
    await recorder.shutdown();
  });
});
