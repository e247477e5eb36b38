import { z } from "zod";

/**
 * What the trading process hands the monitoring service after each tick. Counters are
 * cumulative since start; rules that need a rate diff them over the history window.
 */
export const monitoringSnapshotSchema = z.object({
  timestamp: z.iso.datetime({ offset: true }),
  heartbeat: z.object({
    /** Time of the last completed tick; null before the first. */
    last_tick: z.iso.datetime({ offset: true }).nullable(),
    uptime_seconds: z.number().min(0),
  }),
  positions: z.object({
    count: z.int().min(0),
    /** Gross notional of open positions at the mark. */
    total_value: z.number(),
    symbols: z.array(z.string()),
  }),
  pnl: z.object({
    daily: z.number(),
    unrealized: z.number(),
    realized: z.number(),
  }),
  risk: z.object({
    circuit_breaker_active: z.boolean(),
    /**
     * Name of the breaker that is active, as in the `circuitBreakerTripped` event's `breaker`
     * (the alert's `breaker` label). Optional; `daily_loss` when absent.
     */
    breaker: z.string().optional(),
    /** Daily PnL as percent of starting equity (negative is a loss). */
    daily_loss_pct: z.number(),
    max_position_value: z.number().min(0),
    /** Symbols whose position is beyond its limit right now. */
    position_limit_breaches: z.array(z.string()),
    exposure_ratio: z.number().min(0),
  }),
  orders: z.object({
    placed_total: z.int().min(0),
    rejected_total: z.int().min(0),
  }),
  sentiment: z
    .object({
      last_score: z.number().nullable(),
      provider_errors_total: z.int().min(0),
      cache_hit_rate: z.number().min(0).max(1).nullable(),
    })
    .optional(),
  connectivity: z.object({
    exchange: z.string(),
    exchange_connected: z.boolean(),
    last_api_call: z.iso.datetime({ offset: true }).nullable(),
  }),
  llm: z
    .object({
      cost_usd_total: z.number().min(0),
    })
    .optional(),
});

export type MonitoringSnapshot = z.infer<typeof monitoringSnapshotSchema>;
