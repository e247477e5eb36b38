import {
  context,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Span,
  type Tracer,
} from "@opentelemetry/api";
import type { TradingMetrics } from "../telemetry/metrics.js";
import { GEN_AI, GEN_AI_OPERATION, SESSION_SPAN_EVENTS, TICKTRACE_ATTR } from "./genai.js";
import type { DecisionInput, ModelUsageEvent, SessionRecord, ToolCallEvent } from "./types.js";

/** Span attribute values are capped so one long thought cannot bloat a trace. */
const MAX_ATTRIBUTE_CHARS = 1_000;

const cap = (text: string): string =>
  text.length <= MAX_ATTRIBUTE_CHARS ? text : `${text.slice(0, MAX_ATTRIBUTE_CHARS)}… (${text.length} chars)`;

/**
 * The OpenTelemetry side of a session: a root span `invoke_agent <agent>` (a new trace, linked
 * to the span that was active when the session started), `chat <model>` and
 * `execute_tool <name>` child spans, steps and the decision as span events, and the AI/LLM
 * catalogue metrics.
 */
export class SessionTelemetry {
  private readonly root: Span;

  constructor(
    private readonly tracer: Tracer,
    private readonly metrics: TradingMetrics | undefined,
    private readonly session: SessionRecord,
  ) {
    const active = trace.getActiveSpan()?.spanContext();
    this.root = tracer.startSpan(`${GEN_AI_OPERATION.invokeAgent} ${session.agent}`, {
      root: true,
      kind: SpanKind.INTERNAL,
      ...(active && trace.isSpanContextValid(active) ? { links: [{ context: active }] } : {}),
      attributes: {
        [GEN_AI.operationName]: GEN_AI_OPERATION.invokeAgent,
        [GEN_AI.agentName]: session.agent,
        [GEN_AI.conversationId]: session.id,
        [TICKTRACE_ATTR.sessionId]: session.id,
        [TICKTRACE_ATTR.strategyId]: session.strategyId,
        ...(session.symbol ? { [TICKTRACE_ATTR.symbol]: session.symbol } : {}),
      },
    });
  }

  /** The session's trace id; undefined when tracing is off (no SDK registered: an invalid context). */
  get traceId(): string | undefined {
    const spanContext = this.root.spanContext();
    return trace.isSpanContextValid(spanContext) ? spanContext.traceId : undefined;
  }

  step(seq: number, text: string): void {
    this.root.addEvent(SESSION_SPAN_EVENTS.step, {
      [TICKTRACE_ATTR.stepNumber]: seq,
      [TICKTRACE_ATTR.stepText]: cap(text),
    });
  }

  toolCall(event: ToolCallEvent): void {
    const span = this.child(
      `${GEN_AI_OPERATION.executeTool} ${event.name}`,
      SpanKind.INTERNAL,
      event.durationMs,
      {
        [GEN_AI.operationName]: GEN_AI_OPERATION.executeTool,
        [GEN_AI.toolName]: event.name,
        [GEN_AI.toolType]: "function",
        [GEN_AI.toolCallArguments]: cap(JSON.stringify(event.args)),
        [TICKTRACE_ATTR.toolResultChars]: event.resultChars,
      },
    );
    if (event.error !== undefined) {
      span.setAttribute(GEN_AI.errorType, "tool_error");
      span.setStatus({ code: SpanStatusCode.ERROR, message: cap(event.error) });
    }
    span.end();
  }

  modelUsage(event: ModelUsageEvent): void {
    const attributes: Attributes = {
      [GEN_AI.operationName]: event.operation,
      [GEN_AI.providerName]: event.provider,
      [GEN_AI.system]: event.provider,
      [GEN_AI.requestModel]: event.model,
      [GEN_AI.responseModel]: event.model,
      [GEN_AI.usageInputTokens]: event.inputTokens,
      [GEN_AI.usageOutputTokens]: event.outputTokens,
      [TICKTRACE_ATTR.costUsd]: event.costUsd,
    };
    if (event.finishReason !== undefined) attributes[GEN_AI.responseFinishReasons] = [event.finishReason];
    this.child(`${event.operation} ${event.model}`, SpanKind.CLIENT, event.durationMs, attributes).end();

    const labels = { provider: event.provider, model: event.model };
    this.metrics?.llmRequests.add(1, labels);
    this.metrics?.llmTokens.add(event.inputTokens, { ...labels, type: "input" });
    this.metrics?.llmTokens.add(event.outputTokens, { ...labels, type: "output" });
    // A free call adds 0, so the cost series exists from the first call of each model.
    if (event.costUsd >= 0) this.metrics?.llmCost.add(event.costUsd, labels);
  }

  decision(decision: DecisionInput): void {
    const attributes: Attributes = {
      [TICKTRACE_ATTR.decisionAction]: decision.action,
      [TICKTRACE_ATTR.decisionRegime]: decision.regime,
      [TICKTRACE_ATTR.decisionConfidence]: decision.confidence,
      [TICKTRACE_ATTR.decisionApproved]: decision.approved,
    };
    if (decision.riskScore !== undefined) attributes[TICKTRACE_ATTR.decisionRiskScore] = decision.riskScore;
    if (decision.reason !== undefined) attributes[TICKTRACE_ATTR.decisionReason] = cap(decision.reason);
    if (decision.symbol !== undefined) attributes[TICKTRACE_ATTR.symbol] = decision.symbol;
    this.root.addEvent(SESSION_SPAN_EVENTS.decision, attributes);
    this.root.setAttributes(attributes);

    const strategy = { strategy: this.session.strategyId };
    this.metrics?.aiDecisions.add(1, { regime: decision.regime, approved: String(decision.approved) });
    this.metrics?.aiDecisionConfidence.record(decision.confidence, strategy);
    this.metrics?.policyValidations.add(1, { result: decision.approved ? "approved" : "rejected" });
    if (decision.riskScore !== undefined) this.metrics?.policyRiskScore.record(decision.riskScore, strategy);
  }

  end(session: SessionRecord): void {
    this.root.setAttributes({
      [TICKTRACE_ATTR.sessionStatus]: session.status,
      [GEN_AI.usageInputTokens]: session.inputTokens,
      [GEN_AI.usageOutputTokens]: session.outputTokens,
    });
    if (session.status === "failed") {
      this.root.setStatus({
        code: SpanStatusCode.ERROR,
        ...(session.error ? { message: cap(session.error) } : {}),
      });
    }
    this.root.end();
    this.metrics?.agentSessions.add(1, { agent: session.agent, status: session.status });
  }

  /** A child of the root span; back-dated by `durationMs` so its length is the call's. */
  private child(name: string, kind: SpanKind, durationMs: number | undefined, attributes: Attributes): Span {
    const parent = trace.setSpan(context.active(), this.root);
    const startTime = durationMs !== undefined && durationMs >= 0 ? Date.now() - durationMs : undefined;
    return this.tracer.startSpan(
      name,
      { kind, attributes, ...(startTime !== undefined ? { startTime } : {}) },
      parent,
    );
  }
}
