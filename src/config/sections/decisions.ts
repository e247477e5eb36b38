import { z } from "zod";
import { section } from "./common.js";

export const decisionsSection = section({
  enabled: z.boolean().default(true),
  store: z.enum(["sqlite", "postgres"]).default("sqlite"),
  sqlite_path: z.string().min(1).default("data/decisions.sqlite"),
  /** `postgres://user:pass@host:port/db`, required when `store` is `postgres`. */
  postgres_url: z.string().default(""),
  /** Tool results longer than this are truncated in storage; their full length is kept. */
  max_tool_result_chars: z.int().min(100).default(4_000),
  retention_days: z.int().min(1).default(30),
  /** The reference strategy records a decision session at most this often per symbol. */
  record_interval_ms: z.int().min(100).default(5_000),
});
