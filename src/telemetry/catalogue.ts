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
  /** Histogram bucket boundaries; latency histograms share `LATENCY_BUCKETS_SECONDS`. */
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
  }),
  ordersFilled: define({
    name: "trading_orders_filled_total",
    kind: "counter",
    unit: "{fill}",
    description: "Fills (trades) received, partial fills included.",
    labels: ["exchange", "symbol", "side"],
  }),
  ordersFailed: define({
    name: "trading_orders_failed_total",
    kind: "counter",
    unit: "{order}",
    description: "Orders the exchange refused or that could not be sent, by reason.",
    labels: ["exchange", "reason"],
  }),
  ordersRejected: define({
    name: "trading_orders_rejected_total",
    kind: "counter",
    unit: "{order}",
    description: "Orders stopped by the risk monitor before reaching the exchange, by reason.",
    labels: ["reason"],
  }),
  ordersCancelled: define({
    name: "trading_orders_cancelled_total",
    kind: "counter",
    unit: "{order}",
    description: "Orders cancelled.",
    labels: ["exchange", "symbol"],
  }),
  ordersActive: define({
    name: "trading_orders_active",
    kind: "updowncounter",
    unit: "{order}",
    description: "Orders resting on the exchange now.",
    labels: ["exchange", "symbol", "side"],
  }),
  orderExecutionDuration: define({
    name: "trading_order_execution_duration_seconds",
    kind: "histogram",
    unit: "s",
    description: "Time from sending an order to its final state (filled or cancelled).",
    labels: ["exchange", "symbol"],
    buckets: LATENCY_BUCKETS_SECONDS,
  }),
  volumeBase: define({
    name: "trading_volume_base_total",
    kind: "counter",
    unit: "{base}",
    description: "Traded volume in the base asset.",
    labels: ["exchange", "symbol", "side"],
  }),
  volumeQuote: define({
    name: "trading_volume_quote_total",
    kind: "counter",
    unit: "{quote}",
    description: "Traded volume in the quote asset (notional).",
    labels: ["exchange", "symbol", "side"],
  }),
  fees: define({
    name: "trading_fees_quote_total",
    kind: "counter",
    unit: "{quote}",
    description: "Fees paid, in the quote asset.",
    labels: ["exchange", "symbol"],
  }),

  // Positions and PnL
  positionSize: define({
    name: "trading_position_size",
    kind: "gauge",
    unit: "{base}",
    description: "Signed position in the base asset (negative is short).",
    labels: ["exchange", "symbol"],
  }),
  positionsOpen: define({
    name: "trading_positions_open",
    kind: "gauge",
    unit: "{position}",
    description: "Positions that are not flat.",
    labels: ["exchange"],
  }),
  pnlRealized: define({
    name: "trading_pnl_realized_usd",
    kind: "gauge",
    unit: "{USD}",
    description: "Realized PnL since start, after fees. A gauge: it goes down as well as up.",
    labels: ["symbol", "strategy"],
  }),
  pnlUnrealized: define({
    name: "trading_pnl_unrealized_usd",
    kind: "gauge",
    unit: "{USD}",
    description: "Unrealized PnL of open positions against the mark price.",
    labels: ["symbol", "strategy"],
  }),
  pnlDaily: define({
    name: "trading_pnl_daily_usd",
    kind: "gauge",
    unit: "{USD}",
    description: "Realized plus unrealized PnL since the start of the UTC day.",
    labels: ["strategy"],
  }),
  portfolioValue: define({
    name: "trading_portfolio_value_usd",
    kind: "gauge",
    unit: "{USD}",
    description: "Equity: cash plus positions at the mark.",
    labels: ["strategy"],
  }),
  exposure: define({
    name: "trading_exposure_ratio",
    kind: "gauge",
    unit: "1",
    description: "Gross position notional divided by equity.",
    labels: ["strategy"],
  }),
  positionDuration: define({
    name: "trading_position_duration_seconds",
    kind: "histogram",
    unit: "s",
    description: "How long a position stayed open, from leaving flat to returning to flat.",
    labels: ["symbol", "side"],
    buckets: DURATION_BUCKETS_SECONDS,
  }),

  // Latency
  exchangeRequestDuration: define({
    name: "trading_exchange_request_duration_seconds",
    kind: "histogram",
    unit: "s",
    description:
      "One exchange API call. Reference client: the round trip, its own rate limiter excluded; ccxt: one unified call (createOrder, fetchTicker, ...) from call to result, ccxt's rate-limit queue included.",
    labels: ["exchange", "operation", "outcome"],
    buckets: LATENCY_BUCKETS_SECONDS,
  }),
  exchangeRateLimitWait: define({
    name: "trading_exchange_ratelimit_wait_seconds",
    kind: "histogram",
    unit: "s",
    description: "Time a call waited on the client-side rate limiter (ccxt's throttler) before it was sent.",
    labels: ["exchange", "operation"],
    buckets: LATENCY_BUCKETS_SECONDS,
  }),
  exchangeHttpDuration: define({
    name: "trading_exchange_http_duration_seconds",
    kind: "histogram",
    unit: "s",
    description:
      "One HTTP attempt to the exchange (ccxt: each try of a retried call); no status_code when no answer came.",
    labels: ["exchange", "method", "status_code"],
    seed: "-",
    buckets: LATENCY_BUCKETS_SECONDS,
  }),
  exchangeErrors: define({
    name: "trading_exchange_errors_total",
    kind: "counter",
    unit: "{error}",
    description:
      "Failed exchange calls by ccxt error class (RateLimitExceeded, RequestTimeout, InvalidOrder, ...); each failed retry counts.",
    labels: ["exchange", "operation", "error_type"],
    seed: "-",
  }),
  tickToTrade: define({
    name: "trading_tick_to_trade_duration_seconds",
    kind: "histogram",
    unit: "s",
    description:
      "From market data received to the order sent (stage=sent) and to the exchange ack (stage=ack).",
    labels: ["symbol", "stage"],
    buckets: LATENCY_BUCKETS_SECONDS,
  }),
  tickDuration: define({
    name: "trading_tick_duration_seconds",
    kind: "histogram",
    unit: "s",
    description: "Duration of one orchestrator tick, all stages.",
    labels: ["strategy"],
    buckets: LATENCY_BUCKETS_SECONDS,
  }),
  ticks: define({
    name: "trading_ticks_total",
    kind: "counter",
    unit: "{tick}",
    description: "Orchestrator ticks, by outcome (ok, skipped, error).",
    labels: ["strategy", "outcome"],
  }),

  // Workers
  workerRuns: define({
    name: "trading_worker_runs_total",
    kind: "counter",
    unit: "{run}",
    description: "Worker runs, by status (ok, error).",
    labels: ["worker", "status"],
  }),
  workerErrors: define({
    name: "trading_worker_errors_total",
    kind: "counter",
    unit: "{error}",
    description: "Worker errors, by error type.",
    labels: ["worker", "error_type"],
  }),
  workerDuration: define({
    name: "trading_worker_duration_seconds",
    kind: "histogram",
    unit: "s",
    description: "Duration of one worker run.",
    labels: ["worker"],
    buckets: LATENCY_BUCKETS_SECONDS,
  }),
  heartbeat: define({
    name: "trading_heartbeat_timestamp_seconds",
    kind: "gauge",
    unit: "s",
    description: "Unix time of the last completed tick; Prometheus alerts when it stops moving.",
    labels: [],
  }),

  // Risk and connectivity
  circuitBreakerActive: define({
    name: "trading_circuit_breaker_active",
    kind: "gauge",
    // Not "1": the OTLP translation appends `_ratio` to gauges with unit "1".
    unit: "{state}",
    description: "1 while the circuit breaker holds trading stopped, else 0.",
    labels: ["breaker"],
  }),
  circuitBreakerTrips: define({
    name: "trading_circuit_breaker_trips_total",
    kind: "counter",
    unit: "{trip}",
    description: "Circuit breaker trips.",
    labels: ["breaker", "level"],
  }),
  riskLimitBreaches: define({
    name: "trading_risk_limit_breaches_total",
    kind: "counter",
    unit: "{breach}",
    description: "Risk limit breaches (position, exposure, order_rate, daily_loss).",
    labels: ["limit"],
  }),
  dailyLossLimit: define({
    name: "trading_risk_daily_loss_limit_usd",
    kind: "gauge",
    unit: "{USD}",
    description: "The configured daily loss limit, so rules can compare daily PnL against it.",
    labels: ["strategy"],
  }),
  exchangeConnected: define({
    name: "trading_exchange_connected",
    kind: "gauge",
    // Not "1": the OTLP translation appends `_ratio` to gauges with unit "1".
    unit: "{state}",
    description: "1 while the exchange connection (REST and market-data stream) is up, else 0.",
    labels: ["exchange"],
  }),
  exchangeReconnects: define({
    name: "trading_exchange_reconnects_total",
    kind: "counter",
    unit: "{reconnect}",
    description: "Reconnections to the exchange.",
    labels: ["exchange"],
  }),
  exchangeWsConnects: define({
    name: "trading_exchange_ws_connects_total",
    kind: "counter",
    unit: "{connect}",
    description: "Websocket connections opened to the exchange, the first and every reconnection.",
    labels: ["exchange"],
    seed: "-",
  }),
  exchangeWsMessages: define({
    name: "trading_exchange_ws_messages_total",
    kind: "counter",
    unit: "{message}",
    description: "Websocket messages delivered, by channel (ticker, orderbook, trade, orders, ...).",
    labels: ["exchange", "channel"],
    seed: "004 websocket messages",
  }),
  exchangeWsMessageLag: define({
    name: "trading_exchange_ws_message_lag_seconds",
    kind: "histogram",
    unit: "s",
    description: "Receive time minus the exchange's own timestamp of a websocket message, where it has one.",
    labels: ["exchange", "channel"],
    seed: "-",
    buckets: LATENCY_BUCKETS_SECONDS,
  }),
  exchangeWsLastMessageAge: define({
    name: "trading_exchange_ws_last_message_age_seconds",
    kind: "gauge",
    unit: "s",
    description:
      "Age of the last websocket message on the channel (its most silent stream), recorded about once a second.",
    labels: ["exchange", "channel"],
    seed: "-",
  }),
  exchangeRateLimitHits: define({
    name: "trading_exchange_rate_limit_hits_total",
    kind: "counter",
    unit: "{response}",
    description:
      "Rate-limit answers from the exchange: HTTP 429 and 418, and (ccxt) RateLimitExceeded and DDoSProtection errors.",
    labels: ["exchange", "operation"],
  }),

  // AI / LLM
  agentSessions: define({
    name: "trading_agent_sessions_total",
    kind: "counter",
    unit: "{session}",
    description: "Agent decision sessions, by final status.",
    labels: ["agent", "status"],
  }),
  llmRequests: define({
    name: "trading_llm_requests_total",
    kind: "counter",
    unit: "{request}",
    description: "Model calls.",
    labels: ["provider", "model"],
  }),
  llmTokens: define({
    name: "trading_llm_tokens_total",
    kind: "counter",
    unit: "{token}",
    description: "Model tokens, by type (input, output).",
    labels: ["provider", "model", "type"],
  }),
  llmCost: define({
    name: "trading_llm_cost_usd_total",
    kind: "counter",
    unit: "{USD}",
    description: "Model cost in US dollars.",
    labels: ["provider", "model"],
  }),
  aiDecisions: define({
    name: "trading_ai_decisions_total",
    kind: "counter",
    unit: "{decision}",
    description: "Agent decisions, by market regime and policy approval.",
    labels: ["regime", "approved"],
  }),
  aiDecisionConfidence: define({
    name: "trading_ai_decision_confidence_ratio",
    kind: "gauge",
    unit: "1",
    description: "Confidence of the latest decision, 0 to 1.",
    labels: ["strategy"],
  }),
  policyValidations: define({
    name: "trading_policy_validations_total",
    kind: "counter",
    unit: "{validation}",
    description: "Policy validations, by result (approved, rejected).",
    labels: ["result"],
  }),
  policyRiskScore: define({
    name: "trading_policy_risk_score_ratio",
    kind: "gauge",
    unit: "1",
    description: "Risk score of the latest policy validation, 0 to 1.",
    labels: ["strategy"],
  }),

  // The toolkit itself
  alertsRaised: define({
    name: "ticktrace_alerts_raised_total",
    kind: "counter",
    unit: "{alert}",
    description: "Alerts raised, by rule and level.",
    labels: ["rule", "level"],
  }),
  alertNotifications: define({
    name: "ticktrace_alert_notifications_total",
    kind: "counter",
    unit: "{notification}",
    description: "Delivery attempts by channel and outcome (delivered, retry, failed, dropped).",
    labels: ["channel", "outcome"],
  }),
  alertDeliveryDuration: define({
    name: "ticktrace_alert_delivery_duration_seconds",
    kind: "histogram",
    unit: "s",
    description: "From an alert being raised to a channel accepting it.",
    labels: ["channel"],
    buckets: LATENCY_BUCKETS_SECONDS,
  }),
  alertOutboxDepth: define({
    name: "ticktrace_alert_outbox_depth",
    kind: "gauge",
    unit: "{alert}",
    description: "Alerts waiting for delivery, by channel.",
    labels: ["channel"],
  }),
  alertOutboxWriteErrors: define({
    name: "ticktrace_alert_outbox_write_errors_total",
    kind: "counter",
    unit: "{error}",
    description:
      "Failed writes to the alert outbox journal (disk full, unwritable); alerts are delivered from memory meanwhile.",
    labels: [],
    seed: "-",
  }),
  monitoringEvaluations: define({
    name: "ticktrace_monitoring_evaluations_total",
    kind: "counter",
    unit: "{evaluation}",
    description: "Monitoring rule evaluations, by outcome (ok, error).",
    labels: ["outcome"],
  }),
  monitoringEvaluationDuration: define({
    name: "ticktrace_monitoring_evaluation_duration_seconds",
    kind: "histogram",
    unit: "s",
    description: "Time to evaluate every monitoring rule for one tick.",
    labels: [],
    buckets: LATENCY_BUCKETS_SECONDS,
  }),
  telemetryExportFailures: define({
    name: "ticktrace_telemetry_export_failures_total",
    kind: "counter",
    unit: "{export}",
    description: "Failed OTLP exports, by signal (traces, metrics, logs).",
    labels: ["signal"],
  }),
  tickTraceDropped: define({
    name: "ticktrace_tick_trace_dropped_total",
    kind: "counter",
    unit: "{item}",
    description:
      "Tick traces not exported by the worker tick tracer, by item: a tick that found the ring full (never delayed), or a span dropped (record full, worker queue full, failed export).",
    labels: ["item"],
    seed: "-",
  }),
} as const satisfies Record<string, MetricDefinition>;

