import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigError, loadConfig, parseConfigText, resolveConfigPath } from "../../src/config/index.js";
import { nearestKey, validKeysAt } from "../../src/config/load.js";

const FILE = "/etc/bot/config.yaml";

/** The message a bad config produces, or a failure when it parsed. */
function errorOf(text: string, env: NodeJS.ProcessEnv = {}): ConfigError {
  try {
    parseConfigText(text, { file: FILE, env });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`expected a ConfigError for:\n${text}`);
}

describe("config: defaults", () => {
  it("an empty file is valid and gives the documented defaults", () => {
    const config = parseConfigText("", { file: FILE, env: {} });
    expect(config.service.name).toBe("ticktrace-demo");
    expect(config.health).toEqual({ host: "127.0.0.1", port: 8080 });
    expect(config.telemetry.otlp.endpoint).toBe("http://localhost:4318");
    expect(config.telemetry.otlp.protocol).toBe("http/protobuf");
    expect(config.telemetry.metrics_enabled).toBe(true);
    expect(config.telemetry.metrics_port).toBeUndefined();
    expect(config.telemetry.traces).toEqual({ enabled: true, sampling_ratio: 1, batch_delay_ms: 5000 });
    expect(config.telemetry.logs).toEqual({ enabled: true, batch_delay_ms: 1000 });
    expect(config.telemetry.instrumentations).toEqual(["http", "express", "winston", "undici", "pg", "ccxt"]);
    expect(config.logging).toEqual({ level: "info", format: "json" });
    expect(config.alerts.telegram.api_url).toBe("https://api.telegram.org");
    expect(config.alerts.jsonl.dir).toBe("logs/alerts");
  });

  it("is frozen all the way down", () => {
    const config = parseConfigText("health:\n  port: 9000\n", { file: FILE, env: {} });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.health)).toBe(true);
    expect(Object.isFrozen(config.telemetry.instrumentations)).toBe(true);
    expect(() => {
      (config.health as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  it("the shipped config.yaml is valid", () => {
    const text = readFileSync(join(__dirname, "..", "..", "config.yaml"), "utf8");
    const config = parseConfigText(text, { file: "config.yaml", env: {} });
    expect(config.health.port).toBe(8080);
    expect(config.alerts.telegram.enabled).toBe(false);
  });
});

describe("config: bad input names the file, the key path and what was expected", () => {
  it("YAML syntax error", () => {
    expect(errorOf("health:\n  port: [1, 2\n").message).toBe(
      `${FILE}: YAML syntax error at line 3, column 1: Flow sequence in block collection must be sufficiently indented and end with a ]`,
    );
    expect(errorOf("health:\n port: 1\n  host: x\n").message).toBe(
      `${FILE}: YAML syntax error at line 2, column 8: Nested mappings are not allowed in compact mappings`,
    );
  });

  it("duplicate key", () => {
    expect(errorOf("health:\n  port: 1\n  port: 2\n").message).toBe(
      `${FILE}: YAML syntax error at line 3, column 3: Map keys must be unique`,
    );
  });

  it("wrong type", () => {
    const error = errorOf("health:\n  port: abc\n");
    expect(error.message).toBe(`${FILE}: health.port: expected 0 or an integer from 1 to 65535, got "abc"`);
    expect(error.keyPath).toBe("health.port");
    expect(error.file).toBe(FILE);
    expect(error.code).toBe("CONFIG_INVALID");
    expect(errorOf("telemetry:\n  enabled: yes please\n").message).toBe(
      `${FILE}: telemetry.enabled: expected a boolean, got "yes please"`,
    );
    expect(errorOf("health: 5\n").message).toBe(`${FILE}: health: expected a mapping, got 5`);
    expect(errorOf("- a\n").message).toBe(
      `${FILE}: expected a mapping of sections (service, health, telemetry, ...) at the top level`,
    );
  });

  it("out of range", () => {
    expect(errorOf("health:\n  port: 70000\n").message).toBe(
      `${FILE}: health.port: expected a value <= 65535, got 70000`,
    );
    expect(errorOf("telemetry:\n  traces:\n    sampling_ratio: 1.5\n").message).toBe(
      `${FILE}: telemetry.traces.sampling_ratio: expected a value <= 1, got 1.5`,
    );
    expect(errorOf("telemetry:\n  cardinality_limit: 5\n").message).toBe(
      `${FILE}: telemetry.cardinality_limit: expected a value >= 10, got 5`,
    );
  });

  it("value outside an enumeration", () => {
    expect(errorOf("logging:\n  level: verbose\n").message).toBe(
      `${FILE}: logging.level: expected one of "error", "warn", "info", "debug", got "verbose"`,
    );
    expect(errorOf("telemetry:\n  instrumentations: [http, kafka]\n").message).toBe(
      `${FILE}: telemetry.instrumentations.1: expected one of "http", "express", "winston", "undici", "pg", "dns", "net", "fs", "ioredis", "redis", "mongodb", "mysql2", "grpc", "ccxt", got "kafka"`,
    );
  });

  it("not an http(s) URL", () => {
    expect(errorOf("telemetry:\n  otlp:\n    endpoint: ftp://collector\n").message).toBe(
      `${FILE}: telemetry.otlp.endpoint: expected an http(s) URL, got "ftp://collector"`,
    );
  });

  it("unknown key suggests the nearest valid key", () => {
    expect(errorOf("helth:\n  port: 1\n").message).toBe(
      `${FILE}: helth: unknown key (did you mean "health"?)`,
    );
    expect(errorOf("health:\n  prot: 1\n").message).toBe(
      `${FILE}: health.prot: unknown key (did you mean "port"?)`,
    );
    expect(errorOf("telemetry:\n  otlp:\n    endpoit: http://x:4318\n").message).toBe(
      `${FILE}: telemetry.otlp.endpoit: unknown key (did you mean "endpoint"?)`,
    );
  });

  it("regression: a key whose setting has one owner now names the key that replaced it", () => {
    expect(errorOf("alerts:\n  max_open_positions: 5\n").message).toBe(
      `${FILE}: alerts.max_open_positions: this key was removed; set monitoring.rules.open_positions.max instead (open_positions_high is raised by the monitoring rules only; see docs/config-changes.md)`,
    );
    expect(errorOf("alerts:\n  rejection_rate_threshold: 0.2\n").keyPath).toBe(
      "alerts.rejection_rate_threshold",
    );
    expect(errorOf("alerts:\n  rejection_rate_threshold: 0.2\n").detail).toContain(
      "set monitoring.rules.rejection_rate.threshold instead",
    );
    expect(errorOf("monitoring:\n  retention:\n    alerts_days: 30\n").detail).toContain(
      "set alerts.jsonl.retention_days instead",
    );
    // The new keys are accepted.
    const config = parseConfigText(
      "monitoring:\n  rules:\n    open_positions:\n      max: 5\n    rejection_rate:\n      threshold: 0.2\nalerts:\n  jsonl:\n    retention_days: 30\n",
      { file: FILE, env: {} },
    );
    expect(config.monitoring.rules.open_positions.max).toBe(5);
    expect(config.alerts.jsonl.retention_days).toBe(30);
  });

  it("unknown key far from every valid key lists the valid keys", () => {
    expect(errorOf("health:\n  zzzzzzzz: 1\n").message).toBe(
      `${FILE}: health.zzzzzzzz: unknown key (valid keys: host, port)`,
    );
  });

  it("channel enabled without credentials", () => {
    expect(errorOf("alerts:\n  telegram:\n    enabled: true\n").message).toBe(
      `${FILE}: alerts.telegram.bot_token: a Telegram bot token is required when alerts.telegram.enabled is true`,
    );
    expect(errorOf("alerts:\n  telegram:\n    enabled: true\n    bot_token: '123:abc'\n").message).toBe(
      `${FILE}: alerts.telegram.chat_id: a Telegram chat id is required when alerts.telegram.enabled is true`,
    );
    expect(errorOf("alerts:\n  slack:\n    enabled: true\n").message).toBe(
      `${FILE}: alerts.slack.webhook_url: a Slack incoming-webhook URL is required when alerts.slack.enabled is true`,
    );
  });

  it("a credential left empty by an unset variable names the variable", () => {
    const text = "alerts:\n  slack:\n    enabled: true\n    webhook_url: ${SLACK_WEBHOOK_URL}\n";
    expect(errorOf(text, {}).message).toBe(
      `${FILE}: alerts.slack.webhook_url: a Slack incoming-webhook URL is required when alerts.slack.enabled is true, got "" (\${SLACK_WEBHOOK_URL} not set)`,
    );
    expect(errorOf("health:\n  port: ${PORT}\n", {}).message).toBe(
      `${FILE}: health.port: expected 0 or an integer from 1 to 65535, got "" (\${PORT} not set)`,
    );
  });

  it("unterminated ${ is reported with its key path", () => {
    expect(errorOf("service:\n  name: ${NAME\n").message).toBe(
      `${FILE}: service.name: unterminated \${...} in "\${NAME"`,
    );
  });

  it("regression (found by the property tests): an alias to an unknown anchor is a one-line ConfigError, not a ReferenceError", () => {
    expect(errorOf("*!").message).toBe(
      `${FILE}: YAML error: Unresolved alias (the anchor must be set before the alias): !`,
    );
  });
});

describe("config: ${VAR} and ${VAR:-default} substitution", () => {
  it("substitutes strings, numbers and booleans", () => {
    const text = [
      "service:",
      "  name: ${NAME}",
      "  environment: prod-${REGION:-eu}",
      "health:",
      "  port: ${PORT:-9090}",
      "alerts:",
      "  telegram:",
      "    enabled: ${TG:-false}",
      "",
    ].join("\n");
    const config = parseConfigText(text, { file: FILE, env: { NAME: "mm-bot", PORT: "9191" } });
    expect(config.service.name).toBe("mm-bot");
    expect(config.service.environment).toBe("prod-eu");
    expect(config.health.port).toBe(9191);
    expect(config.alerts.telegram.enabled).toBe(false);
  });

  it("a quoted ${VAR} stays a string: a numeric Telegram chat id is not turned into a number", () => {
    const config = parseConfigText(
      'alerts:\n  telegram:\n    chat_id: "${CHAT}"\n    timeout_ms: ${TIMEOUT}\n',
      { file: FILE, env: { CHAT: "-1001234567", TIMEOUT: "3000" } },
    );
    expect(config.alerts.telegram.chat_id).toBe("-1001234567");
    expect(config.alerts.telegram.timeout_ms).toBe(3000);
  });

  it("uses the default when the variable is unset or empty", () => {
    const text = "health:\n  port: ${PORT:-9090}\n";
    expect(parseConfigText(text, { file: FILE, env: {} }).health.port).toBe(9090);
    expect(parseConfigText(text, { file: FILE, env: { PORT: "" } }).health.port).toBe(9090);
  });

  it("a substituted value cannot inject YAML structure", () => {
    const config = parseConfigText("service:\n  name: ${NAME}\n", {
      file: FILE,
      env: { NAME: "x\nhealth:\n  port: 1" },
    });
    expect(config.service.name).toBe("x\nhealth:\n  port: 1");
    expect(config.health.port).toBe(8080);
  });

  it("a substituted number is still range-checked", () => {
    expect(errorOf("health:\n  port: ${PORT}\n", { PORT: "99999" }).message).toBe(
      `${FILE}: health.port: expected a value <= 65535, got 99999`,
    );
  });
});

describe("config: OTEL_* variables win over the file", () => {
  const text = [
    "service:",
    "  name: from-file",
    "telemetry:",
    "  otlp:",
    "    endpoint: http://file:4318",
    "    protocol: http/json",
    "  traces:",
    "    sampling_ratio: 0.5",
    "",
  ].join("\n");

  it("file values apply without the variables", () => {
    const config = parseConfigText(text, { file: FILE, env: {} });
    expect(config.service.name).toBe("from-file");
    expect(config.telemetry.otlp.endpoint).toBe("http://file:4318");
    expect(config.telemetry.otlp.protocol).toBe("http/json");
    expect(config.telemetry.traces.sampling_ratio).toBe(0.5);
    expect(config.telemetry.enabled).toBe(true);
  });

  it("each variable overrides its key", () => {
    const config = parseConfigText(text, {
      file: FILE,
      env: {
        OTEL_SERVICE_NAME: "from-env",
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://env:4318/",
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
        OTEL_TRACES_SAMPLER_ARG: "0.1",
        OTEL_TRACES_EXPORTER: "none",
        OTEL_LOGS_EXPORTER: "none",
        OTEL_BSP_SCHEDULE_DELAY: "200",
        OTEL_BLRP_SCHEDULE_DELAY: "300",
      },
    });
    expect(config.telemetry.traces.batch_delay_ms).toBe(200);
    expect(config.telemetry.logs.batch_delay_ms).toBe(300);
    expect(config.service.name).toBe("from-env");
    expect(config.telemetry.otlp.endpoint).toBe("http://env:4318");
    expect(config.telemetry.otlp.protocol).toBe("http/protobuf");
    expect(config.telemetry.traces.sampling_ratio).toBe(0.1);
    expect(config.telemetry.traces.enabled).toBe(false);
    expect(config.telemetry.logs.enabled).toBe(false);
  });

  it("OTEL_SDK_DISABLED=true turns telemetry off; a sampler argument is clamped to [0, 1]", () => {
    const config = parseConfigText(text, {
      file: FILE,
      env: { OTEL_SDK_DISABLED: "TRUE", OTEL_TRACES_SAMPLER_ARG: "7" },
    });
    expect(config.telemetry.enabled).toBe(false);
    expect(config.telemetry.traces.sampling_ratio).toBe(1);
  });

  it("ignores values it does not understand", () => {
    const config = parseConfigText(text, {
      file: FILE,
      env: { OTEL_EXPORTER_OTLP_PROTOCOL: "grpc", OTEL_TRACES_SAMPLER_ARG: "half" },
    });
    expect(config.telemetry.otlp.protocol).toBe("http/json");
    expect(config.telemetry.traces.sampling_ratio).toBe(0.5);
  });
});

describe("config: which file is read", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "ticktrace-config-"));
    writeFileSync(join(dir, "config.yaml"), "service:\n  name: from-cwd\n");
    writeFileSync(join(dir, "explicit.yaml"), "service:\n  name: from-flag\n");
    writeFileSync(join(dir, "env.yaml"), "service:\n  name: from-env-var\n");
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("--config FILE wins over TICKTRACE_CONFIG, which wins over ./config.yaml", () => {
    const env = { TICKTRACE_CONFIG: "env.yaml" };
    expect(loadConfig({ cwd: dir, env, argv: ["--config", "explicit.yaml"] }).config.service.name).toBe(
      "from-flag",
    );
    expect(loadConfig({ cwd: dir, env, argv: ["--config=explicit.yaml"] }).config.service.name).toBe(
      "from-flag",
    );
    expect(loadConfig({ cwd: dir, env, argv: [] }).config.service.name).toBe("from-env-var");
    const loaded = loadConfig({ cwd: dir, env: {}, argv: [] });
    expect(loaded.config.service.name).toBe("from-cwd");
    expect(loaded.file).toBe(join(dir, "config.yaml"));
  });

  it("resolveConfigPath says whether the file was named explicitly", () => {
    expect(resolveConfigPath({ cwd: dir, env: {}, argv: [] })).toEqual({
      path: join(dir, "config.yaml"),
      explicit: false,
    });
    expect(resolveConfigPath({ cwd: dir, env: { TICKTRACE_CONFIG: "/abs/c.yaml" }, argv: [] })).toEqual({
      path: "/abs/c.yaml",
      explicit: true,
    });
  });

  it("no ./config.yaml means all defaults", () => {
    rmSync(join(dir, "config.yaml"));
    const loaded = loadConfig({ cwd: dir, env: {}, argv: [] });
    expect(loaded.file).toBeUndefined();
    expect(loaded.config.service.name).toBe("ticktrace-demo");
  });

  it("a file named explicitly must exist", () => {
    const missing = join(dir, "nope.yaml");
    expect(() => loadConfig({ cwd: dir, env: {}, argv: ["--config", "nope.yaml"] })).toThrow(
      `${missing}: file not found (check --config or TICKTRACE_CONFIG)`,
    );
    expect(() => loadConfig({ cwd: dir, env: { TICKTRACE_CONFIG: "nope.yaml" }, argv: [] })).toThrow(
      `${missing}: file not found (check --config or TICKTRACE_CONFIG)`,
    );
  });

  it("errors name the file that was read", () => {
    writeFileSync(join(dir, "config.yaml"), "health:\n  port: -1\n");
    expect(() => loadConfig({ cwd: dir, env: {}, argv: [] })).toThrow(
      `${join(dir, "config.yaml")}: health.port: expected a value >= 1, got -1`,
    );
  });
});

describe("config: key suggestions", () => {
  it("lists the keys of a section and finds near misses only", () => {
    expect(validKeysAt(["health"])).toEqual(["host", "port"]);
    expect(validKeysAt(["telemetry", "otlp"])).toEqual(["endpoint", "protocol", "timeout_ms", "headers"]);
    expect(nearestKey("telemtry", validKeysAt([]))).toBe("telemetry");
    expect(nearestKey("xyz", validKeysAt([]))).toBeUndefined();
  });
});
