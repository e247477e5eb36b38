/**
 * Property-based tests of the config loader: random YAML text, random documents and random
 * values at every key. A bad config is always a ConfigError with one line naming the key path,
 * never another error and never a stack; the preload exits 2 with that line.
 */
import { execFile } from "node:child_process";
import { rmSync } from "node:fs";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { ConfigError, parseConfigText } from "../../src/config/index.js";
import { configDir, ensureBuilt, PRELOAD } from "../telemetry/helpers.js";

const FILE = "/srv/bot/config.yaml";
const SEED = 20_261_201;

/** Every leaf key path of the default config (`health.port`, `alerts.slack.webhook_url`, ...). */
function leafPaths(value: unknown, prefix: string[] = []): string[][] {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return [prefix];
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) return [prefix];
  return entries.flatMap(([key, child]) => leafPaths(child, [...prefix, key]));
}
const DEFAULTS = parseConfigText("", { file: FILE, env: {} });
const PATHS = leafPaths(DEFAULTS).filter((path) => path.length > 0);

/** `{a: {b: value}}` for the path `a.b`. */
function nest(path: readonly string[], value: unknown): Record<string, unknown> {
  return path.reduceRight<unknown>((inner, key) => ({ [key]: inner }), value) as Record<string, unknown>;
}

/** Parses and returns the outcome: "ok", or the ConfigError. Anything else thrown fails the property. */
function outcome(text: string): "ok" | ConfigError {
  try {
    parseConfigText(text, { file: FILE, env: {} });
    return "ok";
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw new Error(`not a ConfigError for ${JSON.stringify(text)}: ${String(error)}`, { cause: error });
  }
}

function expectOneLine(error: ConfigError): void {
  expect(error.code).toBe("CONFIG_INVALID");
  expect(error.message.startsWith(`${FILE}: `)).toBe(true);
  expect(error.message).not.toMatch(/\n/);
  expect(error.detail).not.toBe("");
}

/** Values a user could write anywhere. */
const anyValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.constantFrom("${UNSET_VAR}", "${PORT:-8080}", "yes", "0x1F", "1e309", "-0", "~", "[", "{"),
);

describe("config loader: random input", () => {
  it("random text: parses, or a one-line ConfigError naming the file", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: "binary", maxLength: 200 })),
        (text) => {
          const result = outcome(text);
          if (result !== "ok") expectOneLine(result);
        },
      ),
      { numRuns: 500, seed: SEED },
    );
  });

  it("random documents: a ConfigError's key path is a path into the document (or empty)", () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom(...Object.keys(DEFAULTS), "nope"), anyValue, { maxKeys: 4 }),
        (doc) => {
          const result = outcome(stringify(doc));
          if (result === "ok") return;
          expectOneLine(result);
          if (result.keyPath !== "") expect(Object.keys(doc)).toContain(result.keyPath.split(".")[0]);
        },
      ),
      { numRuns: 300, seed: SEED },
    );
  });

  it("a random value at any key: accepted, or an error that names that key (or a key inside it)", () => {
    fc.assert(
      fc.property(fc.constantFrom(...PATHS), anyValue, (path, value) => {
        const result = outcome(stringify(nest(path, value)));
        if (result === "ok") return;
        expectOneLine(result);
        // Cross-field checks (a channel enabled without its token) name a sibling in the same section.
        const section = path.slice(0, Math.max(1, path.length - 1)).join(".");
        expect(result.keyPath.startsWith(section), `${path.join(".")} -> ${result.message}`).toBe(true);
      }),
      { numRuns: 1000, seed: SEED },
    );
  });
});

describe("preload: a sample of random bad configs", () => {
  const dirs: string[] = [];
  beforeAll(() => ensureBuilt(), 120_000);
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  const bad = fc
    .tuple(fc.constantFrom(...PATHS), anyValue)
    .map(([path, value]) => ({ path, text: stringify(nest(path, value)) }))
    .filter(({ text }) => outcome(text) !== "ok");
  const samples = fc.sample(bad, { numRuns: 4, seed: SEED });

  for (const { path, text } of samples) {
    it(`a bad ${path.join(".")}: exit 2, one line on stderr naming the key, no stack`, async () => {
      const expected = outcome(text) as ConfigError;
      const dir = configDir("config-property", text);
      dirs.push(dir);
      const result = await new Promise<{ status: number | null; stdout: string; stderr: string }>(
        (resolve) => {
          const child = execFile(
            process.execPath,
            ["--require", PRELOAD, "-e", "console.log('app ran')"],
            { cwd: dir, env: { PATH: process.env.PATH }, encoding: "utf8", timeout: 20_000 },
            (_error, stdout, stderr) => resolve({ status: child.exitCode, stdout, stderr }),
          );
        },
      );
      expect(result.status).toBe(2);
      expect(result.stdout).toBe("");
      const lines = result.stderr.split("\n").filter((line) => line !== "");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`config error: ${dir}/config.yaml: ${expected.keyPath}`);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    });
  }
});
