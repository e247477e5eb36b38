import { describe, expect, it } from "vitest";
import {
  METRIC_DEFINITIONS,
  RUNTIME_METRIC_DEFINITIONS,
  type InstrumentKind,
} from "../../src/telemetry/catalogue.js";
import { catalogueSeriesNames } from "./promql.js";

/**
 * The name Prometheus gives an OTLP metric under `translation_strategy:
 * UnderscoreEscapingWithSuffixes` (deploy/prometheus/prometheus.yml), after the rules of
 * github.com/prometheus/otlptranslator (metric_namer.go, unit_namer.go): split the name into
 * tokens, append the unit's word unless a token already equals it (`{annotations}` and `1` give
 * none), `_total` on monotonic counters, `_ratio` on gauges with unit `1`.
 */
const UNIT_WORDS: Record<string, string> = {
  d: "days",
  h: "hours",
  min: "minutes",
  s: "seconds",
  ms: "milliseconds",
  us: "microseconds",
  ns: "nanoseconds",
  By: "bytes",
  KiBy: "kibibytes",
  MiBy: "mebibytes",
  GiBy: "gibibytes",
  KBy: "kilobytes",
  MBy: "megabytes",
  m: "meters",
  V: "volts",
  A: "amperes",
  J: "joules",
  W: "watts",
  g: "grams",
  Cel: "celsius",
  Hz: "hertz",
  "1": "",
  "%": "percent",
};
const PER_UNIT_WORDS: Record<string, string> = {
  s: "second",
  m: "minute",
  h: "hour",
  d: "day",
  w: "week",
  mo: "month",
  y: "year",
};

function cleanUnit(unit: string): string {
  return unit
    .replace(/[^a-zA-Z0-9:]/g, "_")
    .replace(/_+/g, "_")
    .replace(/^_/, "");
}

function otlpPrometheusName(name: string, unit: string, kind: InstrumentKind): string {
  let tokens = name.split(/[^a-zA-Z0-9:]+/).filter((t) => t !== "");
  const [mainUnit = "", perUnit] = unit.split("/", 2).map((u) => u.trim());
  let main = mainUnit !== "" && !/[{}]/.test(mainUnit) ? cleanUnit(UNIT_WORDS[mainUnit] ?? mainUnit) : "";
  let per =
    perUnit !== undefined && perUnit !== "" && !/[{}]/.test(perUnit)
      ? `per_${PER_UNIT_WORDS[perUnit] ?? perUnit}`
      : "";
  per = cleanUnit(per).replace(/_$/, "");
  if (tokens.includes(main)) main = "";
  if (per === "per" || tokens.includes(per)) per = "";
  if (per !== "") main = main.replace(/_$/, "");
  if (main !== "") tokens.push(main);
  if (per !== "") tokens.push(per);
  if (kind === "counter") tokens = [...tokens.filter((t) => t !== "total"), "total"];
  if (kind === "gauge" && unit === "1") tokens = [...tokens.filter((t) => t !== "ratio"), "ratio"];
  return tokens.join("_");
}

describe("metric names on the OTLP path (collector -> Prometheus OTLP receiver)", () => {
  it("translate like Prometheus does for the usual cases", () => {
    expect(otlpPrometheusName("http.server.request.duration", "s", "histogram")).toBe(
      "http_server_request_duration_seconds",
    );
    expect(otlpPrometheusName("requests.count", "1", "counter")).toBe("requests_count_total");
    expect(otlpPrometheusName("memory.usage", "By", "gauge")).toBe("memory_usage_bytes");
    expect(otlpPrometheusName("breaker.active", "1", "gauge")).toBe("breaker_active_ratio");
    expect(otlpPrometheusName("throughput", "By/s", "gauge")).toBe("throughput_bytes_per_second");
    expect(otlpPrometheusName("orders", "{order}", "counter")).toBe("orders_total");
  });

  it("equal the /metrics names for every catalogue and runtime metric (the naming rule)", () => {
    const changed = [...METRIC_DEFINITIONS, ...RUNTIME_METRIC_DEFINITIONS]
      .map((d) => [d.name, otlpPrometheusName(d.name, d.unit, d.kind)] as const)
      .filter(([scraped, pushed]) => scraped !== pushed);
    expect(changed).toEqual([]);
  });

  it("keep the collector's span metrics apart from the catalogue", () => {
    const spanMetrics = [
      otlpPrometheusName("traces.span.metrics.calls", "", "counter"),
      otlpPrometheusName("traces.span.metrics.duration", "s", "histogram"),
      otlpPrometheusName("traces_service_graph_request_total", "", "counter"),
    ];
    expect(spanMetrics).toEqual([
      "traces_span_metrics_calls_total",
      "traces_span_metrics_duration_seconds",
      "traces_service_graph_request_total",
    ]);
    const catalogue = catalogueSeriesNames();
    for (const name of spanMetrics)
      expect(catalogue.has(name) || catalogue.has(`${name}_bucket`)).toBe(false);
  });
});
