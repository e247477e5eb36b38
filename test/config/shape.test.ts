/**
 * The fast config check (src/config/shape.ts) against zod: the generated shape is the schema's,
 * and on random input the fast check never returns a config zod would not return (it may only
 * step aside). The preload validates a good config without loading zod at all.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { describeSchema } from "../../src/config/describe-schema.js";
import { CONFIG_SHAPE } from "../../src/config/generated/config-shape.js";
import { parseConfigText } from "../../src/config/load.js";
import { configSchema } from "../../src/config/schema.js";
import { fastParseConfig, shapeKeysAt } from "../../src/config/shape.js";
import { configDir, ensureBuilt, PRELOAD, ROOT } from "../telemetry/helpers.js";

const SEED = 20_261_202;

function leafPaths(value: unknown, prefix: string[] = []): string[][] {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return [prefix];
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) return [prefix];
  return entries.flatMap(([key, child]) => leafPaths(child, [...prefix, key]));
}
const DEFAULTS = configSchema.parse({});
const PATHS = leafPaths(DEFAULTS).filter((path) => path.length > 0);

/** Sets `value` at `path` in `target`, creating mappings on the way. */
function setIn(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (next === null || typeof next !== "object" || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

/** Values near what the schema accepts (bounds, URLs, enums) and plain wrong ones. */
const value = fc.oneof(
  fc.constantFrom(
    0,
    -0,
    1,
    -1,
    1.5,
    10,
    100,
    999,
    1000,
    1001,
    65_535,
    65_536,
    1e6,
    1e9,
    2 ** 53,
    Number.MAX_SAFE_INTEGER,
    0.1,
    0.0002,
    0.2,
    24,
    50,
    true,
    false,
    null,
    "",
    " ",
    "x",
    "yes",
    "INFO",
    "WARNING",
    "CRITICAL",
    "debug",
    "pretty",
    "json",
    "http/json",
    "http/protobuf",
    "sdk",
    "worker",
    "postgres",
    "sqlite",
    "http://a",
    " https://b.example:9/x ",
    "ftp://x",
    "http//nope",
    "HTTP://UPPER.example",
    "javascript:alert(1)",
    "BTC/USDT",
    "btc/usdt",
    "${UNSET}",
  ),
  fc.constantFrom(["http", "ccxt"], ["nope"], [], ["BTC/USDT"], ["a"], ["http://x", "https://y"], [1]),
  fc.constantFrom({}, { a: "b" }, { a: 1 }, { Authorization: "Bearer x" }),
  fc.jsonValue({ maxDepth: 1 }),
);

/** A raw config: a few paths (known, a prefix of one, or unknown) set to random values. */
const rawConfig = fc
  .array(
    fc.tuple(
      fc.oneof(
        fc.constantFrom(...PATHS),
        fc.constantFrom(...PATHS).map((path) => path.slice(0, -1)),
        fc.constantFrom(...PATHS).map((path) => [...path.slice(0, -1), "typo_key"]),
      ),
      value,
    ),
    { maxLength: 5 },
  )
  .map((pairs) => {
    const raw: Record<string, unknown> = {};
    for (const [path, v] of pairs) if (path.length > 0) setIn(raw, path, v);
    return raw;
  });

describe("fast config check", () => {
  it("the generated shape is the schema's (run npm run config:shape after changing the schema)", () => {
    expect(CONFIG_SHAPE).toStrictEqual(describeSchema(configSchema));
  });

  it("random configs: a config the fast check returns is exactly the one zod returns", () => {
    let vouched = 0;
    fc.assert(
      fc.property(rawConfig, (raw) => {
        const fast = fastParseConfig(CONFIG_SHAPE, structuredClone(raw));
        const zod = configSchema.safeParse(structuredClone(raw));
        if (fast === undefined) return;
        vouched++;
        expect(zod.success, JSON.stringify(raw)).toBe(true);
        expect(fast).toStrictEqual(zod.data);
      }),
      { numRuns: 3000, seed: SEED },
    );
    // The check is useful only if it vouches for most valid configs, not just the empty one.
    expect(vouched).toBeGreaterThan(300);
  });

  it("random valid configs: the fast check vouches for every one zod accepts", () => {
    // Each random value replaced by the default where zod rejects it: valid configs of every shape.
    fc.assert(
      fc.property(fc.subarray(PATHS, { maxLength: 12 }), fc.infiniteStream(value), (paths, values) => {
        const raw: Record<string, unknown> = {};
        const stream = values[Symbol.iterator]();
        for (const path of paths) {
          const candidate = stream.next().value as unknown;
          setIn(raw, path, candidate);
          if (!configSchema.safeParse(raw).success) setIn(raw, path, valueAt(DEFAULTS, path));
        }
        const zod = configSchema.safeParse(raw);
        if (!zod.success) return; // a default that breaks a cross-key rule with another value
        expect(fastParseConfig(CONFIG_SHAPE, raw), JSON.stringify(raw)).toStrictEqual(zod.data);
      }),
      { numRuns: 300, seed: SEED },
    );
  });

  it("the shipped and example configs pass the fast check with zod's result", () => {
    const files = [
      join(ROOT, "config.yaml"),
      ...readdirSync(join(ROOT, "examples"), { recursive: true, encoding: "utf8" })
        .filter((file) => file.endsWith("config.yaml"))
        .map((file) => join(ROOT, "examples", file)),
    ];
    expect(files.length).toBeGreaterThan(1);
    for (const file of files) {
      const raw = (parse(readFileSync(file, "utf8")) ?? {}) as Record<string, unknown>;
      const zod = configSchema.safeParse(raw);
      if (!zod.success) continue; // a ${VAR} the example expects from the environment
      expect(fastParseConfig(CONFIG_SHAPE, raw), file).toStrictEqual(zod.data);
    }
  });

  it("cross-key rules: a channel on without its secret steps aside for zod's message", () => {
    const raw = { alerts: { slack: { enabled: true } } };
    expect(fastParseConfig(CONFIG_SHAPE, raw)).toBeUndefined();
    expect(() =>
      parseConfigText("alerts: { slack: { enabled: true } }", { file: "c.yaml", env: {} }),
    ).toThrow(
      "c.yaml: alerts.slack.webhook_url: a Slack incoming-webhook URL is required when alerts.slack.enabled is true",
    );
  });

  it("did-you-mean hints come from the shape", () => {
    expect(shapeKeysAt(CONFIG_SHAPE, ["telemetry", "otlp"])).toEqual([
      "endpoint",
      "protocol",
      "timeout_ms",
      "headers",
    ]);
    expect(() => parseConfigText("telemetry: { otlp: { endpont: x } }", { file: "c.yaml", env: {} })).toThrow(
      'c.yaml: telemetry.otlp.endpont: unknown key (did you mean "endpoint"?)',
    );
  });
});

function valueAt(root: unknown, path: readonly string[]): unknown {
  let node = root;
  for (const key of path) node = (node as Record<string, unknown>)[key];
  return node;
}

describe("preload: the fast check keeps zod off the start-up path", () => {
  const dirs: string[] = [];
  beforeAll(() => ensureBuilt(), 120_000);
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  const zodLoaded =
    "console.log(Object.keys(require.cache).some((f) => f.includes('/node_modules/zod/')) ? 'zod loaded' : 'no zod')";

  it("a valid config: the bot's first line runs with zod not loaded", () => {
    const dir = configDir(
      "fast-config",
      "health: { port: 0 }\nalerts: { enabled: false }\nmonitoring: { enabled: false }\ntelemetry: { enabled: false }\n",
    );
    dirs.push(dir);
    const out = execFileSync(
      process.execPath,
      ["--require", PRELOAD, "-e", `${zodLoaded}; process.exit(0)`],
      {
        cwd: dir,
        env: { PATH: process.env.PATH },
        encoding: "utf8",
      },
    );
    expect(out.trim()).toBe("no zod");
  });
});
