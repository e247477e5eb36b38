import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { createManualClock, type ManualClock } from "../../src/clock.js";
import {
  createDecisionRecorder,
  createSqliteDecisionStore,
  type DecisionRecorder,
  type DecisionStore,
} from "../../src/decisions/index.js";
import { HealthRegistry } from "../../src/health/registry.js";
import { createTelemetryHarness, withSwitches } from "./harness.js";

describe("decision recorder", () => {
  let clock: ManualClock;
  let harness: ReturnType<typeof createTelemetryHarness>;
  let sqlite: DecisionStore;
  let switches: ReturnType<typeof withSwitches>["switches"];
  let recorder: DecisionRecorder;
  let health: HealthRegistry;

  beforeEach(() => {
    clock = createManualClock();
    harness = createTelemetryHarness();
    sqlite = createSqliteDecisionStore({ path: ":memory:" });
    const wrapped = withSwitches(sqlite);
    switches = wrapped.switches;
    health = new HealthRegistry({ clock });
    recorder = createDecisionRecorder({
      store: wrapped.store,
      tracer: harness.tracer,
      metrics: harness.metrics,
      clock,
      health,
      maxToolResultChars: 100,
      flushIntervalMs: 500,
      maxBufferedEvents: 10,
    });
  });
  afterEach(async () => {
    await recorder.shutdown();
    await harness.shutdown();
  });

  const recordOne = (strategyId = "mm-btc") => {
    const session = recorder.startSession({ agent: "market_maker", strategyId, symbol: "BTC/USDT" });
    session.step("Mid 50000, spread 12 bps: wide enough to quote.");
    session.toolCall({
      name: "check_risk",
      args: { symbol: "BTC/USDT", qty: 0.01 },
      result: "r".repeat(250),
      durationMs: 2,
    });
    session.modelUsage({
      provider: "openai",
      model: "gpt-4o-mini",
      inputTokens: 1200,
      outputTokens: 300,
      costUsd: 0.0004,
    });
    session.decision({
      action: "skew_ask",
      regime: "trending_down",
      confidence: 0.7,
      approved: false,
      riskScore: 0.85,
      reason: "position limit",
    });
    session.end();
    return session;
  };

  it("stores steps, tool calls (truncated, full length kept), usage and the decision", async () => {
    const session = recordOne();
    expect(switches.writes).toBe(0); // nothing written on the caller's path
    await recorder.flush();
    const trace = await recorder.reader.getSession(session.id);
    expect(trace?.session).toMatchObject({
      id: session.id,
      agent: "market_maker",
      strategyId: "mm-btc",
      symbol: "BTC/USDT",
      status: "completed",
      inputTokens: 1200,
      outputTokens: 300,
      costUsd: 0.0004,
      eventCount: 4,
      traceId: session.traceId,
      decision: {
        action: "skew_ask",
        regime: "trending_down",
        confidence: 0.7,
        approved: false,
        riskScore: 0.85,
        symbol: "BTC/USDT",
      },
    });
    expect(trace?.events.map((e) => [e.seq, e.kind])).toEqual([
      [1, "step"],
      [2, "tool_call"],
      [3, "model_usage"],
      [4, "decision"],
    ]);
    const tool = trace?.events[1];
    expect(tool).toMatchObject({
      kind: "tool_call",
      result: "r".repeat(100),
      resultChars: 250,
      truncated: true,
    });
    expect((await recorder.reader.latestDecision("mm-btc"))?.session.id).toBe(session.id);
  });

  it("writes in the background on the flush interval", async () => {
    recorder.start();
    const session = recordOne();
    clock.advance(499);
    expect(switches.writes).toBe(0);
    clock.advance(1);
    await recorder.flush(); // waits for the timer's write
    expect(switches.writes).toBeGreaterThanOrEqual(1);
    expect((await sqlite.getSession(session.id))?.events).toHaveLength(4);
  });

  it("never throws into the caller when the store fails, keeps events and retries", async () => {
    switches.failing = true;
    const session = recordOne();
    await recorder.flush();
    expect(recorder.stats()).toMatchObject({ buffered: 4, written: 0, writeFailures: 1, dropped: 0 });
    expect(recorder.stats().lastError).toBe("decision store (fake): write failed: connection refused");
    expect(health.snapshot().components.storage).toMatchObject({
      decisions: {
        status: "degraded",
        detail: "write failed: decision store (fake): write failed: connection refused",
      },
    });
    // Beyond the buffer bound the oldest events are dropped and counted.
    recordOne("mm-eth");
    recordOne("mm-sol");
    await recorder.flush();
    expect(recorder.stats()).toMatchObject({ buffered: 10, dropped: 2 });
    switches.failing = false;
    await recorder.flush();
    expect(recorder.stats()).toMatchObject({ buffered: 0, written: 10 });
    expect(health.snapshot().components.storage).toMatchObject({ decisions: { status: "up" } });
    const first = await sqlite.getSession(session.id);
    expect(first?.session.status).toBe("completed");
    expect(first?.events.map((e) => e.seq)).toEqual([3, 4]); // 1 and 2 were dropped
  });

  it("ignores calls after end and clamps confidence and risk to 0..1", async () => {
    const session = recorder.startSession({ agent: "a", strategyId: "s", id: "my-own-id" });
    session.decision({
      action: "hold",
      regime: "volatile",
      confidence: 7,
      riskScore: Number.NaN,
      approved: true,
    });
    session.end("failed", "model timeout");
    session.step("too late");
    session.end("completed");
    expect(session.ended).toBe(true);
    await recorder.flush();
    const trace = await sqlite.getSession("my-own-id");
    expect(trace?.session).toMatchObject({
      status: "failed",
      error: "model timeout",
      decision: { confidence: 1, riskScore: 0 },
    });
    expect(trace?.events).toHaveLength(1);
    expect(() => recorder.startSession({ agent: "a", strategyId: "s", id: "has space" })).toThrow(
      'startSession: id must be 1-48 characters of A-Za-z0-9_.:- (got "has space")',
    );
  });

  it("emits a trace per session with GenAI child spans", () => {
    const session = recordOne();
    const spans = harness.spans.getFinishedSpans();
    const root = spans.find((s) => s.name === "invoke_agent market_maker")!;
    const chat = spans.find((s) => s.name === "chat gpt-4o-mini")!;
    const tool = spans.find((s) => s.name === "execute_tool check_risk")!;
    expect(root.spanContext().traceId).toBe(session.traceId);
    expect(root.parentSpanContext).toBeUndefined();
    for (const child of [chat, tool]) {
      expect(child.spanContext().traceId).toBe(session.traceId);
      expect(child.parentSpanContext?.spanId).toBe(root.spanContext().spanId);
    }
    expect(root.attributes).toMatchObject({
      "gen_ai.operation.name": "invoke_agent",
      "gen_ai.agent.name": "market_maker",
      "gen_ai.conversation.id": session.id,
      "ticktrace.strategy_id": "mm-btc",
      "ticktrace.session.status": "completed",
      "ticktrace.decision.action": "skew_ask",
      "ticktrace.decision.approved": false,
      "gen_ai.usage.input_tokens": 1200,
    });
    expect(root.events.map((e) => e.name)).toEqual(["ticktrace.step", "ticktrace.decision"]);
    expect(chat.kind).toBe(SpanKind.CLIENT);
    expect(chat.attributes).toEqual({
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": "openai",
      "gen_ai.system": "openai",
      "gen_ai.request.model": "gpt-4o-mini",
      "gen_ai.response.model": "gpt-4o-mini",
      "gen_ai.usage.input_tokens": 1200,
      "gen_ai.usage.output_tokens": 300,
      "ticktrace.llm.cost_usd": 0.0004,
    });
    expect(tool.attributes).toMatchObject({
      "gen_ai.operation.name": "execute_tool",
      "gen_ai.tool.name": "check_risk",
      "gen_ai.tool.call.arguments": '{"symbol":"BTC/USDT","qty":0.01}',
      "ticktrace.tool.result_chars": 250,
    });
    const failed = recorder.startSession({ agent: "market_maker", strategyId: "mm-btc" });
    failed.end("failed", "exchange down");
    const failedRoot = harness.spans
      .getFinishedSpans()
      .find((s) => s.spanContext().traceId === failed.traceId)!;
    expect(failedRoot.status).toEqual({ code: SpanStatusCode.ERROR, message: "exchange down" });
  });

  it("records the AI/LLM catalogue metrics", async () => {
    recordOne();
    const failed = recorder.startSession({ agent: "market_maker", strategyId: "mm-btc" });
    failed.decision({ action: "quote", regime: "ranging", confidence: 0.9, approved: true, riskScore: 0.1 });
    failed.end("failed");
    expect(await harness.points("trading_agent_sessions_total")).toEqual([
      { attributes: { agent: "market_maker", status: "completed" }, value: 1 },
      { attributes: { agent: "market_maker", status: "failed" }, value: 1 },
    ]);
    expect(await harness.points("trading_llm_requests_total")).toEqual([
      { attributes: { provider: "openai", model: "gpt-4o-mini" }, value: 1 },
    ]);
    expect(await harness.points("trading_llm_tokens_total")).toEqual([
      { attributes: { provider: "openai", model: "gpt-4o-mini", type: "input" }, value: 1200 },
      { attributes: { provider: "openai", model: "gpt-4o-mini", type: "output" }, value: 300 },
    ]);
    expect(await harness.points("trading_llm_cost_usd_total")).toEqual([
      { attributes: { provider: "openai", model: "gpt-4o-mini" }, value: 0.0004 },
    ]);
    expect(await harness.points("trading_ai_decisions_total")).toEqual([
      { attributes: { regime: "trending_down", approved: "false" }, value: 1 },
      { attributes: { regime: "ranging", approved: "true" }, value: 1 },
    ]);
    expect(await harness.points("trading_policy_validations_total")).toEqual([
      { attributes: { result: "rejected" }, value: 1 },
      { attributes: { result: "approved" }, value: 1 },
    ]);
    expect(await harness.points("trading_ai_decision_confidence_ratio")).toEqual([
      { attributes: { strategy: "mm-btc" }, value: 0.9 },
    ]);
    expect(await harness.points("trading_policy_risk_score_ratio")).toEqual([
      { attributes: { strategy: "mm-btc" }, value: 0.1 },
    ]);
  });

  it("deletes sessions past retention", async () => {
    const old = recordOne();
    await recorder.flush();
    clock.advance(31 * 86_400_000);
    const young = recordOne();
    await recorder.flush();
    expect(await recorder.runRetention()).toBe(1);
    expect(await sqlite.getSession(old.id)).toBeUndefined();
    expect(await sqlite.getSession(young.id)).toBeDefined();
  });

  it("flushes on shutdown, idempotently", async () => {
    const session = recordOne();
    const writes = sqlite.write.bind(sqlite);
    let written = 0;
    sqlite.write = (batch) => {
      written += batch.events.length;
      return writes(batch);
    };
    await Promise.all([recorder.shutdown(), recorder.shutdown()]);
    expect(written).toBe(4);
    expect(session.ended).toBe(true);
  });
});
