import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseDocument, isPair, isScalar, visit, type Scalar } from "yaml";
import type { z } from "zod";
import { TicktraceError } from "../errors.js";
import { CONFIG_SHAPE } from "./generated/config-shape.js";
import { findMovedKey } from "./moved-keys.js";
import type * as SchemaModule from "./schema.js";
import type { Config } from "./schema.js";
import { fastParseConfig, shapeKeysAt } from "./shape.js";

/** A config problem: names the file, the key path and what was expected. Exits with status 2. */
export class ConfigError extends TicktraceError {
  override readonly name = "ConfigError";
  readonly file: string;
  readonly keyPath: string;
  /** What was wrong, without the file and key path. */
  readonly detail: string;

  constructor(file: string, keyPath: string, detail: string) {
    super("CONFIG_INVALID", `${file}: ${keyPath === "" ? "" : `${keyPath}: `}${detail}`);
    this.file = file;
    this.keyPath = keyPath;
    this.detail = detail;
  }
}

export interface LoadConfigOptions {
  /** Command-line arguments; `--config FILE` is honoured. */
  argv?: readonly string[];
  /** Environment for `${VAR}` substitution, `TICKTRACE_CONFIG` and `OTEL_*`. */
  env?: NodeJS.ProcessEnv;
  /** Directory relative paths are resolved from. */
  cwd?: string;
}

export interface LoadedConfig {
  config: Config;
  /** Absolute path of the file read, or undefined when none exists and defaults were used. */
  file: string | undefined;
}

/**
 * Finds the config file: `--config FILE`, else `TICKTRACE_CONFIG`, else `./config.yaml`.
 * An explicitly named file must exist; a missing `./config.yaml` means "all defaults".
 */
export function resolveConfigPath(options: LoadConfigOptions = {}): { path: string; explicit: boolean } {
  // From index 1: a script path is never "--config", and `node -e` puts arguments right after argv[0].
  const argv = options.argv ?? process.argv.slice(1);
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  for (const [i, arg] of argv.entries()) {
    const next = argv[i + 1];
    if (arg === "--config" && next !== undefined) return { path: resolve(cwd, next), explicit: true };
    if (arg.startsWith("--config="))
      return { path: resolve(cwd, arg.slice("--config=".length)), explicit: true };
  }
  if (env.TICKTRACE_CONFIG) return { path: resolve(cwd, env.TICKTRACE_CONFIG), explicit: true };
  return { path: resolve(cwd, "config.yaml"), explicit: false };
}

/** Loads, substitutes, validates and freezes the configuration. Throws {@link ConfigError}. */
export function loadConfig(options: LoadConfigOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const { path, explicit } = resolveConfigPath(options);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" && !explicit)
      return { config: parseConfig({}, { file: path, env }), file: undefined };
    throw new ConfigError(
      path,
      "",
      code === "ENOENT"
        ? "file not found (check --config or TICKTRACE_CONFIG)"
        : `cannot read the file (${code ?? String(error)})`,
    );
  }
  return { config: parseConfigText(text, { file: path, env }), file: path };
}

/** Parses YAML text into a validated config. `file` is only used in messages. */
export function parseConfigText(text: string, options: { file: string; env?: NodeJS.ProcessEnv }): Config {
  const env = options.env ?? process.env;
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const syntax = doc.errors[0];
  if (syntax) {
    const where = syntax.linePos?.[0];
    const at = where ? `line ${where.line}, column ${where.col}: ` : "";
    const reason = (syntax.message.split("\n")[0] ?? "").replace(/ at line \d+, column \d+:?$/, "");
    throw new ConfigError(options.file, "", `YAML syntax error at ${at}${reason}`);
  }
  const unset = substituteEnv(doc, env, options.file);
  let raw: unknown;
  try {
    raw = doc.toJS() ?? {};
  } catch (error) {
    // The yaml package throws plain errors for what it parsed but cannot build (an alias to an
    // anchor never set, an alias cycle): one line like any other syntax error.
    throw new ConfigError(options.file, "", `YAML error: ${(error as Error).message.split("\n")[0] ?? ""}`);
  }
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw new ConfigError(
      options.file,
      "",
      "expected a mapping of sections (service, health, telemetry, ...) at the top level",
    );
  }
  const unsetAt = (path: readonly string[]) => {
    const node = doc.getIn(path, true);
    return isScalar(node) ? unset.get(node) : undefined;
  };
  return parseConfig(raw as Record<string, unknown>, { file: options.file, env, unsetAt });
}

