import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { METRICS } from "../../src/telemetry/catalogue.js";
import { ROOT, tempDir } from "./helpers.js";

const readme = readFileSync(join(ROOT, "README.md"), "utf8");
const metricsPage = readFileSync(join(ROOT, "docs", "metrics.md"), "utf8");
const docsPages = readdirSync(join(ROOT, "docs")).filter((name) => name.endsWith(".md"));

/**
 * Pages the README links to that are written on other branches at the same time as this one.
 * Each entry is removed when its page lands; until then a link to it is the only one allowed to
 * dangle.
 */
/** Pages a link may name before they are written (none now: every page has landed). */
const PAGES_IN_PROGRESS = new Set<string>([]);

/** Every expression in the ```promql blocks of the metrics page, comments stripped. */
function examples(): string[] {
  const blocks = [...metricsPage.matchAll(/```promql\n([\s\S]*?)```/g)].map((match) => match[1]!);
  return blocks.flatMap((block) =>
    block
      .split("\n")
      .map((line) => line.replace(/\s+#.*$/, "").trim())
      .filter(Boolean),
  );
}

/** Relative link targets of a Markdown file (no URLs), code blocks left out, anchors kept. */
function linkTargets(text: string): string[] {
  const prose = text.replace(/```[\s\S]*?```/g, "");
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((match) => match[1]!)
    .filter((target) => !/^[a-z]+:/.test(target));
}

/** Relative file links of a Markdown file, anchors dropped. */
function relativeLinks(text: string): string[] {
  return linkTargets(text)
    .filter((target) => !target.startsWith("#"))
    .map((target) => target.split("#")[0]!);
}

/** The anchors GitHub gives a Markdown file's headings. */
function anchors(text: string): Set<string> {
  const prose = text.replace(/```[\s\S]*?```/g, "");
  return new Set(
    [...prose.matchAll(/^#{1,6} (.+)$/gm)].map((match) =>
      match[1]!
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\s_-]/gu, "")
        .replace(/\s/g, "-"),
    ),
  );
}

/** Text files under `dir`, recursively, skipping generated and installed trees. */
function files(dir: string): string[] {
  const skip = new Set(["node_modules", "dist", ".git", "results", "dashboards"]);
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return skip.has(entry.name) ? [] : files(path);
    return /\.(ts|js|mjs|md|ya?ml|json|sh)$/.test(entry.name) ? [path] : [];
  });
}

describe("generated documentation sections", () => {
  it.each(["scripts/config-reference.ts", "scripts/metrics-table.ts"])(
    "%s --check: the section equals what the script generates from the code",
    (script) => {
      const run = spawnSync("npx", ["tsx", script, "--check"], { cwd: ROOT, encoding: "utf8" });
      expect(run.stderr.replace(/^npm warn .*\n/gm, "")).toBe("");
      expect(run.status).toBe(0);
    },
  );
});

describe("docs/metrics.md", () => {
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

describe("README", () => {
  it("shows the tested examples verbatim: its bots are examples/ccxt-bot/bot.cjs and examples/quickstart/bot.cjs", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((match) => match[1]!.trimEnd());
    for (const example of ["examples/ccxt-bot/bot.cjs", "examples/quickstart/bot.cjs"]) {
      expect(blocks, example).toContain(readFileSync(join(ROOT, example), "utf8").trimEnd());
    }
    const api = readFileSync(join(ROOT, "docs", "api.md"), "utf8");
    const apiBlocks = [...api.matchAll(/```js\n([\s\S]*?)```/g)].map((match) => match[1]!.trimEnd());
    expect(apiBlocks, "docs/api.md").toContain(
      readFileSync(join(ROOT, "examples/quickstart/bot.cjs"), "utf8").trimEnd(),
    );
  });

  it("is a short guide: at most 250 lines, with the demo and test commands", () => {
    expect(readme.split("\n").length).toBeLessThanOrEqual(250);
    expect(readme).toContain("npm ci && npm start");
    expect(readme).toMatch(/(^|[^a-z])npm test/);
  });

  it("links every page under docs/", () => {
    const linked = new Set(relativeLinks(readme));
    expect(docsPages.filter((page) => !linked.has(`docs/${page}`))).toEqual([]);
  });

  it("every relative link in the README and docs/ points at a file that exists", () => {
    const sources = ["README.md", ...docsPages.map((page) => `docs/${page}`)];
    const broken = sources.flatMap((source) =>
      relativeLinks(readFileSync(join(ROOT, source), "utf8"))
        .map((target) => relative(ROOT, join(ROOT, dirname(source), target)))
        .filter((target) => !PAGES_IN_PROGRESS.has(target) && !existsSync(join(ROOT, target)))
        .map((target) => `${source} -> ${target}`),
    );
    expect(broken).toEqual([]);
  });

  it("every link to a heading in the README and docs/ names a heading that exists", () => {
    const sources = ["README.md", ...docsPages.map((page) => `docs/${page}`)];
    const broken = sources.flatMap((source) => {
      const text = readFileSync(join(ROOT, source), "utf8");
      return linkTargets(text)
        .filter((target) => target.includes("#"))
        .flatMap((target) => {
          const [file, anchor] = target.split("#") as [string, string];
          const path = file === "" ? source : relative(ROOT, join(ROOT, dirname(source), file));
          if (!path.endsWith(".md") || !existsSync(join(ROOT, path))) return [];
          const headings = anchors(path === source ? text : readFileSync(join(ROOT, path), "utf8"));
          return headings.has(anchor) ? [] : [`${source} -> ${path}#${anchor}`];
        });
    });
    expect(broken).toEqual([]);
  });
});

describe("words a user can follow", () => {
  it("no internal requirement numbers or issue numbers in code, comments or docs", () => {
    const roots = ["src", "docs", "deploy", "scripts", "bench", "test"].map((dir) => join(ROOT, dir));
    const paths = [
      ...roots.filter((dir) => existsSync(dir) && statSync(dir).isDirectory()).flatMap(files),
      ...["README.md", "BENCHMARKS.md", "config.yaml", ".env"].map((file) => join(ROOT, file)),
    ].filter((path) => existsSync(path));
    const pattern = new RegExp(
      ["\\bseeds? [0-9]{3}\\b", "\\bseed-[0-9]{3}\\b", "\\bissue [0-9]+\\b"].join("|"),
      "i",
    );
    const hits = paths.flatMap((path) =>
      readFileSync(path, "utf8")
        .split("\n")
        .flatMap((line, i) =>
          pattern.test(line) ? [`${relative(ROOT, path)}:${i + 1}: ${line.trim()}`] : [],
        ),
    );
    expect(hits).toEqual([]);
  });
});
