/**
 * Every instrument ticktrace records, named once. Names are the Prometheus series names: base
 * units in the name (`_seconds`, `_usd`, `_ratio`), `_total` on counters. Units are set so the
 * collector's OTLP-to-Prometheus translation appends nothing further (`s` for `_seconds`, `1`
 * only for `_ratio` gauges, curly-brace annotations elsewhere, which the translation drops), so a query
 * written against `/metrics` works unchanged on series that came through the collector.
 *
 * Label values must come from bounded sets (symbols, exchanges, reasons), never order ids.
 */

export type InstrumentKind = "counter" | "updowncounter" | "gauge" | "histogram";

export interface MetricDefinition {
  readonly name: string;
  readonly kind: InstrumentKind;
  readonly unit: string;
  readonly description: string;
  readonly labels: readonly string[];
  /** Which seed metric this answers (file prefix and the seed's name), for the README table. */
  readonly seed: string;
  /** Histogram bucket boundaries; latency histograms share {@link LATENCY_BUCKETS_SECONDS}. */
  readonly buckets?: readonly number[];
}

/** Resolves 50 microseconds to 10 seconds: the tick path at the low end, a slow exchange at the top. */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** Holding time of a position, 1 second to 1 day. */
export const DURATION_BUCKETS_SECONDS: readonly number[] = [1, 5, 15, 60, 300, 900, 3600, 14_400, 86_400];

const define = <const T extends MetricDefinition>(definition: T): T => definition;

