import { METRIC_DEFINITIONS, RUNTIME_METRIC_DEFINITIONS } from "../../src/telemetry/catalogue.js";

/** Series Prometheus creates itself; queries may use them besides the catalogue. */
export const PROMETHEUS_BUILTIN_SERIES = new Set(["up", "ALERTS"]);

const KEYWORDS = new Set([
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "bool",
  "and",
  "or",
  "unless",
  "offset",
  "inf",
  "nan",
]);

/**
 * The metric names an expression selects. Good enough for the expressions ticktrace writes:
 * strings, label matchers and grouping clauses are removed, then every identifier that is not a
 * function call, keyword or duration is a metric name.
 */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, "")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "")
    .replace(/\[[^\]]*\]/g, "");
  const names = new Set<string>();
  for (const match of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const name = match[0];
    const after = stripped.slice(match.index + name.length).trimStart();
    if (after.startsWith("(") || KEYWORDS.has(name.toLowerCase())) continue;
    names.add(name);
  }
  return [...names];
}

/** Every series name the catalogue defines (histograms as `_bucket`, `_sum`, `_count`). */
export function catalogueSeriesNames(): Set<string> {
  const out = new Set<string>();
  for (const definition of [...METRIC_DEFINITIONS, ...RUNTIME_METRIC_DEFINITIONS]) {
    if (definition.kind === "histogram") {
      for (const suffix of ["_bucket", "_sum", "_count"]) out.add(definition.name + suffix);
    } else {
      out.add(definition.name);
    }
  }
  return out;
}

/** Dashboard variables replaced by values that select everything, for running a query. */
export function expandVariables(expr: string): string {
  return expr
    .replaceAll("$__rate_interval", "1m")
    .replaceAll("$__range", "5m")
    .replaceAll("$__interval", "15s")
    .replace(/\$(service|instance|symbol)\b/g, ".*");
}

/**
 * An alert rule's condition without its final threshold (`x > 0.8` -> `x`), so the test can see
 * the signal return data while nothing is wrong.
 */
export function withoutThreshold(expr: string): string {
  return expr.trim().replace(/\s*(==|!=|>=|<=|>|<)\s*-?[0-9.e+]+\s*$/, "");
}
