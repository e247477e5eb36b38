import { z } from "zod";
import { section } from "./common.js";

export const decisionsSection = section({
  /** Record agent decision sessions (reasoning traces) for `/reasoning` and `/last_decision`. */
  enabled: z.boolean().default(true),
  /** `sqlite` (one embedded file, the default) or `postgres` (shared by several instances). */
  store: z.enum(["sqlite", "postgres"]).default("sqlite"),
  /** The SQLite file (WAL mode); its folder is created. */
  sqlite_path: z.string().min(1).default("data/decisions.sqlite"),
  /** `postgres://user:pass@host:port/db`, required when `store` is `postgres`. */
  postgres_url: z.string().default(""),
  /** Tool results longer than this are truncated in storage; their full length is kept. */
  max_tool_result_chars: z.int().min(100).default(4_000),
  /** Sessions older than this are deleted by a background cleanup (hourly). */
  retention_days: z.int().min(1).default(30),
  /** Recorded events are buffered and written to the store this often (never on the trading path). */
  flush_interval_ms: z.int().min(10).default(1_000),
  /** Events kept in memory while the store is failing; the oldest are dropped (and counted) beyond it. */
  max_buffered_events: z.int().min(100).default(10_000),
  /** The reference strategy records a decision session at most this often per symbol. */
  record_interval_ms: z.int().min(100).default(5_000),
});