export const METRICS = {
  // Orders
  ordersPlaced: define({
    name: "trading_orders_placed_total",
    kind: "counter",
    unit: "{order}",
    description: "Orders sent to the exchange and acknowledged.",
    labels: ["exchange", "symbol", "side", "type"],
    seed: "001 market_maker_orders_placed_total; 000 orders_created_total",
  }),
  ordersFilled: define({
    name: "trading_orders_filled_total",
    kind: "counter",
    unit: "{fill}",
    description: "Fills (trades) received, partial fills included.",
    labels: ["exchange", "symbol", "side"],
    seed: "001 market_maker_orders_filled_total; 000 orders_executed_total; 002 trades_total",
  }),
  ordersFailed: define({
    name: "trading_orders_failed_total",
    kind: "counter",
    unit: "{order}",
    description: "Orders the exchange refused or that could not be sent, by reason.",
    labels: ["exchange", "reason"],
    seed: "000 orders_failed_total",
  }),
  ordersRejected: define({
    name: "trading_orders_rejected_total",
    kind: "counter",
    unit: "{order}",
    description: "Orders stopped by the risk monitor before reaching the exchange, by reason.",
    labels: ["reason"],
    seed: "000 trades_rejected_total",
  }),
  ordersCancelled: define({
    name: "trading_orders_cancelled_total",
    kind: "counter",
    unit: "{order}",
    description: "Orders cancelled.",
    labels: ["exchange", "symbol"],
    seed: "-",
  }),
  ordersActive: define({
    name: "trading_orders_active",
    kind: "updowncounter",
    unit: "{order}",
    description: "Orders resting on the exchange now.",
    labels: ["exchange", "symbol", "side"],
    seed: "001 market_maker_orders_active",
  }),
  orderExecutionDuration: define({
    name: "trading_order_execution_duration_seconds",
    kind: "histogram",
    unit: "s",
    description: "Time from sending an order to its final state (filled or cancelled).",
    labels: ["exchange", "symbol"],
    seed: "000 order_execution_duration_seconds",
    buckets: LATENCY_BUCKETS_SECONDS,
  }),
  volumeBase: define({
    name: "trading_volume_base_total",
    kind: "counter",
    unit: "{base}",
    description: "Traded volume in the base asset.",
    labels: ["exchange", "symbol", "side"],
    seed: "001 market_maker_volume_total",
  }),
  volumeQuote: define({
    name: "trading_volume_quote_total",
    kind: "counter",
    unit: "{quote}",
    description: "Traded volume in the quote asset (notional).",
    labels: ["exchange", "symbol", "side"],
    seed: "-",
  }),
  fees: define({
    name: "trading_fees_quote_total",
    kind: "counter",
    unit: "{quote}",
    description: "Fees paid, in the quote asset.",
    labels: ["exchange", "symbol"],
    seed: "-",
  }),

  // Positions and PnL
  positionSize: define({
    name: "trading_position_size",
    kind: "gauge",
    unit: "{base}",
    description: "Signed position in the base asset (negative is short).",
    labels: ["exchange", "symbol"],
    seed: "001 market_maker_position_size",
  }),
  positionsOpen: define({
    name: "trading_positions_open",
    kind: "gauge",
    unit: "{position}",
    description: "Positions that are not flat.",
    labels: ["exchange"],
    seed: "000 positions_open",
  }),
  pnlRealized: define({
    name: "trading_pnl_realized_usd",
    kind: "gauge",
    unit: "{USD}",
    description: "Realized PnL since start, after fees. A gauge: it goes down as well as up.",
    labels: ["symbol", "strategy"],
    seed: "001 market_maker_pnl_realized_total; 002 pnl_realized_usdt; 000 positions_pnl_usd",
  }),
  pnlUnrealized: define({
    name: "trading_pnl_unrealized_usd",
    kind: "gauge",
    unit: "{USD}",
    description: "Unrealized PnL of open positions against the mark price.",
    labels: ["symbol", "strategy"],
    seed: "001 market_maker_pnl_unrealized",
  }),
  pnlDaily: define({
    name: "trading_pnl_daily_usd",
    kind: "gauge",
    unit: "{USD}",
    description: "Realized plus unrealized PnL since the start of the UTC day.",
    labels: ["strategy"],
    seed: "003 pnl.daily",
  }),
  portfolioValue: define({
    name: "trading_portfolio_value_usd",
    kind: "gauge",
    unit: "{USD}",
    description: "Equity: cash plus positions at the mark.",
    labels: ["strategy"],
    seed: "002 portfolio_value_usdt",
  }),
  exposure: define({
    name: "trading_exposure_ratio",
    kind: "gauge",
    unit: "1",
    description: "Gross position notional divided by equity.",
    labels: ["strategy"],
    seed: "000 user_exposure_percent",
  }),
  positionDuration: define({
    name: "trading_position_duration_seconds",
    kind: "histogram",
    unit: "s",
    description: "How long a position stayed open, from leaving flat to returning to flat.",
    labels: ["symbol", "side"],
    seed: "000 position_duration_seconds",
    buckets: DURATION_BUCKETS_SECONDS,
  }),

  // Latency
  exchangeRequestDuration: define({
    name: "trading_exchange_request_duration_seconds",
    kind: "histogram",
    unit: "s",
    description: "Round trip of one exchange API call (time waiting on our own rate limiter excluded).",
    labels: ["exchange", "operation", "outcome"],
    seed: "001 market_maker_latency_exchange_ms",
    buckets: LATENCY_BUCKETS_SECONDS,
  }),
  exchangeRateLimitWait: define({
    name: "trading_exchange_rate_limit_wait_seconds",
    kind: "histogram",
    unit: "s",
    description: "Time a call waited on the client-side rate limiter before it was sent.",
    labels: ["exchange", "operation"],
    seed: "-",
    buckets: LATENCY_BUCKETS_SECONDS,
  }),
  tickToTrade: define({
    name: "trading_tick_to_trade_duration_seconds",
    kind: "histogram",
    unit: "s",
    description:
      "From market data received to the order sent (stage=sent) and to the exchange ack (stage=ack).",
    labels: ["symbol", "stage"],
    seed: "001 market_maker_latency_tick_to_trade_ms",
    buckets: LATENCY_BUCKETS_SECONDS,
  }),
  tickDuration: define({
    name: "trading_tick_duration_seconds",
    kind: "histogram",
    unit: "s",
    description: "Duration of one orchestrator tick, all stages.",
    labels: ["strategy"],
    seed: "-",
    buckets: LATENCY_BUCKETS_SECONDS,
  }),
  ticks: define({
    name: "trading_ticks_total",
    kind: "counter",
    unit: "{tick}",
    description: "Orchestrator ticks, by outcome (ok, skipped, error).",
    labels: ["strategy", "outcome"],
    seed: "-",
  }),

  // Workers
  workerRuns: define({
    name: "trading_worker_runs_total",
    kind: "counter",
    unit: "{run}",
    description: "Worker runs, by status (ok, error).",
    labels: ["worker", "status"],
    seed: "000 worker_runs_total",
  }),
  workerErrors: define({
    name: "trading_worker_errors_total",
    kind: "counter",
    unit: "{error}",
    description: "Worker errors, by error type.",
    labels: ["worker", "error_type"],
    seed: "000 worker_errors_total",
  }),
  workerDuration: define({
    name: "trading_worker_duration_seconds",
    kind: "histogram",
    unit: "s",
    description: "Duration of one worker run.",
    labels: ["worker"],
    seed: "000 worker_duration_seconds",
    buckets: LATENCY_BUCKETS_SECONDS,
  }),
  heartbeat: define({
    name: "trading_heartbeat_timestamp_seconds",
    kind: "gauge",
    unit: "s",
    description: "Unix time of the last completed tick; Prometheus alerts when it stops moving.",
    labels: [],
    seed: "003 heartbeat.last_tick",
  }),

  // Risk and connectivity
  circuitBreakerActive: define({
    name: "trading_circuit_breaker_active",
    kind: "gauge",
    // Not "1": the OTLP translation appends `_ratio` to gauges with unit "1".
    unit: "{state}",
    description: "1 while the circuit breaker holds trading stopped, else 0.",
    labels: ["breaker"],
    seed: "002 circuit_breaker_active; 003 risk.circuit_breaker_active",
  }),
  circuitBreakerTrips: define({
    name: "trading_circuit_breaker_trips_total",
    kind: "counter",
    unit: "{trip}",
    description: "Circuit breaker trips.",
    labels: ["breaker", "level"],
    seed: "000 circuit_breakers_triggered_total",
  }),
  riskLimitBreaches: define({
    name: "trading_risk_limit_breaches_total",
    kind: "counter",
    unit: "{breach}",
    description: "Risk limit breaches (position, exposure, order_rate, daily_loss).",
    labels: ["limit"],
    seed: "003 position limits breached",
  }),
  dailyLossLimit: define({
    name: "trading_risk_daily_loss_limit_usd",
    kind: "gauge",
    unit: "{USD}",
    description: "The configured daily loss limit, so rules can compare daily PnL against it.",
    labels: ["strategy"],
    seed: "003 risk.daily_loss_pct",
  }),
  exchangeConnected: define({
    name: "trading_exchange_connected",
    kind: "gauge",
    // Not "1": the OTLP translation appends `_ratio` to gauges with unit "1".
    unit: "{state}",
    description: "1 while the exchange connection (REST and market-data stream) is up, else 0.",
    labels: ["exchange"],
    seed: "003 connectivity; 000 exchanges",
  }),
  exchangeReconnects: define({
    name: "trading_exchange_reconnects_total",
    kind: "counter",
    unit: "{reconnect}",
    description: "Reconnections to the exchange.",
    labels: ["exchange"],
    seed: "004 websocket_reconnects_total",
  }),
  exchangeRateLimitHits: define({
    name: "trading_exchange_rate_limit_hits_total",
    kind: "counter",
    unit: "{response}",
    description: "HTTP 429 answers from the exchange.",
    labels: ["exchange", "operation"],
    seed: "000 exchange API rate limit exceeded",
  }),

  // AI / LLM
  agentSessions: define({
    name: "trading_agent_sessions_total",
    kind: "counter",
    unit: "{session}",
    description: "Agent decision sessions, by final status.",
    labels: ["agent", "status"],
    seed: "000 agent_sessions_total",
  }),
  llmRequests: define({
    name: "trading_llm_requests_total",
    kind: "counter",
    unit: "{request}",
    description: "Model calls.",
    labels: ["provider", "model"],
    seed: "000 llm_requests_total",
  }),
  llmTokens: define({
    name: "trading_llm_tokens_total",
    kind: "counter",
    unit: "{token}",
    description: "Model tokens, by type (input, output).",
    labels: ["provider", "model", "type"],
    seed: "000 reasoning token usage",
  }),
  llmCost: define({
    name: "trading_llm_cost_usd_total",
    kind: "counter",
    unit: "{USD}",
    description: "Model cost in US dollars.",
    labels: ["provider", "model"],
    seed: "000 llm_cost_usd_total",
  }),
  aiDecisions: define({
    name: "trading_ai_decisions_total",
    kind: "counter",
    unit: "{decision}",
    description: "Agent decisions, by market regime and policy approval.",
    labels: ["regime", "approved"],
    seed: "002 ai_decision_total",
  }),
  aiDecisionConfidence: define({
    name: "trading_ai_decision_confidence_ratio",
    kind: "gauge",
    unit: "1",
    description: "Confidence of the latest decision, 0 to 1.",
    labels: ["strategy"],
    seed: "002 ai_decision_confidence",
  }),
  policyValidations: define({
    name: "trading_policy_validations_total",
    kind: "counter",
    unit: "{validation}",
    description: "Policy validations, by result (approved, rejected).",
    labels: ["result"],
    seed: "002 policy_validations_total",
  }),
  policyRiskScore: define({
    name: "trading_policy_risk_score_ratio",
    kind: "gauge",
    unit: "1",
    description: "Risk score of the latest policy validation, 0 to 1.",
    labels: ["strategy"],
    seed: "002 policy_risk_score",
  }),

  // The toolkit itself
  alertsRaised: define({
    name: "ticktrace_alerts_raised_total",
    kind: "counter",
    unit: "{alert}",
    description: "Alerts raised, by rule and level.",
    labels: ["rule", "level"],
    seed: "003 alerts",
  }),
  alertNotifications: define({
    name: "ticktrace_alert_notifications_total",
    kind: "counter",
    unit: "{notification}",
    description: "Delivery attempts by channel and outcome (delivered, retry, failed, dropped).",
    labels: ["channel", "outcome"],
    seed: "-",
  }),
  alertDeliveryDuration: define({
    name: "ticktrace_alert_delivery_duration_seconds",
    kind: "histogram",
    unit: "s",
    description: "From an alert being raised to a channel accepting it.",
    labels: ["channel"],
    seed: "000 exit criterion 4 (alert within 30 s)",
    buckets: LATENCY_BUCKETS_SECONDS,
  }),
  alertOutboxDepth: define({
    name: "ticktrace_alert_outbox_depth",
    kind: "gauge",
    unit: "{alert}",
    description: "Alerts waiting for delivery, by channel.",
    labels: ["channel"],
    seed: "-",
  }),
  monitoringEvaluations: define({
    name: "ticktrace_monitoring_evaluations_total",
    kind: "counter",
    unit: "{evaluation}",
    description: "Monitoring rule evaluations, by outcome (ok, error).",
    labels: ["outcome"],
    seed: "003 record_tick",
  }),
  monitoringEvaluationDuration: define({
    name: "ticktrace_monitoring_evaluation_duration_seconds",
    kind: "histogram",
    unit: "s",
    description: "Time to evaluate every monitoring rule for one tick.",
    labels: [],
    seed: "003 overhead < 50ms per tick",
    buckets: LATENCY_BUCKETS_SECONDS,
  }),
  telemetryExportFailures: define({
    name: "ticktrace_telemetry_export_failures_total",
    kind: "counter",
    unit: "{export}",
    description: "Failed OTLP exports, by signal (traces, metrics, logs).",
    labels: ["signal"],
    seed: "-",
  }),
  tickTraceDropped: define({
    name: "ticktrace_tick_trace_dropped_total",
    kind: "counter",
    unit: "{item}",
    description:
      "Tick traces not exported by the worker tick tracer, by item: a tick that found the ring full (never delayed), or a span dropped (slot full, worker queue full, failed export).",
    labels: ["item"],
    seed: "-",
  }),
} as const satisfies Record<string, MetricDefinition>;

export type MetricKey = keyof typeof METRICS;

/** The catalogue as a list, in declaration order. */
export const METRIC_DEFINITIONS: readonly MetricDefinition[] = Object.values(METRICS);
