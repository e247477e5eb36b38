/**
 * OpenTelemetry GenAI semantic-convention names (still "development" upstream, so copied here
 * rather than imported from the incubating entry point, as the conventions recommend), plus the
 * few `ticktrace.*` attributes a decision session adds.
 */
export const GEN_AI = {
  operationName: "gen_ai.operation.name",
  providerName: "gen_ai.provider.name",
  /** Deprecated in favour of `gen_ai.provider.name`; still set because many backends read it. */
  system: "gen_ai.system",
  requestModel: "gen_ai.request.model",
  responseModel: "gen_ai.response.model",
  responseFinishReasons: "gen_ai.response.finish_reasons",
  usageInputTokens: "gen_ai.usage.input_tokens",
  usageOutputTokens: "gen_ai.usage.output_tokens",
  agentName: "gen_ai.agent.name",
  conversationId: "gen_ai.conversation.id",
  toolName: "gen_ai.tool.name",
  toolType: "gen_ai.tool.type",
  toolCallArguments: "gen_ai.tool.call.arguments",
  errorType: "error.type",
} as const;

/** Values of `gen_ai.operation.name` we emit. */
export const GEN_AI_OPERATION = {
  invokeAgent: "invoke_agent",
  chat: "chat",
  executeTool: "execute_tool",
} as const;

export const TICKTRACE_ATTR = {
  sessionId: "ticktrace.session.id",
  sessionStatus: "ticktrace.session.status",
  strategyId: "ticktrace.strategy_id",
  symbol: "ticktrace.symbol",
  costUsd: "ticktrace.llm.cost_usd",
  stepNumber: "ticktrace.step.number",
  stepText: "ticktrace.step.text",
  toolResultChars: "ticktrace.tool.result_chars",
  decisionAction: "ticktrace.decision.action",
  decisionRegime: "ticktrace.decision.regime",
  decisionConfidence: "ticktrace.decision.confidence",
  decisionApproved: "ticktrace.decision.approved",
  decisionRiskScore: "ticktrace.decision.risk_score",
  decisionReason: "ticktrace.decision.reason",
} as const;

/** Span event names. */
export const SESSION_SPAN_EVENTS = { step: "ticktrace.step", decision: "ticktrace.decision" } as const;
