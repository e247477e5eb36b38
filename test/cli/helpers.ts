import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

export const REPO = resolve(__dirname, "../..");
export const CLI = resolve(REPO, "dist/cli/main.js");

/**
 * Builds `dist/` (the CLI runs as a user would run it), unless `dist/cli/main.js` is newer than
 * every file in `src/` (`npm test` has just built it).
 */
export function build(): void {
  if (!isStale()) return;
  execFileSync("npx", ["tsc", "-p", "tsconfig.build.json"], { cwd: REPO, stdio: "ignore" });
}

function isStale(): boolean {
  let built: number;
  try {
    built = statSync(CLI).mtimeMs;
  } catch {
    return true;
  }
  const newest = (dir: string): number =>
    Math.max(
      0,
      ...readdirSync(dir, { withFileTypes: true }).map((e) =>
        e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs,
      ),
    );
  return newest(resolve(REPO, "src")) > built;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node dist/cli/main.js ...args` to completion. */
export function run(args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<RunResult> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: options.cwd,
      env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "", TICKTRACE_CONFIG: "", ...options.env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", fail);
    child.on("close", (code) => done({ code, stdout, stderr }));
  });
}

/** Starts a long-running command; `waitFor` resolves once stdout matches. */
export function start(args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }) {
  const child: ChildProcess = spawn(process.execPath, [CLI, ...args], {
    cwd: options.cwd,
    env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "", TICKTRACE_CONFIG: "", ...options.env },
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((done) => child.on("close", (code) => done(code)));
  return {
    child,
    exited,
    output: () => stdout,
    async waitFor(pattern: RegExp, timeoutMs = 10_000): Promise<string> {
      const until = Date.now() + timeoutMs;
      while (Date.now() < until) {
        if (pattern.test(stdout)) return stdout;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`timed out waiting for ${String(pattern)}; stdout: ${stdout}; stderr: ${stderr}`);
    },
  };
}
