/**
 * The Grafana dashboards of the ticktrace stack, as code (`@grafana/grafana-foundation-sdk`).
 * `npm run dashboards` (build-dashboards.ts) writes them to `deploy/grafana/dashboards/*.json`,
 * which Grafana provisions. This module is pure: it builds the dashboard objects and lists their
 * PromQL, so the deploy tests can compare the committed JSON and run every query against a real
 * Prometheus.
 *
 * Every metric comes from the catalogue (`src/telemetry/catalogue.ts`), so each query works on
 * the scrape path and the OTLP path alike. Variables: `service` (the `job` label, which is the
 * service name on both paths), `instance` and `symbol`.
 */
import type { Builder } from "@grafana/grafana-foundation-sdk/cog";
import * as common from "@grafana/grafana-foundation-sdk/common";
import {
  DashboardBuilder,
  DashboardCursorSync,
  DashboardLinkBuilder,
  DashboardLinkType,
  QueryVariableBuilder,
  RowBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  VariableRefresh,
  VariableSort,
  type Dashboard,
  type Panel,
} from "@grafana/grafana-foundation-sdk/dashboard";
import { PanelBuilder as GaugePanel } from "@grafana/grafana-foundation-sdk/gauge";
import { PanelBuilder as HeatmapPanel, YAxisConfigBuilder } from "@grafana/grafana-foundation-sdk/heatmap";
import { PanelBuilder as HistogramPanel } from "@grafana/grafana-foundation-sdk/histogram";
import { PanelBuilder as PieChartPanel, PieChartType } from "@grafana/grafana-foundation-sdk/piechart";
import { DataqueryBuilder as PromQuery, PromQueryFormat } from "@grafana/grafana-foundation-sdk/prometheus";
import { PanelBuilder as StatPanel } from "@grafana/grafana-foundation-sdk/stat";
import { PanelBuilder as StateTimelinePanel } from "@grafana/grafana-foundation-sdk/statetimeline";
import { PanelBuilder as TablePanel } from "@grafana/grafana-foundation-sdk/table";
import { DataqueryBuilder as TempoQuery } from "@grafana/grafana-foundation-sdk/tempo";
import { PanelBuilder as TimeseriesPanel } from "@grafana/grafana-foundation-sdk/timeseries";

/** Datasource UIDs fixed by `deploy/grafana/provisioning/datasources/datasources.yaml`. */
export const PROMETHEUS = { type: "prometheus", uid: "prometheus" } as const;
export const TEMPO = { type: "tempo", uid: "tempo" } as const;

/** One generated dashboard and the file it is written to (relative to `deploy/grafana/dashboards`). */
export interface DashboardFile {
  readonly file: string;
  readonly dashboard: Dashboard;
}

/** A PromQL expression found in a dashboard, with where it sits (for test messages). */
export interface DashboardExpression {
  readonly dashboard: string;
  readonly panel: string;
  readonly expr: string;
}

/** Label matchers every trading query carries, bound to the dashboard variables. */
const SEL = 'job=~"$service", instance=~"$instance"';
const SEL_SYMBOL = `${SEL}, symbol=~"$symbol"`;
const RATE = "$__rate_interval";

/** `{...}` selector text for a metric with the common matchers and extra ones. */
function sel(metric: string, extra = "", symbol = false): string {
  const base = symbol ? SEL_SYMBOL : SEL;
  return `${metric}{${extra === "" ? base : `${base}, ${extra}`}}`;
}

function prom(expr: string, legend?: string): PromQuery {
  const query = new PromQuery().expr(expr).datasource(PROMETHEUS);
  return legend === undefined ? query : query.legendFormat(legend);
}

/** `histogram_quantile(q, sum by (labels, le) (rate(<metric>_bucket{...}[rate])))`. */
function quantile(q: number, metric: string, by: string, extra = "", symbol = false): string {
  const labels = by === "" ? "le" : `${by}, le`;
  return `histogram_quantile(${q}, sum by (${labels}) (rate(${sel(`${metric}_bucket`, extra, symbol)}[${RATE}])))`;
}

