import { cpSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { ALERT_RULES } from "../../src/alert-model/rules.js";
import { readYaml, repoPath, run, tempDir } from "./helpers.js";
import { PROMETHEUS_BUILTIN_SERIES, catalogueSeriesNames, metricNames } from "./promql.js";

interface RuleFile {
  groups: {
    name: string;
    rules: {
      alert: string;
      expr: string;
      for?: string;
      labels: Record<string, string>;
      annotations: Record<string, string>;
    }[];
  }[];
}

const ruleFiles = readdirSync(repoPath("deploy/prometheus/rules")).filter((f) => f.endsWith(".yml"));
const rules = ruleFiles.flatMap((file) =>
  (readYaml("deploy/prometheus/rules", file) as RuleFile).groups.flatMap((g) => g.rules),
);
const temp = tempDir("promtool");
afterAll(() => temp.cleanup());

/**
 * Debian's promtool is 2.42; the compose Prometheus is v3. The only v3-only key in
 * prometheus.yml is `otlp` (the OTLP receiver's translation settings), which 2.42 rejects as
 * unknown. This writes the config without it (everything else unchanged) next to a copy of the
 * rules, for `promtool check config`. The `otlp` block itself is asserted below.
 */
function v242Variant(): string {
  const config = readYaml("deploy/prometheus/prometheus.yml") as Record<string, unknown>;
  delete config.otlp;
  cpSync(repoPath("deploy/prometheus/rules"), join(temp.dir, "rules"), { recursive: true });
  const path = join(temp.dir, "prometheus.yml");
  writeFileSync(path, stringify(config));
  return path;
}

describe("Prometheus configuration", () => {
  it("passes promtool check config (2.42; the v3-only otlp block removed)", async () => {
    const result = await run("promtool", ["check", "config", v242Variant()]);
    expect(result.stdout + result.stderr).toContain("SUCCESS");
    expect(result.code, result.stdout + result.stderr).toBe(0);
  });

  it("configures the OTLP receiver: suffix translation and promoted resource attributes", () => {
    const text = readFileSync(repoPath("deploy/prometheus/prometheus.yml"), "utf8");
    const config = parse(text) as { otlp: Record<string, unknown> };
    expect(config.otlp).toEqual({
      translation_strategy: "UnderscoreEscapingWithSuffixes",
      promote_resource_attributes: ["service.name", "service.instance.id", "deployment.environment.name"],
      keep_identifying_resource_attributes: true,
    });
    // The resource attribute the app sets for the environment (src/config/sections/service.ts).
    expect(readFileSync(repoPath("src/config/sections/service.ts"), "utf8")).toContain(
      "`deployment.environment.name`",
    );
  });

  it("starts with the OTLP receiver and exemplar storage in docker compose", () => {
    const compose = readYaml("docker-compose.yml") as { services: { prometheus: { command: string[] } } };
    expect(compose.services.prometheus.command).toEqual(
      expect.arrayContaining(["--web.enable-otlp-receiver", "--enable-feature=exemplar-storage"]),
    );
  });

  it("scrapes the app under its service name with role=trading", () => {
    const config = readYaml("deploy/prometheus/prometheus.yml") as {
      scrape_configs: {
        job_name: string;
        static_configs: { targets: string[]; labels: Record<string, string> }[];
      }[];
    };
    const app = config.scrape_configs.find((c) => c.static_configs[0]!.labels.role === "trading")!;
    expect(app.job_name).toBe(/^SERVICE_NAME=(.+)$/m.exec(readFileSync(repoPath(".env"), "utf8"))![1]);
    expect(app.static_configs[0]!.targets).toEqual(["app:8080"]);
    expect(config.scrape_configs.map((c) => c.job_name)).toContain("otel-collector");
  });
});

describe("Prometheus alert rules", () => {
  it("pass promtool check rules", async () => {
    const result = await run("promtool", [
      "check",
      "rules",
      ...ruleFiles.map((f) => repoPath("deploy/prometheus/rules", f)),
    ]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    // one "SUCCESS: N rules found" per rule file
    const found = [...result.stdout.matchAll(/SUCCESS: (\d+) rules found/g)].map((m) => Number(m[1]));
    expect(found.length).toBe(ruleFiles.length);
    expect(found.reduce((a, b) => a + b, 0)).toBe(rules.length);
  });

  it("pass their promtool unit tests", async () => {
    const tests = readdirSync(repoPath("deploy/prometheus/tests")).filter((f) => f.endsWith(".yml"));
    const result = await run("promtool", [
      "test",
      "rules",
      ...tests.map((f) => repoPath("deploy/prometheus/tests", f)),
    ]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain("SUCCESS");
  });

  it("have a unit test for every alert", () => {
    const tested = new Set<string>();
    for (const file of readdirSync(repoPath("deploy/prometheus/tests")).filter((f) => f.endsWith(".yml"))) {
      const suite = readYaml("deploy/prometheus/tests", file) as {
        tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
      };
      for (const test of suite.tests) {
        for (const check of test.alert_rule_test ?? [])
          if (check.exp_alerts.length > 0) tested.add(check.alertname);
      }
    }
    expect([...tested].sort()).toEqual(rules.map((r) => r.alert).sort());
  });

  it("cover every Prometheus-side rule of the alert table, with its alertname and severity", () => {
    const table = Object.values(ALERT_RULES);
    const expected = table.filter((r) => r.where !== "process").map((r) => r.alertname);
    expect(rules.map((r) => r.alert).sort()).toEqual([...expected].sort());
    for (const rule of rules) {
      const definition = table.find((r) => r.alertname === rule.alert)!;
      expect(rule.labels.severity, rule.alert).toBe(definition.level.toLowerCase());
      expect(rule.labels.service, rule.alert).toBe("{{ $labels.job }}");
      expect(rule.annotations.summary, rule.alert).toBe(definition.summary);
    }
  });

  it("query only catalogue metrics (and up)", () => {
    const known = catalogueSeriesNames();
    const unknown = rules.flatMap((rule) =>
      metricNames(rule.expr)
        .filter((name) => !known.has(name) && !PROMETHEUS_BUILTIN_SERIES.has(name))
        .map((name) => `${rule.alert}: ${name}`),
    );
    expect(unknown).toEqual([]);
  });

  it("link each alert to its runbook section", () => {
    const runbook = readFileSync(repoPath("docs/runbook.md"), "utf8");
    const anchors = new Set(
      [...runbook.matchAll(/^#{2,4} (.+)$/gm)].map((m) =>
        m[1]!
          .trim()
          .toLowerCase()
          .replace(/[^a-z0-9 -]/g, "")
          .replace(/ /g, "-"),
      ),
    );
    for (const rule of rules) {
      expect(rule.annotations.description, rule.alert).toBeTruthy();
      const match = /^docs\/runbook\.md#(.+)$/.exec(rule.annotations.runbook_url ?? "");
      expect(match, `${rule.alert}: runbook_url`).not.toBeNull();
      expect(anchors.has(match![1]!), `${rule.alert}: no heading for #${match![1]!} in docs/runbook.md`).toBe(
        true,
      );
    }
  });
});
