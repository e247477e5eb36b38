import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type Database from "better-sqlite3";
import { describeError, TicktraceError } from "../../errors.js";
import { requireOptional } from "../../optional.js";
import { eventToRow, sessionToRow } from "../rows.js";
import type { DecisionStore } from "../types.js";
import { createSqlReader } from "./reader.js";
import {
  DELETE_OLD_EVENTS,
  DELETE_OLD_SESSIONS,
  insertEventSql,
  schemaStatements,
  toSqlitePlaceholders,
  upsertSessionSql,
} from "./sql.js";

export interface SqliteDecisionStoreOptions {
  /** Database file (its folder is created); `:memory:` for a throwaway store. */
  path: string;
}

/**
 * The embedded store: one SQLite file in WAL mode (`decisions.sqlite_path`). Writes are
 * synchronous inside better-sqlite3 but arrive in batches from the recorder's background flush,
 * never from the trading path.
 */
export function createSqliteDecisionStore(options: SqliteDecisionStoreOptions): DecisionStore {
  // Loaded here, not on import: better-sqlite3 is an optional (native) package.
  const Sqlite = requireOptional("better-sqlite3", {
    key: "decisions.store",
    because: 'is "sqlite"',
    orElse: 'set decisions.store: "postgres" or decisions.enabled: false',
  }) as typeof Database;
  const target = `sqlite ${options.path}`;
  let db: Database.Database | undefined;
  let closed = false;

  const fail = (operation: string, error: unknown): TicktraceError =>
    new TicktraceError("IO", `decision store (${target}): ${operation} failed: ${describeError(error)}`, {
      cause: error,
    });

  const open = (): Database.Database => {
    if (db) return db;
    if (closed) throw new Error("the store is closed");
    if (options.path !== ":memory:") mkdirSync(dirname(options.path), { recursive: true });
    const opened = new Sqlite(options.path);
    try {
      opened.pragma("journal_mode = WAL");
      opened.pragma("synchronous = NORMAL");
      opened.pragma("busy_timeout = 2000");
      for (const statement of schemaStatements({ json: "TEXT", float: "REAL" })) opened.exec(statement);
    } catch (error) {
      opened.close();
      throw error;
    }
    return (db = opened);
  };

  /** Runs `fn` on the open database, turning any failure into a `TicktraceError` naming the operation. */
  const run = <T>(operation: string, fn: (database: Database.Database) => T): Promise<T> => {
    try {
      return Promise.resolve(fn(open()));
    } catch (error) {
      return Promise.reject(fail(operation, error));
    }
  };

  const reader = createSqlReader((sql, params) =>
    run(
      "read",
      (database) => database.prepare(toSqlitePlaceholders(sql)).all(...params) as Record<string, unknown>[],
    ),
  );

  return {
    kind: "sqlite",
    ...reader,
    init: () => run("init", () => undefined),
    write: (batch) =>
      run("write", (database) => {
        const upsert = database.prepare(toSqlitePlaceholders(upsertSessionSql()));
        const insert = database.prepare(toSqlitePlaceholders(insertEventSql()));
        database.transaction(() => {
          for (const session of batch.sessions) upsert.run(...sessionToRow(session));
          for (const event of batch.events) insert.run(...eventToRow(event));
        })();
      }),
    deleteOlderThan: (cutoffMs) =>
      run("retention cleanup", (database) =>
        database.transaction(() => {
          database.prepare(toSqlitePlaceholders(DELETE_OLD_EVENTS)).run(cutoffMs);
          return database.prepare(toSqlitePlaceholders(DELETE_OLD_SESSIONS)).run(cutoffMs).changes;
        })(),
      ),
    close() {
      closed = true;
      db?.close();
      db = undefined;
      return Promise.resolve();
    },
  };
}
