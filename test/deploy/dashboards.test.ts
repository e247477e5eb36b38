import { readFileSync, readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { buildDashboards, dashboardExpressions, dashboardJson } from "../../deploy/grafana/dashboards.js";
import { readYaml, repoPath } from "./helpers.js";
import { PROMETHEUS_BUILTIN_SERIES, catalogueSeriesNames, metricNames, withoutThreshold } from "./promql.js";

const files = buildDashboards();

describe("Grafana dashboards", () => {
  it("committed JSON equals what `npm run dashboards` generates", () => {
    const committed = readdirSync(repoPath("deploy/grafana/dashboards")).filter((f) => f.endsWith(".json"));
    expect(committed.sort()).toEqual(files.map((f) => f.file).sort());
    for (const { file, dashboard } of files) {
      const text = readFileSync(repoPath("deploy/grafana/dashboards", file), "utf8");
      expect(text, `${file} is stale: run npm run dashboards`).toBe(dashboardJson(dashboard));
    }
  });

  it("are the five dashboards, each with service, instance and symbol variables", () => {
    expect(files.map((f) => f.dashboard.title)).toEqual([
      "ticktrace / Trading overview",
      "ticktrace / System health",
      "ticktrace / Risk & limits",
      "ticktrace / Latency",
      "ticktrace / Alerts",
    ]);
    expect(new Set(files.map((f) => f.dashboard.uid)).size).toBe(files.length);
    for (const { dashboard } of files) {
      expect(dashboard.templating.list?.map((v) => v.name)).toEqual(["service", "instance", "symbol"]);
    }
  });

  it("query only catalogue metrics (and Prometheus's own up / ALERTS)", () => {
    const known = catalogueSeriesNames();
    const unknown = dashboardExpressions(files).flatMap(({ dashboard, panel, expr }) =>
      metricNames(expr)
        .filter((name) => !known.has(name) && !PROMETHEUS_BUILTIN_SERIES.has(name))
        .map((name) => `${dashboard} / ${panel}: ${name}`),
    );
    expect(unknown).toEqual([]);
  });

  it("latency heatmaps read histogram buckets with exemplars on", () => {
    const heatmaps = files.flatMap((f) => (f.dashboard.panels ?? []).filter((p) => p.type === "heatmap"));
    expect(heatmaps.length).toBeGreaterThanOrEqual(4);
    for (const panel of heatmaps) {
      const target = (panel as unknown as { targets: { expr: string; format: string; exemplar: boolean }[] })
        .targets[0]!;
      expect(target.format).toBe("heatmap");
      expect(target.exemplar).toBe(true);
      expect(target.expr).toMatch(/^sum by \(le\) \(rate\(\w+_seconds_bucket\{/);
    }
  });

  it("use the provisioned datasource UIDs", () => {
    const provisioned = readYaml("deploy/grafana/provisioning/datasources/datasources.yaml") as {
      datasources: { uid: string }[];
    };
    const uids = new Set(provisioned.datasources.map((d) => d.uid));
    for (const { dashboard } of files) {
      for (const panel of dashboard.panels ?? []) {
        if (panel.type === "row") continue;
        expect(
          uids.has(panel.datasource?.uid ?? ""),
          `${String(dashboard.title)} / ${String(panel.title)}`,
        ).toBe(true);
      }
    }
  });
});

describe("PromQL helpers used by the deploy tests", () => {
  it("find metric names and ignore functions, labels, grouping and durations", () => {
    expect(
      metricNames(
        'histogram_quantile(0.99, sum by (job, le) (rate(trading_x_seconds_bucket{job=~"$service", le!="up"}[5m]))) > 0.1',
      ),
    ).toEqual(["trading_x_seconds_bucket"]);
    expect(metricNames("time() - trading_heartbeat_timestamp_seconds > 30")).toEqual([
      "trading_heartbeat_timestamp_seconds",
    ]);
    expect(metricNames('-a / (b > 0) or on (job) ALERTS{alertstate="firing"}')).toEqual(["a", "b", "ALERTS"]);
  });

  it("strip only a trailing threshold", () => {
    expect(withoutThreshold("-a / (b > 0) > 0.8")).toBe("-a / (b > 0)");
    expect(withoutThreshold('up{role="trading"} == 0')).toBe('up{role="trading"}');
    expect(withoutThreshold("rate(x[5m])")).toBe("rate(x[5m])");
  });
});
