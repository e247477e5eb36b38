import { z } from "zod";
import { positiveMsSchema, section } from "./common.js";

export const monitoringSection = section({
  /** Runs the monitoring service (rules on every tick, snapshots, retention) in the process. */
  enabled: z.boolean().default(true),
  /** Snapshots are written to `<snapshot_dir>/metrics_<timestamp>.json`. */
  snapshot_dir: z.string().min(1).default("data/monitoring"),
  /** How often the latest snapshot is written to disk (not every tick); the first is written as soon as one arrives. */
  snapshot_interval_ms: positiveMsSchema.default(60_000),
  /**
   * Rules are also evaluated on this interval when no tick arrives, so a stalled trading loop
   * (heartbeat) and stale artifacts are noticed without a tick to trigger them.
   */
  evaluation_interval_ms: positiveMsSchema.default(1_000),
  /**
   * A rule's alert resolves only after its condition has been clear this long, so a value
   * hovering at a threshold does not fire, resolve and page again on alternate ticks. 0 resolves
   * at the first clear evaluation.
   */
  resolve_after_ms: z.int().min(0).default(5_000),
  /** How often the artifact files in `artifacts` are stat'ed for their modification time. */
  artifact_check_interval_ms: positiveMsSchema.default(60_000),
  /**
   * How often the alert JSONL directory is read for acknowledgements written by
   * `ticktrace monitor ack` (an offline CLI), which are then applied to the running alert manager.
   */
  ack_poll_interval_ms: positiveMsSchema.default(2_000),
  retention: section({
    /** Snapshot files older than this are deleted (alert files: `alerts.jsonl.retention_days`). */
    snapshots_days: z.int().min(1).default(30),
    /** How often the background cleanup runs. */
    cleanup_interval_ms: positiveMsSchema.default(3_600_000),
  }),
  /** Model or data files whose age is watched, by name. */
  artifacts: z.record(z.string(), z.string()).default({}),
  rules: section({
    /** Circuit breaker active (`circuit_breaker_tripped`, CRITICAL). */
    circuit_breaker: section({ enabled: z.boolean().default(true) }),
    /** Daily loss beyond a threshold (`daily_loss_near_limit`). */
    daily_loss: section({
      enabled: z.boolean().default(true),
      /**
       * Percent of starting equity, e.g. 1 means alert at -1%. Keep it below the breaker's limit
       * (`trading.risk.daily_loss_limit`: 1500 of 100000 is 1.5%) so it warns before the trip.
       */
      threshold_pct: z.number().positive().default(1),
    }),
    /** A symbol beyond its position limit (`risk_limit_breached` with `limit=position`). */
    position_limits: section({ enabled: z.boolean().default(true) }),
    /** The trading loop stopped ticking, or never ticked (`heartbeat_stale`). */
    heartbeat: section({
      enabled: z.boolean().default(true),
      /** Alert when the last tick is older than this. */
      max_age_ms: positiveMsSchema.default(10_000),
    }),
    /** Exchange connection lost (`exchange_disconnected`). */
    connectivity: section({ enabled: z.boolean().default(true) }),
    /** External signal provider failures (`provider_failures_high`). */
    provider_failures: section({
      enabled: z.boolean().default(true),
      /** Alert when more failures than this happen within `window_ms`. */
      max_failures: z.int().min(1).default(5),
      /** The window failures are counted over. */
      window_ms: positiveMsSchema.default(3_600_000),
    }),
    /** Model artifacts older than allowed or missing (`artifact_stale`). */
    stale_artifacts: section({
      enabled: z.boolean().default(true),
      /** Alert when an artifact file's modification time is older than this; a missing file alerts on its own. */
      max_age_hours: z.number().positive().default(24),
    }),
    /** Order rejection rate (`order_rejection_rate_high`). */
    rejection_rate: section({
      enabled: z.boolean().default(true),
      /** Rejected / (placed + rejected) above this ratio fires. */
      threshold: z.number().min(0).max(1).default(0.1),
      /** Fewer orders than this in the window never fire (too few to judge). */
      min_orders: z.int().min(1).default(20),
      /** The window the cumulative counters are diffed over. */
      window_ms: positiveMsSchema.default(60_000),
    }),
    /** Too many open positions (`open_positions_high`). */
    open_positions: section({
      enabled: z.boolean().default(true),
      /** Alert when more positions than this are open. */
      max: z.int().min(1).default(50),
    }),
    /** LLM spend over the trailing hour (`llm_cost_spike`). */
    llm_cost: section({
      enabled: z.boolean().default(true),
      /** Alert when LLM cost over the trailing hour exceeds this (USD). */
      max_usd_per_hour: z.number().positive().default(10),
    }),
  }),
});
