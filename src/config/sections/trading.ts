import { z } from "zod";
import { positiveMsSchema, section } from "./common.js";

/** Settings of the reference trading process (`npm start`). A user's own bot ignores them. */
export const tradingSection = section({
  exchange: section({
    /** Name used in metric labels and spans. */
    name: z.string().min(1).default("simex"),
    /** Where the simulator listens; 0 picks a free port. */
    port: z.int().min(0).max(65_535).default(0),
    /** Median and 99th-percentile simulated latency of a REST call (log-normal in between). */
    latency_p50_ms: z.number().min(0).default(2),
    /** See `latency_p50_ms`: the 99th percentile of the simulated REST latency. */
    latency_p99_ms: z.number().min(0).default(15),
    /** Share of REST calls the simulator answers with HTTP 500. */
    error_rate: z.number().min(0).max(1).default(0.002),
    /** Requests per second the simulator accepts before answering 429. */
    rate_limit_per_second: z.int().min(1).default(50),
    /** Fee on every fill, a fraction of its notional (a typical maker fee). */
    fee_rate: z.number().min(0).max(0.1).default(0.0002),
    /** Client-side limiter, kept under the exchange's own limit. */
    client_rate_limit_per_second: z.int().min(1).default(40),
    /** Timeout of one exchange REST call; a timeout counts as a failed call and marks the exchange degraded. */
    request_timeout_ms: positiveMsSchema.default(2_000),
    /** Random-walk step of the simulated mid per market-data update, in basis points (calm regime). */
    volatility_bps: z.number().min(0).default(1.5),
    /** Stream reconnect backoff: first wait, doubled per attempt up to the maximum. */
    reconnect_initial_ms: positiveMsSchema.default(250),
    /** Longest wait between stream reconnect attempts. */
    reconnect_max_ms: positiveMsSchema.default(5_000),
  }),
  /** Symbols the market maker quotes (also the bounded set of `symbol` label values). */
  symbols: z
    .array(z.string().regex(/^[A-Z0-9]+\/[A-Z0-9]+$/, "expected BASE/QUOTE like BTC/USDT"))
    .min(1)
    .default(["BTC/USDT", "ETH/USDT"]),
  strategy: section({
    /** Strategy id on metrics, logs, decisions and `/last_decision <strategy_id>`. */
    id: z.string().min(1).default("mm-1"),
    /**
     * How often the simulator streams market data; the orchestrator ticks once per update
     * (updates arriving during a tick are coalesced into the next one).
     */
    tick_interval_ms: positiveMsSchema.default(100),
    /** Half spread around the mid, in basis points. */
    half_spread_bps: z.number().positive().default(8),
    /** Quote size in quote currency (USDT). */
    quote_notional: z.number().positive().default(500),
    /** Skew in bps per unit of inventory as a fraction of the position limit. */
    inventory_skew_bps: z.number().min(0).default(15),
    /** A resting quote is replaced only when the wanted price moved more than this, in basis points. */
    requote_threshold_bps: z.number().min(0).default(4),
    /** After a strategy panic, the strategy stays faulted this long before it is tried again. */
    panic_cooldown_ms: positiveMsSchema.default(5_000),
  }),
  risk: section({
    /** Equity at the start of the day (quote currency); the base of daily loss % and exposure ratio. */
    starting_equity: z.number().positive().default(100_000),
    /** Circuit breaker: trading stops when the day's loss reaches this (quote currency). */
    daily_loss_limit: z.number().positive().default(1_500),
    /** Largest absolute position per symbol, in quote currency. */
    max_position_notional: z.number().positive().default(20_000),
    /** Largest gross exposure as a ratio of equity. */
    max_exposure_ratio: z.number().positive().default(0.5),
    /** Order-rate limit: orders beyond this per second are rejected by risk (`order_rate`). */
    max_orders_per_second: z.int().min(1).default(20),
  }),
  workers: section({
    /** Position monitor worker: marks positions to market and checks limits. */
    position_monitor_interval_ms: positiveMsSchema.default(1_000),
    /** Reconciliation worker: compares local open orders and balances with the exchange. */
    reconciliation_interval_ms: positiveMsSchema.default(5_000),
    /** PnL snapshot worker: publishes portfolio value and exposure. */
    pnl_snapshot_interval_ms: positiveMsSchema.default(2_000),
  }),
  /** Timing of the demo's incident scenarios (`npm start -- --scenario NAME`). */
  scenario: section({
    /** Time from start to the incident (crash, outage, 429 storm, panic, large fill, regime shift). */
    incident_after_ms: z.int().min(0).default(5_000),
    /** How long the incident lasts (outage, storm, volatile regime). */
    incident_duration_ms: positiveMsSchema.default(10_000),
    /** Off a terminal, a status log line this often. */
    status_interval_ms: positiveMsSchema.default(10_000),
  }),
});
