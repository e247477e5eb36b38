import { spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { METRICS } from "../../src/telemetry/catalogue.js";
import { ROOT, tempDir } from "./helpers.js";

const doc = readFileSync(join(ROOT, "README.md"), "utf8");

/** Every expression in the ```promql blocks of the metrics README, comments stripped. */
function examples(): string[] {
  const blocks = [...doc.matchAll(/```promql\n([\s\S]*?)```/g)].map((match) => match[1]!);
  return blocks.flatMap((block) =>
    block
      .split("\n")
      .map((line) => line.replace(/\s+#.*$/, "").trim())
      .filter(Boolean),
  );
}

describe("README generated sections", () => {
  it.each(["scripts/config-reference.ts", "scripts/metrics-table.ts"])(
    "%s --check: the section equals what the script generates from the code",
    (script) => {
      const run = spawnSync("npx", ["tsx", script, "--check"], { cwd: ROOT, encoding: "utf8" });
      expect(run.stderr.replace(/^npm warn .*\n/gm, "")).toBe("");
      expect(run.status).toBe(0);
    },
  );
});

describe("metrics README", () => {
  it("every example PromQL expression parses (promtool check rules)", () => {
    const expressions = examples();
    expect(expressions.length).toBeGreaterThan(20);
    const dir = tempDir("promql");
    try {
      const file = join(dir, "rules.yml");
      const rules = expressions
        .map((expr, i) => `      - record: example_${i}\n        expr: ${JSON.stringify(expr)}\n`)
        .join("");
      writeFileSync(file, `groups:\n  - name: readme\n    rules:\n${rules}`);
      const check = spawnSync("promtool", ["check", "rules", file], { encoding: "utf8" });
      expect(check.stderr).toBe("");
      expect(check.stdout).toContain(`SUCCESS: ${expressions.length} rules found`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("examples only use names from the catalogue", () => {
    const names = new Set<string>(Object.values(METRICS).map((m) => m.name));
    const used = new Set(
      examples().flatMap((expr) => expr.match(/\b(?:trading|ticktrace)_[a-z0-9_]+/g) ?? []),
    );
    const unknown = [...used].filter((name) => !names.has(name.replace(/_(bucket|sum|count)$/, "")));
    expect(unknown).toEqual([]);
  });
});
