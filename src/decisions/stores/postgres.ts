import type pg from "pg";
import { describeError, redact, TicktraceError } from "../../errors.js";
import { requireOptional } from "../../optional.js";
import { eventToRow, sessionToRow } from "../rows.js";
import type { DecisionStore } from "../types.js";
import { createSqlReader } from "./reader.js";
import {
  DELETE_OLD_EVENTS,
  DELETE_OLD_SESSIONS,
  insertEventSql,
  schemaStatements,
  upsertSessionSql,
} from "./sql.js";

export interface PostgresDecisionStoreOptions {
  /** `postgres://user:pass@host:port/db` (`decisions.postgres_url`). */
  url: string;
  /** Pool size; the recorder writes from one loop, so 2 is plenty. */
  maxConnections?: number;
  /** How long to wait for a connection before a call fails as unreachable. Default 5000. */
  connectTimeoutMs?: number;
  /** Called when an idle pooled connection fails (the pool replaces it). */
  onIdleError?: (error: Error) => void;
}

/** Error codes PostgreSQL or the driver use for "could not talk to the server". */
const UNREACHABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "57P01",
  "57P03",
]);

/**
 * The shared store for several instances: the `session_events` table plus
 * `decision_sessions`, in PostgreSQL through `pg`. Failures reject with `UNREACHABLE` when the
 * server could not be reached and `IO` otherwise; the password never appears in a message.
 */
export function createPostgresDecisionStore(options: PostgresDecisionStoreOptions): DecisionStore {
  const password = safePassword(options.url);
  const target = redact(`postgres ${hostOf(options.url)}`, [password]);
  // Loaded here, not on import: pg is an optional package.
  const { Pool } = requireOptional("pg", {
    key: "decisions.store",
    because: 'is "postgres"',
    orElse: 'set decisions.store: "sqlite" or decisions.enabled: false',
  }) as typeof pg;
  const pool = new Pool({
    connectionString: options.url,
    max: options.maxConnections ?? 2,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    idleTimeoutMillis: 30_000,
    allowExitOnIdle: true,
  });
  // Without a listener an idle connection's error (server restart) would crash the process.
  pool.on("error", (error) => options.onIdleError?.(error));
  let closed: Promise<void> | undefined;

  const fail = (operation: string, error: unknown): TicktraceError => {
    const code = (error as { code?: unknown }).code;
    const unreachable =
      (typeof code === "string" && UNREACHABLE_CODES.has(code)) ||
      /timeout|terminated|connect/i.test(describeError(error));
    return new TicktraceError(
      unreachable ? "UNREACHABLE" : "IO",
      redact(`decision store (${target}): ${operation} failed: ${describeError(error)}`, [password]),
      { cause: error },
    );
  };

  const run = async <T>(operation: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> => {
    if (closed)
      throw new TicktraceError("INVALID_STATE", `decision store (${target}): ${operation} after close`);
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      throw fail(operation, error);
    }
    try {
      return await fn(client);
    } catch (error) {
      throw fail(operation, error);
    } finally {
      client.release();
    }
  };

  const transaction = <T>(operation: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> =>
    run(operation, async (client) => {
      await client.query("BEGIN");
      try {
        const result = await fn(client);
        await client.query("COMMIT");
        return result;
      } catch (error) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw error;
      }
    });

  const reader = createSqlReader((sql, params) =>
    run("read", async (client) => (await client.query(sql, [...params])).rows as Record<string, unknown>[]),
  );
  const upsert = upsertSessionSql("::jsonb");
  const insert = insertEventSql("::jsonb");

  return {
    kind: "postgres",
    ...reader,
    init: () =>
      run("init", async (client) => {
        for (const statement of schemaStatements({ json: "JSONB", float: "DOUBLE PRECISION" })) {
          await client.query(statement);
        }
      }),
    write: (batch) =>
      transaction("write", async (client) => {
        for (const session of batch.sessions) await client.query(upsert, sessionToRow(session));
        for (const event of batch.events) await client.query(insert, eventToRow(event));
      }),
    deleteOlderThan: (cutoffMs) =>
      transaction("retention cleanup", async (client) => {
        await client.query(DELETE_OLD_EVENTS, [cutoffMs]);
        return (await client.query(DELETE_OLD_SESSIONS, [cutoffMs])).rowCount ?? 0;
      }),
    close() {
      closed ??= pool.end().catch(() => undefined);
      return closed;
    },
  };
}

function hostOf(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || "5432"}${parsed.pathname}`;
  } catch {
    return "<invalid url>";
  }
}

function safePassword(url: string): string | undefined {
  try {
    return decodeURIComponent(new URL(url).password) || undefined;
  } catch {
    return undefined;
  }
}
