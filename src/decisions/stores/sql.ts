import { EVENT_COLUMNS, SESSION_COLUMNS } from "../rows.js";

/**
 * SQL shared by both stores. Placeholders are written `$1, $2, ...` (PostgreSQL) and
 * rewritten to `?` for SQLite by {@link toSqlitePlaceholders}; both dialects accept the rest.
 */

/** Tables and indexes. `json` is `TEXT` in SQLite and `JSONB` in PostgreSQL; `float` likewise. */
export function schemaStatements(types: { json: string; float: string }): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS decision_sessions (
      id TEXT PRIMARY KEY,
      agent TEXT NOT NULL,
      strategy_id TEXT NOT NULL,
      symbol TEXT,
      status TEXT NOT NULL,
      started_at_ms BIGINT NOT NULL,
      ended_at_ms BIGINT,
      trace_id TEXT,
      input_tokens BIGINT NOT NULL DEFAULT 0,
      output_tokens BIGINT NOT NULL DEFAULT 0,
      cost_usd ${types.float} NOT NULL DEFAULT 0,
      event_count INTEGER NOT NULL DEFAULT 0,
      decision ${types.json},
      error TEXT
    )`,
    `CREATE TABLE IF NOT EXISTS session_events (
      session_id TEXT NOT NULL,
      seq INTEGER NOT NULL,
      kind TEXT NOT NULL,
      created_at_ms BIGINT NOT NULL,
      content ${types.json} NOT NULL,
      PRIMARY KEY (session_id, seq)
    )`,
    `CREATE INDEX IF NOT EXISTS decision_sessions_strategy ON decision_sessions (strategy_id, started_at_ms)`,
    `CREATE INDEX IF NOT EXISTS decision_sessions_symbol ON decision_sessions (symbol, started_at_ms)`,
    `CREATE INDEX IF NOT EXISTS decision_sessions_started ON decision_sessions (started_at_ms)`,
  ];
}

const placeholders = (count: number, cast: (i: number) => string = () => "") =>
  Array.from({ length: count }, (_, i) => `$${i + 1}${cast(i)}`).join(", ");

/** Upserts one session; `jsonCast` is `::jsonb` for PostgreSQL. */
export function upsertSessionSql(jsonCast = ""): string {
  const decisionIndex = SESSION_COLUMNS.indexOf("decision");
  const updates = SESSION_COLUMNS.filter((c) => c !== "id" && c !== "started_at_ms")
    .map((c) => `${c} = excluded.${c}`)
    .join(", ");
  return `INSERT INTO decision_sessions (${SESSION_COLUMNS.join(", ")})
    VALUES (${placeholders(SESSION_COLUMNS.length, (i) => (i === decisionIndex ? jsonCast : ""))})
    ON CONFLICT (id) DO UPDATE SET ${updates}`;
}

/** Appends one event; a repeated `(session_id, seq)` is ignored (a retried batch). */
export function insertEventSql(jsonCast = ""): string {
  const contentIndex = EVENT_COLUMNS.indexOf("content");
  return `INSERT INTO session_events (${EVENT_COLUMNS.join(", ")})
    VALUES (${placeholders(EVENT_COLUMNS.length, (i) => (i === contentIndex ? jsonCast : ""))})
    ON CONFLICT (session_id, seq) DO NOTHING`;
}

export const SELECT_SESSION = `SELECT * FROM decision_sessions WHERE id = $1`;
export const SELECT_EVENTS = `SELECT * FROM session_events WHERE session_id = $1 ORDER BY seq`;
export const SELECT_LATEST_BY_STRATEGY = `SELECT * FROM decision_sessions
  WHERE strategy_id = $1 AND decision IS NOT NULL ORDER BY started_at_ms DESC, id DESC LIMIT 1`;
export const SELECT_LATEST_BY_SYMBOL = `SELECT * FROM decision_sessions
  WHERE symbol = $1 AND decision IS NOT NULL ORDER BY started_at_ms DESC, id DESC LIMIT 1`;
export const SELECT_RECENT = `SELECT * FROM decision_sessions ORDER BY started_at_ms DESC, id DESC LIMIT $1`;
export const SELECT_RECENT_BY_STRATEGY = `SELECT * FROM decision_sessions
  WHERE strategy_id = $1 ORDER BY started_at_ms DESC, id DESC LIMIT $2`;
export const DELETE_OLD_EVENTS = `DELETE FROM session_events
  WHERE session_id IN (SELECT id FROM decision_sessions WHERE started_at_ms < $1)`;
export const DELETE_OLD_SESSIONS = `DELETE FROM decision_sessions WHERE started_at_ms < $1`;

/** `$1` -> `?` (the statements above use each placeholder once, in order). */
export function toSqlitePlaceholders(sql: string): string {
  return sql.replace(/\$\d+/g, "?");
}