/** `sum by (labels) (rate(<counter>{...}[rate])) * 60`: events per minute. */
function perMinute(counter: string, by: string, extra = "", symbol = false): string {
  return `sum by (${by}) (rate(${sel(counter, extra, symbol)}[${RATE}])) * 60`;
}

function legend(show = true): common.VizLegendOptionsBuilder {
  return new common.VizLegendOptionsBuilder()
    .showLegend(show)
    .displayMode(common.LegendDisplayMode.List)
    .placement(common.LegendPlacement.Bottom);
}

function thresholds(steps: [string, number | null][]): ThresholdsConfigBuilder {
  return new ThresholdsConfigBuilder()
    .mode(ThresholdsMode.Absolute)
    .steps(steps.map(([color, value]) => ({ color, value })));
}

function lastValue(): common.ReduceDataOptionsBuilder {
  return new common.ReduceDataOptionsBuilder().calcs(["lastNotNull"]).values(false);
}

interface PanelOptions {
  title: string;
  description: string;
  unit?: string;
  width?: number;
  height?: number;
}

function timeseries(options: PanelOptions, ...targets: PromQuery[]): TimeseriesPanel {
  const panel = new TimeseriesPanel()
    .title(options.title)
    .description(options.description)
    .datasource(PROMETHEUS)
    .legend(legend())
    .fillOpacity(10)
    .span(options.width ?? 12)
    .height(options.height ?? 8);
  if (options.unit !== undefined) panel.unit(options.unit);
  for (const target of targets) panel.withTarget(target);
  return panel;
}

function stat(
  options: PanelOptions & { thresholds?: ThresholdsConfigBuilder },
  ...targets: PromQuery[]
): StatPanel {
  const panel = new StatPanel()
    .title(options.title)
    .description(options.description)
    .datasource(PROMETHEUS)
    .reduceOptions(lastValue())
    .graphMode(common.BigValueGraphMode.Area)
    .colorMode(common.BigValueColorMode.Background)
    .span(options.width ?? 6)
    .height(options.height ?? 5);
  if (options.unit !== undefined) panel.unit(options.unit);
  if (options.thresholds !== undefined) panel.thresholds(options.thresholds);
  for (const target of targets) panel.withTarget(target);
  return panel;
}

/** A latency heatmap over a histogram's buckets; exemplars on, so a dot opens its trace. */
function heatmap(options: PanelOptions, histogram: string, extra = "", symbol = false): HeatmapPanel {
  const expr = `sum by (le) (rate(${sel(`${histogram}_bucket`, extra, symbol)}[${RATE}]))`;
  return new HeatmapPanel()
    .title(options.title)
    .description(options.description)
    .datasource(PROMETHEUS)
    .calculate(false)
    .yAxis(new YAxisConfigBuilder().unit("s"))
    .span(options.width ?? 12)
    .height(options.height ?? 9)
    .withTarget(prom(expr, "{{le}}").format(PromQueryFormat.Heatmap).exemplar(true));
}

/** Quantiles of a histogram in seconds, one line per quantile and `by` label set. */
function quantiles(
  options: PanelOptions,
  histogram: string,
  by: string,
  qs: readonly number[],
  symbol = false,
): TimeseriesPanel {
  const labels =
    by === ""
      ? ""
      : by
          .split(", ")
          .map((l) => `{{${l}}}`)
          .join(" ");
  const legendFor = (q: number) =>
    qs.length === 1 && labels !== "" ? labels : `p${q * 100} ${labels}`.trim();
  return timeseries(
    { unit: "s", ...options },
    ...qs.map((q) => prom(quantile(q, histogram, by, "", symbol), legendFor(q))),
  );
}