export type MetricKey = keyof typeof METRICS;

/** The catalogue as a list, in declaration order. */
export const METRIC_DEFINITIONS: readonly MetricDefinition[] = Object.values(METRICS);

/** GC pause buckets, 0.1 ms to 1 s: scavenges sit at the low end, a full mark-compact at the top. */
export const GC_BUCKETS_SECONDS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
];

/**
 * Node.js runtime metrics: the OpenTelemetry semantic conventions' `nodejs.*`, `v8js.*` and
 * `process.memory.usage`, named as Prometheus names them once translated (dots to underscores,
 * the unit's word appended: `nodejs.eventloop.delay.p99` in seconds is
 * `nodejs_eventloop_delay_p99_seconds`), so `/metrics` and the OTLP path give the same series.
 * Attribute keys keep the conventions' dots (`v8js.gc.type` becomes the label `v8js_gc_type`).
 */
export const RUNTIME_METRICS = {
  eventLoopDelayMin: define({
    name: "nodejs_eventloop_delay_min_seconds",
    kind: "gauge",
    unit: "s",
    description:
      "Smallest event-loop delay since the previous collection (perf_hooks.monitorEventLoopDelay).",
    labels: [],
    seed: "-",
  }),
  eventLoopDelayMax: define({
    name: "nodejs_eventloop_delay_max_seconds",
    kind: "gauge",
    unit: "s",
    description: "Largest event-loop delay since the previous collection.",
    labels: [],
    seed: "-",
  }),
  eventLoopDelayMean: define({
    name: "nodejs_eventloop_delay_mean_seconds",
    kind: "gauge",
    unit: "s",
    description: "Mean event-loop delay since the previous collection.",
    labels: [],
    seed: "-",
  }),
  eventLoopDelayStddev: define({
    name: "nodejs_eventloop_delay_stddev_seconds",
    kind: "gauge",
    unit: "s",
    description: "Standard deviation of the event-loop delay since the previous collection.",
    labels: [],
    seed: "-",
  }),
  eventLoopDelayP50: define({
    name: "nodejs_eventloop_delay_p50_seconds",
    kind: "gauge",
    unit: "s",
    description: "Median event-loop delay since the previous collection.",
    labels: [],
    seed: "-",
  }),
  eventLoopDelayP90: define({
    name: "nodejs_eventloop_delay_p90_seconds",
    kind: "gauge",
    unit: "s",
    description: "90th percentile of the event-loop delay since the previous collection.",
    labels: [],
    seed: "-",
  }),
  eventLoopDelayP99: define({
    name: "nodejs_eventloop_delay_p99_seconds",
    kind: "gauge",
    unit: "s",
    description:
      "99th percentile of the event-loop delay since the previous collection; it adds straight to tick-to-trade.",
    labels: [],
    seed: "-",
  }),
  eventLoopUtilization: define({
    name: "nodejs_eventloop_utilization_ratio",
    kind: "gauge",
    unit: "1",
    description: "Share of the time since the previous collection the event loop was busy, 0 to 1.",
    labels: [],
    seed: "-",
  }),
  gcDuration: define({
    name: "v8js_gc_duration_seconds",
    kind: "histogram",
    unit: "s",
    description: "Garbage-collection pauses, by kind (v8js.gc.type: major, minor, incremental, weakcb).",
    labels: ["v8js.gc.type"],
    seed: "-",
    buckets: GC_BUCKETS_SECONDS,
  }),
  heapUsed: define({
    name: "v8js_memory_heap_used_bytes",
    kind: "gauge",
    unit: "By",
    description: "V8 heap in use, by heap space (v8js.heap.space.name).",
    labels: ["v8js.heap.space.name"],
    seed: "-",
  }),
  heapLimit: define({
    name: "v8js_memory_heap_limit_bytes",
    kind: "gauge",
    unit: "By",
    description: "V8 heap size allotted, by heap space (v8js.heap.space.name).",
    labels: ["v8js.heap.space.name"],
    seed: "-",
  }),
  processMemory: define({
    name: "process_memory_usage_bytes",
    kind: "gauge",
    unit: "By",
    description: "Resident set size of the process (RSS).",
    labels: [],
    seed: "-",
  }),
} as const satisfies Record<string, MetricDefinition>;

/** The runtime metrics as a list, in declaration order. */
export const RUNTIME_METRIC_DEFINITIONS: readonly MetricDefinition[] = Object.values(RUNTIME_METRICS);
