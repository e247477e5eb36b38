import type { DecisionSummary, SessionEvent, SessionRecord, SessionStatus } from "./types.js";

/**
 * Row mapping shared by the SQLite and PostgreSQL stores, so both keep the same columns:
 *
 * - `decision_sessions(id, agent, strategy_id, symbol, status, started_at_ms, ended_at_ms,
 *   trace_id, input_tokens, output_tokens, cost_usd, event_count, decision, error)`
 * - `session_events(session_id, seq, kind, created_at_ms, content)`, one row per event, keyed by
 *   `(session_id, seq)`; `content` is the event's own fields as JSON.
 */

export const SESSION_COLUMNS = [
  "id",
  "agent",
  "strategy_id",
  "symbol",
  "status",
  "started_at_ms",
  "ended_at_ms",
  "trace_id",
  "input_tokens",
  "output_tokens",
  "cost_usd",
  "event_count",
  "decision",
  "error",
] as const;

export const EVENT_COLUMNS = ["session_id", "seq", "kind", "created_at_ms", "content"] as const;

type SqlValue = string | number | null;

/** A session as a row, in {@link SESSION_COLUMNS} order. */
export function sessionToRow(session: SessionRecord): SqlValue[] {
  return [
    session.id,
    session.agent,
    session.strategyId,
    session.symbol ?? null,
    session.status,
    session.startedAtMs,
    session.endedAtMs ?? null,
    session.traceId ?? null,
    session.inputTokens,
    session.outputTokens,
    session.costUsd,
    session.eventCount,
    session.decision ? JSON.stringify(session.decision) : null,
    session.error ?? null,
  ];
}

/** An event as a row, in {@link EVENT_COLUMNS} order. */
export function eventToRow(event: SessionEvent): SqlValue[] {
  const { sessionId, seq, timeMs, kind, ...content } = event;
  return [sessionId, seq, kind, timeMs, JSON.stringify(content)];
}

const num = (value: unknown): number => (typeof value === "number" ? value : Number(value));
const str = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);
const json = (value: unknown): unknown => (typeof value === "string" ? JSON.parse(value) : value);

/** Reads a `decision_sessions` row (PostgreSQL gives BIGINT as strings and JSONB parsed). */
export function rowToSession(row: Record<string, unknown>): SessionRecord {
  const session: SessionRecord = {
    id: String(row.id),
    agent: String(row.agent),
    strategyId: String(row.strategy_id),
    status: String(row.status) as SessionStatus,
    startedAtMs: num(row.started_at_ms),
    inputTokens: num(row.input_tokens),
    outputTokens: num(row.output_tokens),
    costUsd: num(row.cost_usd),
    eventCount: num(row.event_count),
  };
  const symbol = str(row.symbol);
  if (symbol !== undefined) session.symbol = symbol;
  if (row.ended_at_ms !== null && row.ended_at_ms !== undefined) session.endedAtMs = num(row.ended_at_ms);
  const traceId = str(row.trace_id);
  if (traceId !== undefined) session.traceId = traceId;
  if (row.decision !== null && row.decision !== undefined)
    session.decision = json(row.decision) as DecisionSummary;
  const error = str(row.error);
  if (error !== undefined) session.error = error;
  return session;
}

/** Reads a `session_events` row. */
export function rowToEvent(row: Record<string, unknown>): SessionEvent {
  const content = json(row.content) as Record<string, unknown>;
  return {
    ...content,
    sessionId: String(row.session_id),
    seq: num(row.seq),
    timeMs: num(row.created_at_ms),
    kind: String(row.kind),
  } as SessionEvent;
}