function variables(): QueryVariableBuilder[] {
  const variable = (name: string, label: string, query: string) =>
    new QueryVariableBuilder(name)
      .label(label)
      .datasource(PROMETHEUS)
      .query(query)
      .definition(query)
      .refresh(VariableRefresh.OnTimeRangeChanged)
      .sort(VariableSort.AlphabeticalAsc)
      .multi(true)
      .includeAll(true)
      .allValue(".*")
      .current({ text: "All", value: "$__all" });
  return [
    variable("service", "Service", "label_values(trading_heartbeat_timestamp_seconds, job)"),
    variable(
      "instance",
      "Instance",
      'label_values(trading_heartbeat_timestamp_seconds{job=~"$service"}, instance)',
    ),
    variable("symbol", "Symbol", 'label_values(trading_orders_placed_total{job=~"$service"}, symbol)'),
  ];
}

function dashboard(uid: string, title: string, description: string): DashboardBuilder {
  const builder = new DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags(["ticktrace"])
    .refresh("10s")
    .time({ from: "now-30m", to: "now" })
    .timezone("browser")
    .tooltip(DashboardCursorSync.Crosshair)
    .readonly()
    .link(
      new DashboardLinkBuilder("ticktrace dashboards")
        .type(DashboardLinkType.Dashboards)
        .tags(["ticktrace"])
        .asDropdown(true)
        .includeVars(true)
        .keepTime(true),
    );
  for (const variable of variables()) builder.withVariable(variable);
  return builder;
}

function add(builder: DashboardBuilder, rows: [string, Builder<Panel>[]][]): Dashboard {
  for (const [title, panels] of rows) {
    builder.withRow(new RowBuilder(title));
    for (const panel of panels) builder.withPanel(panel);
  }
  return builder.build();
}

/** Trading overview: order flow, success rate, positions, PnL. */
function tradingOverview(): Dashboard {
  const placed = `sum(rate(${sel("trading_orders_placed_total")}[5m]))`;
  const failed = `(sum(rate(${sel("trading_orders_failed_total")}[5m])) or vector(0))`;
  return add(
    dashboard(
      "ticktrace-trading",
      "ticktrace / Trading overview",
      "Live order flow, fills, positions and PnL.",
    ),
    [
      [
        "Orders",
        [
          timeseries(
            {
              title: "Orders per minute",
              description: "Orders acknowledged by the exchange, per minute, by symbol and side.",
              unit: "short",
            },
            prom(perMinute("trading_orders_placed_total", "symbol, side", "", true), "{{symbol}} {{side}}"),
          ),
          timeseries(
            {
              title: "Fills per minute",
              description: "Fills received (partial fills included), per minute.",
              unit: "short",
            },
            prom(perMinute("trading_orders_filled_total", "symbol, side", "", true), "{{symbol}} {{side}}"),
          ),
          new GaugePanel()
            .title("Order success rate")
            .description("Acknowledged orders / (acknowledged + failed at the exchange), last 5 minutes.")
            .datasource(PROMETHEUS)
            .unit("percentunit")
            .min(0)
            .max(1)
            .reduceOptions(lastValue())
            .thresholds(
              thresholds([
                ["red", null],
                ["orange", 0.9],
                ["green", 0.97],
              ]),
            )
            .span(6)
            .height(8)
            .withTarget(prom(`${placed} / (${placed} + ${failed})`, "success rate")),
          timeseries(
            {
              title: "Failed and rejected orders",
              description: "Failed at the exchange (by reason) and stopped by risk (by reason), per minute.",
              unit: "short",
              width: 18,
            },
            prom(perMinute("trading_orders_failed_total", "reason"), "failed: {{reason}}"),
            prom(perMinute("trading_orders_rejected_total", "reason"), "rejected: {{reason}}"),
          ),
          timeseries(
            { title: "Resting orders", description: "Orders resting on the exchange now.", unit: "short" },
            prom(`sum by (symbol, side) (${sel("trading_orders_active", "", true)})`, "{{symbol}} {{side}}"),
          ),
          timeseries(
            {
              title: "Traded volume (quote) per minute",
              description: "Notional traded per minute, in the quote asset.",
              unit: "short",
            },
            prom(perMinute("trading_volume_quote_total", "symbol", "", true), "{{symbol}}"),
          ),
        ],
      ],
      [
        "Positions and PnL",
        [
          new TablePanel()
            .title("Open positions")
            .description("Signed position in the base asset by exchange and symbol (negative is short).")
            .datasource(PROMETHEUS)
            .span(12)
            .height(8)
            .withTarget(
              prom(`sum by (exchange, symbol) (${sel("trading_position_size", "", true)})`)
                .format(PromQueryFormat.Table)
                .instant(),
            ),
          timeseries(
            {
              title: "Total PnL",
              description: "Realized (after fees) and unrealized PnL by strategy, USD.",
              unit: "currencyUSD",
            },
            prom(`sum by (strategy) (${sel("trading_pnl_realized_usd", "", true)})`, "realized {{strategy}}"),
            prom(
              `sum by (strategy) (${sel("trading_pnl_unrealized_usd", "", true)})`,
              "unrealized {{strategy}}",
            ),
            prom(`sum by (strategy) (${sel("trading_pnl_daily_usd")})`, "today {{strategy}}"),
          ),
          timeseries(
            {
              title: "Portfolio value",
              description: "Equity: cash plus positions at the mark, USD.",
              unit: "currencyUSD",
            },
            prom(`sum by (strategy) (${sel("trading_portfolio_value_usd")})`, "{{strategy}}"),
          ),
          timeseries(
            {
              title: "Fees per hour",
              description: "Fees paid, in the quote asset, per hour.",
              unit: "short",
            },
            prom(
              `sum by (symbol) (rate(${sel("trading_fees_quote_total", "", true)}[${RATE}])) * 3600`,
              "{{symbol}}",
            ),
          ),
        ],
      ],
    ],
  );
}

