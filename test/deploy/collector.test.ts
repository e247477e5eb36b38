import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { readYaml } from "./helpers.js";

type Kind = "receiver" | "processor" | "exporter" | "connector" | "extension";
type Section = Record<string, unknown>;
interface CollectorConfig {
  receivers: Section;
  processors: Section;
  exporters: Section;
  connectors: Section;
  extensions: Section;
  service: {
    extensions: string[];
    pipelines: Record<string, { receivers: string[]; processors?: string[]; exporters: string[] }>;
    telemetry: { metrics: { readers: { pull: { exporter: { prometheus: { port: string } } } }[] } };
  };
}

const config = readYaml("otel-collector.yaml") as CollectorConfig;

/** The value compose gets from `${env:VAR:-default}` (no VAR set in the container). */
function composeDefault(value: string): string {
  return /^\$\{env:[A-Z0-9_]+:-(.*)\}$/.exec(value)?.[1] ?? value;
}

/** kind -> type names of otelcol-contrib 0.159.0 (the TSV's note: compare with underscores removed). */
const available = new Map<Kind, Set<string>>();
for (const line of readFileSync(
  "/work/shared/reference/otelcol-contrib-0.159.0-components.tsv",
  "utf8",
).split("\n")) {
  if (line.startsWith("#") || line.trim() === "") continue;
  const [kind, type] = line.split("\t") as [Kind, string];
  if (!available.has(kind)) available.set(kind, new Set());
  available.get(kind)!.add(type);
}
/** `otlphttp/loki` -> `otlphttp`; newer spellings map to the listed names. */
function typeOf(id: string): string {
  const type = id.split("/")[0]!.replaceAll("_", "");
  return type === "otlpgrpc" ? "otlp" : type;
}

const sections: [Kind, Section][] = [
  ["receiver", config.receivers],
  ["processor", config.processors],
  ["exporter", config.exporters],
  ["connector", config.connectors],
  ["extension", config.extensions],
];

describe("otel-collector.yaml", () => {
  it("uses only components that exist in otelcol-contrib 0.159.0, by kind", () => {
    const missing = sections.flatMap(([kind, section]) =>
      Object.keys(section)
        .filter((id) => !available.get(kind)!.has(typeOf(id)))
        .map((id) => `${kind} ${id}`),
    );
    expect(missing).toEqual([]);
  });

  it("references only defined components in pipelines, and uses every defined component", () => {
    const pipelines = Object.entries(config.service.pipelines);
    const used = {
      receivers: new Set<string>(),
      processors: new Set<string>(),
      exporters: new Set<string>(),
    };
    const undefinedRefs: string[] = [];
    for (const [name, pipeline] of pipelines) {
      for (const id of pipeline.receivers) {
        used.receivers.add(id);
        if (!(id in config.receivers) && !(id in config.connectors))
          undefinedRefs.push(`${name}: receiver ${id}`);
      }
      for (const id of pipeline.processors ?? []) {
        used.processors.add(id);
        if (!(id in config.processors)) undefinedRefs.push(`${name}: processor ${id}`);
      }
      for (const id of pipeline.exporters) {
        used.exporters.add(id);
        if (!(id in config.exporters) && !(id in config.connectors))
          undefinedRefs.push(`${name}: exporter ${id}`);
      }
    }
    expect(undefinedRefs).toEqual([]);
    for (const extension of config.service.extensions)
      expect(Object.keys(config.extensions)).toContain(extension);

    const unused = [
      ...Object.keys(config.receivers).filter((id) => !used.receivers.has(id)),
      ...Object.keys(config.processors).filter((id) => !used.processors.has(id)),
      ...Object.keys(config.exporters).filter((id) => !used.exporters.has(id)),
      ...Object.keys(config.extensions).filter((id) => !config.service.extensions.includes(id)),
      // A connector must be an exporter of one pipeline and a receiver of another.
      ...Object.keys(config.connectors).filter((id) => !used.exporters.has(id) || !used.receivers.has(id)),
    ];
    expect(unused).toEqual([]);
  });

  it("puts memory_limiter first and batch last in every pipeline", () => {
    for (const [name, pipeline] of Object.entries(config.service.pipelines)) {
      expect(pipeline.processors?.[0], name).toBe("memory_limiter");
      expect(pipeline.processors?.at(-1), name).toBe("batch");
      expect(pipeline.processors, name).toContain("transform/redact");
    }
  });

  it("sends metrics to Prometheus's OTLP endpoint, logs to Loki's /otlp, traces to Tempo", () => {
    const exporters = config.exporters as Record<string, { endpoint: string }>;
    expect(composeDefault(exporters["otlphttp/prometheus"]!.endpoint)).toBe(
      "http://prometheus:9090/api/v1/otlp",
    );
    expect(composeDefault(exporters["otlphttp/loki"]!.endpoint)).toBe("http://loki:3100/otlp");
    expect(composeDefault(exporters["otlp/tempo"]!.endpoint)).toBe("tempo:4317");
    expect(config.service.pipelines.metrics!.exporters).toEqual(["otlphttp/prometheus"]);
    expect(config.service.pipelines.logs!.exporters).toEqual(["otlphttp/loki"]);
    expect(config.service.pipelines.traces!.exporters).toContain("otlp/tempo");
    expect(composeDefault(config.service.telemetry.metrics.readers[0]!.pull.exporter.prometheus.port)).toBe(
      "8888",
    );
  });

  it("keeps span-derived metric names apart from the catalogue", () => {
    const spanmetrics = config.connectors.spanmetrics as {
      namespace: string;
      exemplars: { enabled: boolean };
    };
    expect(spanmetrics.exemplars.enabled).toBe(true);
    const prefix = spanmetrics.namespace.replaceAll(".", "_");
    expect(prefix).toBe("traces_span_metrics");
    expect(prefix.startsWith("trading_") || prefix.startsWith("ticktrace_")).toBe(false);
  });

  it("deletes secret-looking attribute keys and no ordinary ones", () => {
    const processor = config.processors["transform/redact"] as Record<string, { statements: string[] }[]>;
    const patterns = new Set<string>();
    for (const signal of ["trace_statements", "log_statements", "metric_statements"]) {
      for (const group of processor[signal]!) {
        for (const statement of group.statements) {
          const match = /^delete_matching_keys\(attributes, "(.+)"\)$/.exec(statement);
          if (match) patterns.add(match[1]!);
        }
      }
    }
    expect(patterns.size).toBe(1);
    // OTTL uses Go regular expressions; this one is also valid JavaScript once (?i) becomes a flag.
    const regex = new RegExp([...patterns][0]!.replace("(?i)", ""), "i");
    for (const key of [
      "telegram.bot_token",
      "slack.webhook_url",
      "exchange.api_key",
      "x-api-key",
      "db.password",
      "http.request.header.authorization",
      "apiKey",
    ]) {
      expect(regex.test(key), key).toBe(true);
    }
    for (const key of [
      "service.name",
      "trading.symbol",
      "http.response.status_code",
      "url.path",
      "trading.exchange",
    ]) {
      expect(regex.test(key), key).toBe(false);
    }
  });
});
