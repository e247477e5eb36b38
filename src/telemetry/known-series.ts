import type { Attributes } from "@opentelemetry/api";
import type { ErrorCode } from "../errors.js";
import type { MetricKey } from "./catalogue.js";
import type { TradingMetrics } from "./metrics.js";

/**
 * Label values a process knows before anything happens: its exchanges and symbols (config), its
 * workers, the alert channels it built, the alert rules and levels. Each list left out leaves
 * the counters that need it alone.
 */
export interface KnownLabelValues {
  exchanges?: readonly string[];
  symbols?: readonly string[];
  /** Values of `operation` on exchange calls (`place_order`, `cancel_order`, ...). */
  exchangeOperations?: readonly string[];
  workers?: readonly string[];
  /** Values of `reason` on `trading_orders_rejected_total` (the risk monitor's). */
  rejectReasons?: readonly string[];
  /** Values of `limit` on `trading_risk_limit_breaches_total`. */
  riskLimits?: readonly string[];
  alertChannels?: readonly string[];
  alertRules?: readonly string[];
  alertLevels?: readonly string[];
  /** OTLP signals pushed (`traces`, `metrics`, `logs`). */
  signals?: readonly string[];
}

/** Every {@link ErrorCode}; `satisfies` makes a new code a compile error here until it is listed. */
const ERROR_CODE_SET = {
  CONFIG_INVALID: true,
  REJECTED: true,
  UNREACHABLE: true,
  TIMEOUT: true,
  RATE_LIMITED: true,
  NOT_FOUND: true,
  INVALID_STATE: true,
  INVALID_ARGUMENT: true,
  IO: true,
} as const satisfies Record<ErrorCode, true>;

/**
 * The `reason` / `error_type` values failures are counted under: a `TicktraceError`'s code in
 * lower case (what the order executor and the workers record). Anything else is counted under
 * `unknown` (orders) or the error's name (workers), which are not known in advance.
 */
export const ERROR_LABEL_VALUES: readonly string[] = Object.keys(ERROR_CODE_SET).map((code) =>
  code.toLowerCase(),
);

/** Outcomes of `ticktrace_alert_notifications_total`. */
export const DELIVERY_OUTCOMES: readonly string[] = ["delivered", "retry", "failed", "dropped"];

type CounterKey = {
  [K in MetricKey]: TradingMetrics[K] extends { add(value: number, attributes?: Attributes): void }
    ? K
    : never;
}[MetricKey];

/** For each counter, where each of its labels' values come from. */
const COUNTERS: readonly {
  metric: CounterKey;
  labels: Readonly<Record<string, (known: KnownLabelValues) => readonly string[] | undefined>>;
}[] = [
  {
    metric: "ordersFailed",
    labels: { exchange: (k) => k.exchanges, reason: () => [...ERROR_LABEL_VALUES, "unknown"] },
  },
  { metric: "ordersRejected", labels: { reason: (k) => k.rejectReasons } },
  { metric: "ordersCancelled", labels: { exchange: (k) => k.exchanges, symbol: (k) => k.symbols } },
  { metric: "riskLimitBreaches", labels: { limit: (k) => k.riskLimits } },
  { metric: "exchangeReconnects", labels: { exchange: (k) => k.exchanges } },
  {
    metric: "exchangeRateLimitHits",
    labels: { exchange: (k) => k.exchanges, operation: (k) => k.exchangeOperations },
  },
  { metric: "workerErrors", labels: { worker: (k) => k.workers, error_type: () => ERROR_LABEL_VALUES } },
  { metric: "alertsRaised", labels: { rule: (k) => k.alertRules, level: (k) => k.alertLevels } },
  {
    metric: "alertNotifications",
    labels: { channel: (k) => k.alertChannels, outcome: () => DELIVERY_OUTCOMES },
  },
  { metric: "telemetryExportFailures", labels: { signal: (k) => k.signals } },
];

/** The label names {@link startKnownSeriesAtZero} fills in, per counter (for tests against the catalogue). */
export const KNOWN_SERIES_LABELS: Readonly<Partial<Record<CounterKey, readonly string[]>>> =
  Object.fromEntries(COUNTERS.map((entry) => [entry.metric, Object.keys(entry.labels)]));

/**
 * Adds 0 to every series of a counter whose label values are all known, so the series exists
 * from the first scrape: `increase(x[5m]) > 0` then sees the first increment, and a dashboard
 * shows 0 instead of "No data". A counter with any label whose values are not given is left
 * alone. Calling it again is harmless (adding 0 changes nothing). Returns how many series were
 * touched.
 */
export function startKnownSeriesAtZero(
  metrics: Pick<TradingMetrics, CounterKey>,
  known: KnownLabelValues,
): number {
  let count = 0;
  for (const { metric, labels } of COUNTERS) {
    const axes: [string, readonly string[]][] = [];
    for (const [label, source] of Object.entries(labels)) {
      const values = source(known);
      if (!values || values.length === 0) break;
      axes.push([label, [...new Set(values)]]);
    }
    if (axes.length !== Object.keys(labels).length) continue;
    const counter = metrics[metric];
    for (const attributes of product(axes)) {
      counter.add(0, attributes);
      count++;
    }
  }
  return count;
}

/** Every combination of the axes' values, as attribute sets. */
function product(axes: readonly [string, readonly string[]][]): Attributes[] {
  let out: Attributes[] = [{}];
  for (const [label, values] of axes) {
    out = out.flatMap((partial) => values.map((value) => ({ ...partial, [label]: value })));
  }
  return out;
}
