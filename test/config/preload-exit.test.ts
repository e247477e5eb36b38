import { execFile } from "node:child_process";
import { rmSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configDir, ensureBuilt, PRELOAD } from "../telemetry/helpers.js";

const dirs: string[] = [];
beforeAll(() => ensureBuilt(), 120_000);
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Runs the preload in a directory holding `yaml` as config.yaml. */
function runWithConfig(
  yaml: string,
  extraArgs: string[] = [],
  app = "console.log('app ran')",
): Promise<{ status: number | null; stdout: string; stderr: string; dir: string }> {
  const dir = configDir("preload-exit", yaml);
  dirs.push(dir);
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      ["--require", PRELOAD, "-e", app, ...extraArgs],
      { cwd: dir, env: { PATH: process.env.PATH }, encoding: "utf8", timeout: 20_000 },
      (_error, stdout, stderr) => resolve({ status: child.exitCode, stdout, stderr, dir }),
    );
  });
}

describe.concurrent("preload with a bad config", () => {
  const cases: [string, string, (dir: string) => string][] = [
    [
      "YAML syntax error",
      "health:\n  port: [1\n",
      (d) => `${join(d, "config.yaml")}: YAML syntax error at line 3, column 1:`,
    ],
    [
      "wrong type",
      "health:\n  port: high\n",
      (d) => `${join(d, "config.yaml")}: health.port: expected 0 or an integer from 1 to 65535, got "high"`,
    ],
    [
      "out of range",
      "health:\n  port: 65536\n",
      (d) => `${join(d, "config.yaml")}: health.port: expected a value <= 65535, got 65536`,
    ],
    [
      "unknown key",
      "telemetry:\n  sampling: 1\n",
      (d) => `${join(d, "config.yaml")}: telemetry.sampling: unknown key (valid keys:`,
    ],
    [
      "a moved key (alerts.max_open_positions)",
      "alerts:\n  max_open_positions: 5\n",
      (d) =>
        `${join(d, "config.yaml")}: alerts.max_open_positions: this key was removed; set monitoring.rules.open_positions.max instead`,
    ],
    [
      "channel without credentials",
      "alerts:\n  telegram:\n    enabled: true\n",
      (d) =>
        `${join(d, "config.yaml")}: alerts.telegram.bot_token: a Telegram bot token is required when alerts.telegram.enabled is true`,
    ],
  ];
  for (const [name, yaml, expected] of cases) {
    it(`${name}: exits 2 with one line on stderr and no stack`, async () => {
      const result = await runWithConfig(yaml);
      expect(result.status).toBe(2);
      expect(result.stdout).toBe("");
      const lines = result.stderr.split("\n").filter((line) => line !== "");
      expect(lines).toHaveLength(1);
      expect(lines[0]!.startsWith(`ticktrace: config error: ${expected(result.dir)}`)).toBe(true);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    });
  }

  it("a missing --config file exits 2 naming the file", async () => {
    const result = await runWithConfig("", ["--", "--config", "missing.yaml"]);
    expect(result.status).toBe(2);
    expect(result.stderr).toBe(
      `ticktrace: config error: ${join(result.dir, "missing.yaml")}: file not found (check --config or TICKTRACE_CONFIG)\n`,
    );
  });

  it("a health port in use exits 1 with one line naming the address and the fix", async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as AddressInfo).port;
    try {
      const result = await runWithConfig(
        `health:\n  port: ${port}\ntelemetry:\n  enabled: false\n`,
        [],
        "setInterval(() => {}, 1000)",
      );
      expect(result.status).toBe(1);
      expect(result.stderr).toBe(
        `ticktrace: health server cannot listen on 127.0.0.1:${port}: EADDRINUSE (another process uses it: set health.port, or 0 for a free port)\n`,
      );
    } finally {
      blocker.close();
    }
  });

  it("a good config lets the application run and exit normally", async () => {
    const result = await runWithConfig(
      "health:\n  port: 0\ntelemetry:\n  enabled: false\nlogging:\n  level: warn\n",
    );
    expect(result.stderr).toBe("");
    expect(result.stdout).toBe("app ran\n");
    expect(result.status).toBe(0);
  });
});