/** System health: process, loop, workers, connectivity, API latency. */
function systemHealth(): Dashboard {
  return add(
    dashboard(
      "ticktrace-system",
      "ticktrace / System health",
      "Is the bot alive, ticking, connected, and are its workers running?",
    ),
    [
      [
        "Liveness",
        [
          stat(
            {
              title: "Scrape up",
              description:
                "1 when Prometheus scrapes the process (TradingProcessDown fires after a minute at 0).",
              thresholds: thresholds([
                ["red", null],
                ["green", 1],
              ]),
            },
            prom(`up{${SEL}}`, "{{instance}}"),
          ),
          stat(
            {
              title: "Last tick age",
              description:
                "Seconds since the trading loop last completed a tick (HeartbeatStale fires above 30 s).",
              unit: "s",
              thresholds: thresholds([
                ["green", null],
                ["orange", 10],
                ["red", 30],
              ]),
            },
            prom(`time() - ${sel("trading_heartbeat_timestamp_seconds")}`, "{{instance}}"),
          ),
          stat(
            {
              title: "Ticks per second",
              description: "Orchestrator ticks per second, all outcomes.",
              unit: "short",
            },
            prom(`sum(rate(${sel("trading_ticks_total")}[${RATE}]))`, "ticks/s"),
          ),
          stat(
            {
              title: "Telemetry export failures",
              description: "Failed OTLP exports in the selected range, by signal.",
              thresholds: thresholds([
                ["green", null],
                ["red", 1],
              ]),
            },
            prom(
              `sum by (signal) (increase(${sel("ticktrace_telemetry_export_failures_total")}[$__range]))`,
              "{{signal}}",
            ),
          ),
          timeseries(
            {
              title: "Ticks by outcome",
              description: "Ticks per second by outcome (ok, skipped, error).",
              unit: "short",
            },
            prom(`sum by (outcome) (rate(${sel("trading_ticks_total")}[${RATE}]))`, "{{outcome}}"),
          ),
          quantiles(
            {
              title: "Tick duration p99",
              description: "99th percentile of one orchestrator tick, all stages.",
            },
            "trading_tick_duration_seconds",
            "strategy",
            [0.99],
          ),
        ],
      ],
      [
        "Workers",
        [
          new StateTimelinePanel()
            .title("Worker status")
            .description("Runs per minute by worker and status; a gap means the worker stopped running.")
            .datasource(PROMETHEUS)
            .span(12)
            .height(8)
            .withTarget(
              prom(perMinute("trading_worker_runs_total", "worker, status"), "{{worker}} {{status}}"),
            ),
          timeseries(
            {
              title: "Worker errors",
              description: "Worker errors per minute by worker and error type.",
              unit: "short",
            },
            prom(perMinute("trading_worker_errors_total", "worker, error_type"), "{{worker}} {{error_type}}"),
          ),
          quantiles(
            {
              title: "Worker duration p95",
              description: "95th percentile duration of one worker run.",
              width: 24,
            },
            "trading_worker_duration_seconds",
            "worker",
            [0.95],
          ),
        ],
      ],
      [
        "Exchange connectivity",
        [
          new StateTimelinePanel()
            .title("Exchange connected")
            .description(
              "1 while REST and the market-data stream are up (ExchangeDisconnected fires after 30 s at 0).",
            )
            .datasource(PROMETHEUS)
            .span(12)
            .height(6)
            .withTarget(prom(`max by (exchange) (${sel("trading_exchange_connected")})`, "{{exchange}}")),
          timeseries(
            {
              title: "Reconnects and 429s",
              description: "Reconnections and HTTP 429 answers per minute, by exchange.",
              unit: "short",
              height: 6,
            },
            prom(perMinute("trading_exchange_reconnects_total", "exchange"), "reconnects {{exchange}}"),
            prom(perMinute("trading_exchange_rate_limit_hits_total", "exchange"), "429 {{exchange}}"),
          ),
          heatmap(
            {
              title: "Exchange API latency",
              description: "Round trip of every exchange call, as a heatmap over the histogram buckets.",
              width: 24,
            },
            "trading_exchange_request_duration_seconds",
          ),
          timeseries(
            {
              title: "Exchange errors by type",
              description:
                "Failed exchange calls per minute by ccxt error class (RateLimitExceeded, RequestTimeout, InvalidOrder, ...); retries count.",
              unit: "short",
            },
            prom(
              perMinute("trading_exchange_errors_total", "exchange, error_type"),
              "{{exchange}} {{error_type}}",
            ),
          ),
          timeseries(
            {
              title: "Websocket: last message age",
              description:
                "Seconds since the last websocket message, by exchange and channel (telemetry.ccxt.ws_silence_ms marks it down).",
              unit: "s",
            },
            prom(
              `max by (exchange, channel) (${sel("trading_exchange_ws_last_message_age_seconds")})`,
              "{{exchange}} {{channel}}",
            ),
          ),
        ],
      ],
      [
        "Node.js runtime",
        [
          timeseries(
            {
              title: "Event-loop delay",
              description:
                "How late the event loop ran timers, per collection window: it adds straight to tick-to-trade (EventLoopDelayHigh fires at p99 > 100 ms for 5 minutes).",
              unit: "s",
            },
            prom(`max by (instance) (${sel("nodejs_eventloop_delay_p50_seconds")})`, "p50 {{instance}}"),
            prom(`max by (instance) (${sel("nodejs_eventloop_delay_p99_seconds")})`, "p99 {{instance}}"),
            prom(`max by (instance) (${sel("nodejs_eventloop_delay_max_seconds")})`, "max {{instance}}"),
          ),
          timeseries(
            {
              title: "Event-loop utilization",
              description: "Share of the time the event loop was busy; near 1 the process is CPU-bound.",
              unit: "percentunit",
            },
            prom(`max by (instance) (${sel("nodejs_eventloop_utilization_ratio")})`, "{{instance}}"),
          ),
          timeseries(
            {
              title: "GC pauses",
              description: "Share of wall time spent in garbage-collection pauses, by kind.",
              unit: "percentunit",
            },
            prom(
              `sum by (v8js_gc_type) (rate(${sel("v8js_gc_duration_seconds_sum")}[${RATE}]))`,
              "{{v8js_gc_type}}",
            ),
          ),
          timeseries(
            {
              title: "Heap and RSS",
              description: "V8 heap in use and allotted (all spaces), and the resident set size.",
              unit: "bytes",
            },
            prom(`sum by (instance) (${sel("v8js_memory_heap_used_bytes")})`, "heap used {{instance}}"),
            prom(`sum by (instance) (${sel("v8js_memory_heap_limit_bytes")})`, "heap size {{instance}}"),
            prom(`max by (instance) (${sel("process_memory_usage_bytes")})`, "RSS {{instance}}"),
          ),
        ],
      ],
      [
        "Monitoring service",
        [
          timeseries(
            {
              title: "Rule evaluations",
              description: "Monitoring rule evaluations per second, by outcome.",
              unit: "short",
            },
            prom(
              `sum by (outcome) (rate(${sel("ticktrace_monitoring_evaluations_total")}[${RATE}]))`,
              "{{outcome}}",
            ),
          ),
          quantiles(
            {
              title: "Rule evaluation p99",
              description:
                "99th percentile time to evaluate every monitoring rule for one tick (budget: 50 ms).",
            },
            "ticktrace_monitoring_evaluation_duration_seconds",
            "",
            [0.99],
          ),
        ],
      ],
    ],
  );
}

