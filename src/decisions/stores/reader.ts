import { rowToEvent, rowToSession } from "../rows.js";
import type { DecisionReader, SessionRecord, SessionTrace } from "../types.js";
import {
  SELECT_EVENTS,
  SELECT_LATEST_BY_STRATEGY,
  SELECT_LATEST_BY_SYMBOL,
  SELECT_RECENT,
  SELECT_RECENT_BY_STRATEGY,
  SELECT_SESSION,
} from "./sql.js";

/** Runs one read statement (written with `$n` placeholders) and returns its rows. */
export type QueryFn = (
  sql: string,
  params: readonly (string | number)[],
) => Promise<Record<string, unknown>[]>;

/** The read side both stores share: the same SQL, run through each store's `query`. */
export function createSqlReader(query: QueryFn): DecisionReader {
  const withEvents = async (session: SessionRecord): Promise<SessionTrace> => {
    const rows = await query(SELECT_EVENTS, [session.id]);
    return { session, events: rows.map(rowToEvent) };
  };
  const first = async (sql: string, params: (string | number)[]): Promise<SessionTrace | undefined> => {
    const [row] = await query(sql, params);
    return row ? withEvents(rowToSession(row)) : undefined;
  };
  return {
    getSession: (id) => first(SELECT_SESSION, [id]),
    latestDecision: (strategyId) => first(SELECT_LATEST_BY_STRATEGY, [strategyId]),
    async latestDecisionsBySymbol(symbols) {
      const out = new Map<string, SessionTrace>();
      for (const symbol of new Set(symbols)) {
        const trace = await first(SELECT_LATEST_BY_SYMBOL, [symbol]);
        if (trace) out.set(symbol, trace);
      }
      return out;
    },
    async recentSessions(options = {}) {
      const limit = Math.max(1, Math.min(options.limit ?? 20, 500));
      const rows =
        options.strategyId === undefined
          ? await query(SELECT_RECENT, [limit])
          : await query(SELECT_RECENT_BY_STRATEGY, [options.strategyId, limit]);
      return rows.map(rowToSession);
    },
  };
}
