/**
 * The preload instruments the main thread only. Worker threads inherit `--require`, among them
 * the ESM loader's hooks thread that the preload itself starts for an ES-module bot; a runtime
 * there was a second health server and a second holder of the alert outbox.
 */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, PRELOAD, tempDir } from "./helpers.js";

beforeAll(() => ensureBuilt());

function run(dir: string, entry: string): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--require", PRELOAD, entry], {
      cwd: dir,
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
    child.once("exit", (code) => resolve({ code, out, err }));
  });
}

const CONFIG = [
  "health:",
  "  port: 0",
  "logging:",
  "  format: json",
  "telemetry:",
  "  otlp:",
  "    endpoint: http://127.0.0.1:9",
  "",
].join("\n");

describe("the preload in a process with more than one thread", () => {
  it("regression: an ES-module bot under --require started a second runtime in the loader's hooks thread; it starts one", async () => {
    const dir = tempDir("preload-esm");
    writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }));
    writeFileSync(join(dir, "config.yaml"), CONFIG);
    // The runtime is ready once its servers listen; stay up a moment past that, then end.
    writeFileSync(
      join(dir, "bot.js"),
      'import { Worker } from "node:worker_threads";\n' +
        "await new Promise((resolve) => setTimeout(resolve, 800));\n" +
        // A bot's own worker inherits --require too.
        'await new Promise((resolve) => new Worker("setTimeout(() => {}, 300)", { eval: true }).once("exit", resolve));\n',
    );
    const result = await run(dir, "bot.js");
    expect(result.code, result.err).toBe(0);
    const started = result.out.split("\n").filter((line) => line.includes('"ticktrace runtime started"'));
    expect(started).toHaveLength(1);
    expect(result.err).toBe("");
  });
});