/** Risk & limits: breakers, rejections, exposure, limits, model spend. */
function riskAndLimits(): Dashboard {
  return add(
    dashboard(
      "ticktrace-risk",
      "ticktrace / Risk & limits",
      "Circuit breakers, rejections, exposure and the daily loss limit.",
    ),
    [
      [
        "Circuit breaker",
        [
          stat(
            {
              title: "Circuit breaker",
              description: "1 while a breaker holds trading stopped (CircuitBreakerTripped).",
              thresholds: thresholds([
                ["green", null],
                ["red", 1],
              ]),
            },
            prom(`max by (breaker) (${sel("trading_circuit_breaker_active")})`, "{{breaker}}"),
          ),
          stat(
            {
              title: "Breaker trips",
              description: "Circuit breaker trips in the selected range, by breaker and level.",
              unit: "short",
            },
            prom(
              `sum by (breaker, level) (increase(${sel("trading_circuit_breaker_trips_total")}[$__range]))`,
              "{{breaker}} {{level}}",
            ),
          ),
          new GaugePanel()
            .title("Daily loss / limit")
            .description(
              "Loss since the start of the UTC day as a share of the daily loss limit (DailyLossNearLimit at 80%, breaker at 100%).",
            )
            .datasource(PROMETHEUS)
            .unit("percentunit")
            .min(0)
            .max(1)
            .reduceOptions(lastValue())
            .thresholds(
              thresholds([
                ["green", null],
                ["orange", 0.8],
                ["red", 1],
              ]),
            )
            .span(12)
            .height(5)
            .withTarget(
              prom(
                `-${sel("trading_pnl_daily_usd")} / ${sel("trading_risk_daily_loss_limit_usd")}`,
                "{{strategy}}",
              ),
            ),
        ],
      ],
      [
        "Rejections and limits",
        [
          new PieChartPanel()
            .title("Rejected trades by reason")
            .description("Orders the risk monitor stopped before the exchange, in the selected range.")
            .datasource(PROMETHEUS)
            .pieType(PieChartType.Donut)
            .reduceOptions(lastValue())
            .span(8)
            .height(8)
            .withTarget(
              prom(
                `sum by (reason) (increase(${sel("trading_orders_rejected_total")}[$__range]))`,
                "{{reason}}",
              ).instant(),
            ),
          timeseries(
            {
              title: "Risk limit breaches",
              description: "Breaches per minute by limit (position, exposure, order_rate, daily_loss).",
              unit: "short",
              width: 16,
            },
            prom(perMinute("trading_risk_limit_breaches_total", "limit"), "{{limit}}"),
          ),
          new HistogramPanel()
            .title("Exposure distribution")
            .description(
              "Distribution of gross exposure (position notional / equity) samples over the range, all strategies.",
            )
            .datasource(PROMETHEUS)
            .unit("percentunit")
            .span(12)
            .height(8)
            .withTarget(prom(sel("trading_exposure_ratio"), "{{strategy}}")),
          timeseries(
            {
              title: "Position size",
              description: "Signed position in the base asset, by symbol.",
              unit: "short",
            },
            prom(`sum by (symbol) (${sel("trading_position_size", "", true)})`, "{{symbol}}"),
          ),
        ],
      ],
      [
        "AI decisions and model spend",
        [
          timeseries(
            {
              title: "LLM cost per hour",
              description: "Model spend over the trailing hour, USD (LlmCostSpike above 10).",
              unit: "currencyUSD",
            },
            prom(
              `sum by (provider, model) (increase(${sel("trading_llm_cost_usd_total")}[1h]))`,
              "{{provider}} {{model}}",
            ),
          ),
          timeseries(
            {
              title: "Policy risk score and decision confidence",
              description: "Latest policy risk score and AI decision confidence, 0 to 1.",
              unit: "percentunit",
            },
            prom(`max by (strategy) (${sel("trading_policy_risk_score_ratio")})`, "risk score {{strategy}}"),
            prom(
              `max by (strategy) (${sel("trading_ai_decision_confidence_ratio")})`,
              "confidence {{strategy}}",
            ),
          ),
        ],
      ],
    ],
  );
}

