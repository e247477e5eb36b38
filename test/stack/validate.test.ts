import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { REPO, builtBinaries } from "../../scripts/stack/lib.js";

/**
 * The committed configuration files, checked by the tools of the versions .env pins, built from
 * their Go modules: the same files compose mounts, not copies.
 */
const bins = builtBinaries();

function tool(
  file: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; out: string }> {
  return new Promise((done) => {
    execFile(
      file,
      args,
      { cwd: REPO, env: { PATH: process.env.PATH, ...env }, timeout: 60_000 },
      (err, stdout, stderr) => {
        done({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, out: `${stdout}${stderr}` });
      },
    );
  });
}

describe("configs checked by the pinned servers' own tools", () => {
  it("otelcol validate accepts otel-collector.yaml (the slim distribution built from builder.yaml)", async () => {
    const r = await tool(bins.otelcol, ["validate", `--config=${path.join(REPO, "otel-collector.yaml")}`]);
    expect(r.out).not.toMatch(/error/i);
    expect(r.code, r.out).toBe(0);
  });

  it("otelcol validate rejects a broken OTTL statement (the check can fail)", async () => {
    const r = await tool(bins.otelcol, [
      "validate",
      `--config=${path.join(REPO, "otel-collector.yaml")}`,
      "--set=processors::transform/redact::trace_statements::0::statements::0=delete_matching_keys(attributes,",
    ]);
    expect(r.code).not.toBe(0);
  });

  it("promtool check config accepts prometheus.yml with its otlp: block and rule files", async () => {
    const r = await tool(bins.promtool, ["check", "config", "deploy/prometheus/prometheus.yml"]);
    expect(r.code, r.out).toBe(0);
    const ruleFiles = readdirSync(path.join(REPO, "deploy/prometheus/rules")).filter((name) =>
      name.endsWith(".yml"),
    );
    expect(r.out).toContain(`SUCCESS: ${ruleFiles.length} rule files found`);
  });

  it("promtool check rules and test rules pass", async () => {
    const check = await tool(bins.promtool, ["check", "rules", "deploy/prometheus/rules/ticktrace.yml"]);
    expect(check.code, check.out).toBe(0);
    const test = await tool(bins.promtool, ["test", "rules", "deploy/prometheus/tests/ticktrace.test.yml"]);
    expect(test.code, test.out).toBe(0);
    expect(test.out).toMatch(/SUCCESS/);
  });

  it("amtool check-config accepts alertmanager.yml as committed (bot_token_file, api_url_file)", async () => {
    const r = await tool(bins.amtool, ["check-config", "deploy/alertmanager/alertmanager.yml"]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/2 receivers/);
  });
});
