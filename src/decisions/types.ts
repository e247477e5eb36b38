/**
 * The decision-trace model: what an agent's session looks like in storage and to the bot
 * (`/reasoning`, `/last_decision`). A session is one decision cycle of one
 * agent for one strategy: numbered thinking steps, tool calls, model usage and the decision.
 */

/** How a session ended; `running` until `end()` is called. A bounded set: it labels a metric. */
export type SessionStatus = "running" | "completed" | "failed" | "cancelled";

export const SESSION_STATUSES: readonly SessionStatus[] = ["running", "completed", "failed", "cancelled"];

/** Session ids travel in commands and button data (64 bytes max), so they stay short and plain. */
export const SESSION_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,48}$/;

/** The decision a session reached, and what the policy (risk check) said about it. */
export interface DecisionInput {
  /** What the agent decided: `quote`, `skew_bid`, `buy`, `hold`, ... */
  action: string;
  /** Market regime the agent saw: `ranging`, `trending_up`, `volatile`, ... (a metric label: keep it bounded). */
  regime: string;
  /** 0 to 1. */
  confidence: number;
  /** Whether the policy (risk check) approved the decision. */
  approved: boolean;
  /** Policy risk score, 0 to 1, when the policy computes one. */
  riskScore?: number;
  /** Instrument the decision is about; `/portfolio` finds the latest reasoning per symbol with it. */
  symbol?: string;
  /** Why the policy rejected it, or a one-line summary of why the agent chose it. */
  reason?: string;
  /** Extra facts shown with the decision (prices, sizes, limits). */
  details?: Record<string, string | number | boolean>;
}

/** One tool (function) call the agent made. */
export interface ToolCallInput {
  name: string;
  args?: Record<string, unknown>;
  /** The tool's answer; strings are kept as they are, anything else is stored as JSON. */
  result?: unknown;
  /** Set when the tool failed. */
  error?: string;
  /** How long the call took; the span is back-dated by this much. */
  durationMs?: number;
}

/** One model (LLM) call: what it used and cost. */
export interface ModelUsageInput {
  /** `openai`, `anthropic`, `gcp.gemini`, ... (`gen_ai.provider.name`). */
  provider: string;
  model: string;
  inputTokens: number;
  outputTokens: number;
  costUsd?: number;
  durationMs?: number;
  /** GenAI operation; default `chat`. */
  operation?: string;
  /** Why the model stopped (`stop`, `length`, `tool_calls`). */
  finishReason?: string;
}

/** What every event of a session carries: its session, its place in it and its time. */
export interface EventBase {
  sessionId: string;
  /** Position in the session, from 1. */
  seq: number;
  /** Epoch milliseconds. */
  timeMs: number;
}

export interface StepEvent extends EventBase {
  kind: "step";
  text: string;
}

export interface ToolCallEvent extends EventBase {
  kind: "tool_call";
  name: string;
  args: Record<string, unknown>;
  /** The result as stored: at most `maxToolResultChars` characters. */
  result: string;
  /** Length of the full result before truncation. */
  resultChars: number;
  truncated: boolean;
  error?: string;
  durationMs?: number;
}

export interface ModelUsageEvent extends EventBase {
  kind: "model_usage";
  provider: string;
  model: string;
  operation: string;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  durationMs?: number;
  finishReason?: string;
}

export interface DecisionEvent extends EventBase, DecisionInput {
  kind: "decision";
}

/** One row of `session_events`. */
export type SessionEvent = StepEvent | ToolCallEvent | ModelUsageEvent | DecisionEvent;

/** The decision as kept on the session row, for "latest decision" queries. */
export type DecisionSummary = DecisionInput;

/** One row of `decision_sessions`. */
export interface SessionRecord {
  id: string;
  agent: string;
  strategyId: string;
  /** Symbol of the session's decision (or the one given at start). */
  symbol?: string;
  status: SessionStatus;
  startedAtMs: number;
  endedAtMs?: number;
  /** Trace id of the session's root span: the session in Tempo. */
  traceId?: string;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  /** Number of events recorded. */
  eventCount: number;
  /** The last decision recorded, if any. */
  decision?: DecisionSummary;
  /** Why the session failed, when it did. */
  error?: string;
}

/** What the recorder hands to a store in one write: sessions to upsert, events to append. */
export interface DecisionBatch {
  sessions: SessionRecord[];
  events: SessionEvent[];
}

/** A session with its events, in order. */
export interface SessionTrace {
  session: SessionRecord;
  events: SessionEvent[];
}

/** The read side of a store: what the bot and the CLI query. */
export interface DecisionReader {
  /** The session and its events, or undefined for an unknown id. */
  getSession(id: string): Promise<SessionTrace | undefined>;
  /** The latest session with a decision for a strategy. */
  latestDecision(strategyId: string): Promise<SessionTrace | undefined>;
  /** The latest session with a decision for each of `symbols` (symbols without one are left out). */
  latestDecisionsBySymbol(symbols: readonly string[]): Promise<Map<string, SessionTrace>>;
  /** Newest first. */
  recentSessions(options?: { limit?: number; strategyId?: string }): Promise<SessionRecord[]>;
}

/**
 * Where sessions are kept: SQLite ({@link createSqliteDecisionStore}) by default, PostgreSQL
 * ({@link createPostgresDecisionStore}) for several instances. Methods reject with a
 * `TicktraceError` (`IO`/`UNREACHABLE`) on failure; the recorder never lets that reach its caller.
 */
export interface DecisionStore extends DecisionReader {
  readonly kind: "sqlite" | "postgres";
  /** Creates the tables (idempotent). */
  init(): Promise<void>;
  /** Upserts the sessions, then appends the events (idempotent on `(session_id, seq)`), in one transaction. */
  write(batch: DecisionBatch): Promise<void>;
  /** Deletes sessions started before `cutoffMs` and their events; returns how many sessions went. */
  deleteOlderThan(cutoffMs: number): Promise<number>;
  /** Idempotent. */
  close(): Promise<void>;
}