/** Tick-to-trade and exchange latency: heatmaps, quantiles by exchange and operation, slow ticks. */
function latency(): Dashboard {
  return add(
    dashboard(
      "ticktrace-latency",
      "ticktrace / Latency",
      "Tick-to-trade and exchange latency; from a slow tick to its trace and logs.",
    ),
    [
      [
        "Tick to trade",
        [
          heatmap(
            {
              title: "Tick-to-trade (order sent)",
              description: "Market data received to order sent, every tick.",
            },
            "trading_tick_to_trade_duration_seconds",
            'stage="sent"',
            true,
          ),
          heatmap(
            {
              title: "Tick-to-trade (exchange ack)",
              description: "Market data received to the exchange's acknowledgement.",
            },
            "trading_tick_to_trade_duration_seconds",
            'stage="ack"',
            true,
          ),
          quantiles(
            {
              title: "Tick-to-trade quantiles",
              description: "p50 and p99 by symbol and stage (TickToTradeLatencyHigh: p99 above 100 ms).",
              width: 24,
            },
            "trading_tick_to_trade_duration_seconds",
            "symbol, stage",
            [0.5, 0.99],
            true,
          ),
        ],
      ],
      [
        "Exchange",
        [
          heatmap(
            {
              title: "Exchange request latency",
              description: "Every exchange call's round trip (own rate-limiter wait excluded).",
            },
            "trading_exchange_request_duration_seconds",
          ),
          quantiles(
            {
              title: "Exchange p99 by exchange and operation",
              description: "ExchangeLatencyHigh fires above 250 ms for five minutes.",
            },
            "trading_exchange_request_duration_seconds",
            "exchange, operation",
            [0.99],
          ),
          quantiles(
            {
              title: "Exchange p50 by exchange and operation",
              description: "Median round trip of exchange calls.",
            },
            "trading_exchange_request_duration_seconds",
            "exchange, operation",
            [0.5],
          ),
          quantiles(
            {
              title: "Rate-limiter wait p99",
              description: "Time calls waited on the client-side rate limiter before being sent.",
            },
            "trading_exchange_ratelimit_wait_seconds",
            "exchange, operation",
            [0.99],
          ),
          quantiles(
            {
              title: "Order execution p50 / p99",
              description: "From sending an order to its final state (filled or cancelled).",
              width: 24,
            },
            "trading_order_execution_duration_seconds",
            "exchange, symbol",
            [0.5, 0.99],
            true,
          ),
        ],
      ],
      [
        "Slow ticks",
        [
          new TablePanel()
            .title("Slowest traces (Tempo)")
            .description(
              "Ticks (root span `tick`) longer than 50 ms; click a trace id to open it, then 'Logs for this span' for its log lines.",
            )
            .datasource(TEMPO)
            .span(24)
            .height(9)
            .withTarget(
              new TempoQuery()
                .datasource(TEMPO)
                .queryType("traceql")
                .query('{ resource.service.name =~ "$service" && name = "tick" && duration > 50ms }')
                .limit(20),
            ),
        ],
      ],
    ],
  );
}