/** Validates an already-parsed object (after substitution). */
export function parseConfig(
  raw: Record<string, unknown>,
  options: {
    file: string;
    env?: NodeJS.ProcessEnv;
    /** Unset environment variables a value at this path was substituted from, for the message. */
    unsetAt?: (path: readonly string[]) => readonly string[] | undefined;
  },
): Config {
  const env = options.env ?? process.env;
  const moved = findMovedKey(raw);
  if (moved) {
    throw new ConfigError(
      options.file,
      moved.from,
      `this key was removed; set ${moved.to} instead (${moved.why}; see docs/config-changes.md)`,
    );
  }
  // The generated check first: a valid config is parsed without loading zod (the preload's case).
  const fast = fastParseConfig(CONFIG_SHAPE, raw);
  if (fast) return deepFreeze(applyOtelEnv(fast, env));
  const result = schemaModule().configSchema.safeParse(raw);
  if (!result.success) {
    const error = toConfigError(options.file, raw, result.error);
    const unset = options.unsetAt?.(error.keyPath === "" ? [] : error.keyPath.split("."));
    if (!unset?.length) throw error;
    throw new ConfigError(
      options.file,
      error.keyPath,
      `${error.detail} (${unset.map((name) => `\${${name}}`).join(", ")} not set)`,
    );
  }
  return deepFreeze(applyOtelEnv(result.data, env));
}

let loadedSchema: typeof SchemaModule | undefined;

/**
 * The zod schema, loaded when the fast check cannot vouch for a config: to word its error, or
 * to parse what the fast check does not model. `require` keeps zod off the preload's path.
 */
function schemaModule(): typeof SchemaModule {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  loadedSchema ??= require("./schema.js") as typeof SchemaModule;
  return loadedSchema;
}

/**
 * @internal Hands the loader the schema module. Tests that run the sources call it (through
 * test/support/lazy-modules.ts), because there `require` cannot load TypeScript.
 */
export function useSchemaModule(module: typeof SchemaModule): void {
  loadedSchema = module;
}

const ENV_PATTERN = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * `${VAR}` and `${VAR:-default}` in string values. Substitution happens on parsed scalars, not on
 * the raw text, so a value can never inject YAML structure. A scalar that is exactly one
 * `${...}` is re-read as YAML, so `port: ${PORT:-8080}` is a number.
 */
function substituteEnv(
  doc: ReturnType<typeof parseDocument>,
  env: NodeJS.ProcessEnv,
  file: string,
): Map<Scalar, string[]> {
  const unset = new Map<Scalar, string[]>();
  visit(doc, {
    Scalar(_key, node, path) {
      if (!isScalar(node) || typeof node.value !== "string" || !node.value.includes("${")) return;
      const original = node.value;
      const replaced = original.replace(ENV_PATTERN, (_m, name: string, fallback: string | undefined) => {
        const value = env[name];
        if (value !== undefined && value !== "") return value;
        if (fallback === undefined) unset.set(node, [...(unset.get(node) ?? []), name]);
        return fallback ?? "";
      });
      if (replaced.includes("${") && /\$\{[^}]*$/.test(original)) {
        const keyPath = path
          .filter(isPair)
          .map((pair) => String(isScalar(pair.key) ? pair.key.value : pair.key))
          .join(".");
        throw new ConfigError(file, keyPath, `unterminated \${...} in "${original}"`);
      }
      const whole = /^\$\{[^}]+\}$/.test(original.trim());
      // A quoted value stays text: `chat_id: "${TELEGRAM_CHAT_ID}"` with a numeric id is still a string.
      const quoted = node.type === "QUOTE_DOUBLE" || node.type === "QUOTE_SINGLE";
      if (whole && !quoted && replaced !== "") {
        const reparsed: unknown = parseDocument(replaced).toJS();
        node.value = typeof reparsed === "number" || typeof reparsed === "boolean" ? reparsed : replaced;
      } else {
        node.value = replaced;
      }
    },
  });
  return unset;
}

/**
 * Standard `OTEL_*` variables win over the file: they are how a deployment overrides one
 * process without editing its config.
 */
