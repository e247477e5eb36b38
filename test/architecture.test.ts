import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./telemetry/helpers.js";

/**
 * Imports point one way: the concepts under src/ (one folder, or one top-level file, each) form
 * a graph without cycles, and the shared vocabulary imports nothing but shared vocabulary. A
 * feature that needs another feature's internals is a sign that something belongs lower down.
 */
const SRC = join(ROOT, "src");

/** Modules every feature may import; they import only each other. */
const VOCABULARY = new Set([
  "errors",
  "clock",
  "optional",
  "config",
  "format",
  "retry",
  "alert-model",
  "alert-log",
  "events",
  "health",
  "logging",
]);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

function conceptOf(pathFromSrc: string): string {
  const [first = ""] = pathFromSrc.split("/");
  return pathFromSrc.includes("/") ? first : first.replace(/\.(ts|js)$/, "");
}

/** concept -> concepts it imports (type-only imports included: they couple the code as well). */
function conceptGraph(): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  for (const file of sourceFiles(SRC)) {
    const from = relative(SRC, file);
    const concept = conceptOf(from);
    const targets = graph.get(concept) ?? new Map<string, string>();
    graph.set(concept, targets);
    const text = readFileSync(file, "utf8");
    for (const match of text.matchAll(/(?:from|import\()\s*["'](\.{1,2}\/[^"']+)["']/g)) {
      const target = conceptOf(normalize(join(dirname(from), match[1] ?? "")));
      if (target !== concept && !targets.has(target)) targets.set(target, from);
    }
  }
  return graph;
}

function findCycle(graph: Map<string, Map<string, string>>): string[] | undefined {
  const state = new Map<string, "visiting" | "done">();
  const path: string[] = [];
  const visit = (node: string): string[] | undefined => {
    if (state.get(node) === "done") return undefined;
    if (state.get(node) === "visiting") return [...path.slice(path.indexOf(node)), node];
    state.set(node, "visiting");
    path.push(node);
    for (const next of graph.get(node)?.keys() ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(node, "done");
    return undefined;
  };
  for (const node of graph.keys()) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return undefined;
}

describe("architecture", () => {
  const graph = conceptGraph();

  it("reads the concepts it expects (the scan itself works)", () => {
    expect([...graph.keys()]).toEqual(
      expect.arrayContaining(["alerting", "runtime", "telemetry", "trading", "tracing", "errors"]),
    );
    expect(graph.get("runtime")?.has("telemetry")).toBe(true);
  });

  it("has no import cycle between concepts", () => {
    const cycle = findCycle(graph);
    const detail = cycle
      ?.slice(1)
      .map((to, i) => `${cycle[i] ?? ""} -> ${to} (${graph.get(cycle[i] ?? "")?.get(to) ?? ""})`);
    expect(detail, "an import cycle: move the shared part down into the vocabulary").toBeUndefined();
  });

  it("keeps the shared vocabulary free of feature imports", () => {
    const leaks: string[] = [];
    for (const concept of VOCABULARY) {
      for (const [target, file] of graph.get(concept) ?? []) {
        if (!VOCABULARY.has(target)) leaks.push(`${file} imports ${target}`);
      }
    }
    expect(leaks).toEqual([]);
  });

  it("finds a cycle when there is one (the check can fail)", () => {
    const withCycle = new Map(graph);
    withCycle.set("telemetry", new Map([...(graph.get("telemetry") ?? []), ["runtime", "x.ts"]]));
    expect(findCycle(withCycle)).toBeDefined();
  });
});