/** The alert module: raised, delivered, failing, waiting. */
function alerts(): Dashboard {
  return add(
    dashboard(
      "ticktrace-alerts",
      "ticktrace / Alerts",
      "Alerts raised by the process, their delivery per channel, and the outbox.",
    ),
    [
      [
        "Raised",
        [
          timeseries(
            {
              title: "Alerts raised",
              description: "Alerts raised per minute by rule and level.",
              unit: "short",
            },
            prom(perMinute("ticktrace_alerts_raised_total", "rule, level"), "{{rule}} {{level}}"),
          ),
          new TablePanel()
            .title("Firing in Prometheus")
            .description("Prometheus-evaluated alerts firing now (deploy/prometheus/rules).")
            .datasource(PROMETHEUS)
            .span(12)
            .height(8)
            .withTarget(prom(`ALERTS{alertstate="firing", ${SEL}}`).format(PromQueryFormat.Table).instant()),
        ],
      ],
      [
        "Delivery",
        [
          timeseries(
            {
              title: "Notifications by outcome",
              description:
                "Delivery attempts per minute by channel and outcome (delivered, retry, failed, dropped).",
              unit: "short",
            },
            prom(
              perMinute("ticktrace_alert_notifications_total", "channel, outcome"),
              "{{channel}} {{outcome}}",
            ),
          ),
          stat(
            {
              title: "Failed notifications",
              description: "Failed deliveries in the selected range, by channel (AlertDeliveryFailing).",
              width: 12,
              thresholds: thresholds([
                ["green", null],
                ["red", 1],
              ]),
            },
            prom(
              `sum by (channel) (increase(${sel("ticktrace_alert_notifications_total", 'outcome="failed"')}[$__range]))`,
              "{{channel}}",
            ),
          ),
          timeseries(
            { title: "Outbox depth", description: "Alerts waiting for delivery, by channel.", unit: "short" },
            prom(`sum by (channel) (${sel("ticktrace_alert_outbox_depth")})`, "{{channel}}"),
          ),
          quantiles(
            {
              title: "Delivery latency p99",
              description:
                "From raise to the channel accepting it (a critical alert must arrive within 30 s).",
            },
            "ticktrace_alert_delivery_duration_seconds",
            "channel",
            [0.99],
          ),
        ],
      ],
    ],
  );
}