function applyOtelEnv(config: Config, env: NodeJS.ProcessEnv): Config {
  const out = structuredClone(config);
  if (env.OTEL_SERVICE_NAME) out.service.name = env.OTEL_SERVICE_NAME;
  if (env.OTEL_SDK_DISABLED?.toLowerCase() === "true") out.telemetry.enabled = false;
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT)
    out.telemetry.otlp.endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, "");
  const protocol = env.OTEL_EXPORTER_OTLP_PROTOCOL;
  if (protocol === "http/protobuf" || protocol === "http/json") out.telemetry.otlp.protocol = protocol;
  if (env.OTEL_TRACES_SAMPLER_ARG && !Number.isNaN(Number(env.OTEL_TRACES_SAMPLER_ARG))) {
    out.telemetry.traces.sampling_ratio = Math.min(1, Math.max(0, Number(env.OTEL_TRACES_SAMPLER_ARG)));
  }
  const delay = (name: string) => {
    const value = Number(env[name]);
    return env[name] && Number.isInteger(value) && value > 0 ? value : undefined;
  };
  out.telemetry.traces.batch_delay_ms =
    delay("OTEL_BSP_SCHEDULE_DELAY") ?? out.telemetry.traces.batch_delay_ms;
  out.telemetry.logs.batch_delay_ms = delay("OTEL_BLRP_SCHEDULE_DELAY") ?? out.telemetry.logs.batch_delay_ms;
  if (env.OTEL_TRACES_EXPORTER === "none") out.telemetry.traces.enabled = false;
  if (env.OTEL_LOGS_EXPORTER === "none") out.telemetry.logs.enabled = false;
  return out;
}

function toConfigError(file: string, raw: unknown, error: z.ZodError): ConfigError {
  const [issue] = error.issues;
  // zod raises with at least one issue; the fallback only keeps the types honest.
  if (issue === undefined) return new ConfigError(file, "", error.message);
  const keyPath = issue.path.map(String).join(".");
  if (issue.code === "unrecognized_keys") {
    const [unknownKey = ""] = issue.keys;
    const fullPath = keyPath === "" ? unknownKey : `${keyPath}.${unknownKey}`;
    const known = validKeysAt(issue.path.map(String));
    const nearest = nearestKey(unknownKey, known);
    const hint = nearest ? `did you mean "${nearest}"?` : `valid keys: ${known.join(", ")}`;
    return new ConfigError(file, fullPath, `unknown key (${hint})`);
  }
  const actual = describeValue(valueAt(raw, issue.path.map(String)));
  return new ConfigError(
    file,
    keyPath,
    `${expectation(issue)}${actual === undefined ? "" : `, got ${actual}`}`,
  );
}

function expectation(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case "invalid_type":
      return `expected ${issue.expected === "int" ? "an integer" : article(issue.expected)}`;
    case "too_small":
      return `expected ${issue.origin === "array" ? "at least" : "a value >="} ${String(issue.minimum)}${issue.origin === "array" ? " item(s)" : ""}`;
    case "too_big":
      return `expected ${issue.origin === "array" ? "at most" : "a value <="} ${String(issue.maximum)}${issue.origin === "array" ? " item(s)" : ""}`;
    case "invalid_value":
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "invalid_format":
      return issue.format === "url"
        ? "expected an http(s) URL"
        : `expected ${issue.format} (${issue.message})`;
    case "invalid_union":
      return "expected 0 or an integer from 1 to 65535";
    default:
      return issue.message;
  }
}

function article(type: string): string {
  if (type === "object") return "a mapping";
  if (type === "array") return "a list";
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function describeValue(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (value === null) return "null";
  if (typeof value === "string")
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return typeof value === "number" || typeof value === "boolean" || typeof value === "bigint"
    ? String(value)
    : typeof value;
}

function valueAt(raw: unknown, path: readonly string[]): unknown {
  let node = raw;
  for (const key of path) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/** The keys the schema accepts at a path, for "did you mean" hints. */
export function validKeysAt(path: readonly string[]): string[] {
  return shapeKeysAt(CONFIG_SHAPE, path);
}

/** Nearest valid key by edit distance, when it is close enough to be a likely typo. */
export function nearestKey(key: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(best.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] ?? 0;
      const left = row[j - 1] ?? 0;
      row[j] = Math.min(above + 1, left + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length] ?? 0;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object") {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** Reports a config error the way the CLI and the preload do: one line on stderr, exit 2. */
export function exitOnConfigError(error: unknown): never {
  if (error instanceof ConfigError) {
    process.stderr.write(`ticktrace: config error: ${error.message}\n`);
    process.exit(2);
  }
  throw error;
}
