import { z } from "zod";
import { positiveMsSchema, section } from "./common.js";

export const monitoringSection = section({
  enabled: z.boolean().default(true),
  /** Snapshots are written to `<snapshot_dir>/metrics_<timestamp>.json`. */
  snapshot_dir: z.string().min(1).default("data/monitoring"),
  snapshot_interval_ms: positiveMsSchema.default(60_000),
  retention: section({
    snapshots_days: z.int().min(1).default(30),
    alerts_days: z.int().min(1).default(90),
    /** How often the background cleanup runs. */
    cleanup_interval_ms: positiveMsSchema.default(3_600_000),
  }),
  /** Model or data files whose age is watched, by name. */
  artifacts: z.record(z.string(), z.string()).default({}),
  rules: section({
    circuit_breaker: section({ enabled: z.boolean().default(true) }),
    daily_loss: section({
      enabled: z.boolean().default(true),
      /** Percent of starting equity, e.g. 3 means alert at -3%. */
      threshold_pct: z.number().positive().default(3),
    }),
    position_limits: section({ enabled: z.boolean().default(true) }),
    heartbeat: section({
      enabled: z.boolean().default(true),
      max_age_ms: positiveMsSchema.default(10_000),
    }),
    connectivity: section({ enabled: z.boolean().default(true) }),
    provider_failures: section({
      enabled: z.boolean().default(true),
      max_failures: z.int().min(1).default(5),
      window_ms: positiveMsSchema.default(3_600_000),
    }),
    stale_artifacts: section({
      enabled: z.boolean().default(true),
      max_age_hours: z.number().positive().default(24),
    }),
    rejection_rate: section({
      enabled: z.boolean().default(true),
      threshold: z.number().min(0).max(1).default(0.1),
      min_orders: z.int().min(1).default(20),
    }),
    open_positions: section({
      enabled: z.boolean().default(true),
      max: z.int().min(1).default(50),
    }),
    llm_cost: section({
      enabled: z.boolean().default(true),
      max_usd_per_hour: z.number().positive().default(10),
    }),
  }),
});