/** Every dashboard, with its file name. */
export function buildDashboards(): DashboardFile[] {
  return [
    { file: "trading-overview.json", dashboard: tradingOverview() },
    { file: "system-health.json", dashboard: systemHealth() },
    { file: "risk-and-limits.json", dashboard: riskAndLimits() },
    { file: "latency.json", dashboard: latency() },
    { file: "alerts.json", dashboard: alerts() },
  ];
}

/** The JSON text written for a dashboard (stable: 2-space indent, trailing newline). */
export function dashboardJson(dashboard: Dashboard): string {
  return `${JSON.stringify(dashboard, null, 2)}\n`;
}

/** Every Prometheus expression in the dashboards: panel targets and variable queries. */
export function dashboardExpressions(
  files: readonly DashboardFile[] = buildDashboards(),
): DashboardExpression[] {
  const out: DashboardExpression[] = [];
  for (const { dashboard } of files) {
    const title = dashboard.title ?? "";
    for (const panel of dashboard.panels ?? []) {
      if (!("targets" in panel)) continue;
      for (const target of panel.targets ?? []) {
        const expr = (target as { expr?: unknown }).expr;
        const uid = (target as { datasource?: { uid?: string } }).datasource?.uid ?? panel.datasource?.uid;
        if (typeof expr === "string" && uid === PROMETHEUS.uid)
          out.push({ dashboard: title, panel: panel.title ?? "", expr });
      }
    }
    for (const variable of dashboard.templating.list ?? []) {
      const match = /^label_values\((.+), \w+\)$/.exec(
        typeof variable.query === "string" ? variable.query : "",
      );
      if (match?.[1] !== undefined)
        out.push({ dashboard: title, panel: `variable ${variable.name}`, expr: match[1] });
    }
  }
  return out;
}
