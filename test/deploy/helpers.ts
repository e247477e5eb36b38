import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parse } from "yaml";

/** The repository root. */
export const ROOT = resolve(__dirname, "../..");

export function repoPath(...parts: string[]): string {
  return join(ROOT, ...parts);
}

/** Parses a YAML file of the repository (aliases and merge keys resolved). */
export function readYaml(...parts: string[]): unknown {
  return parse(readFileSync(repoPath(...parts), "utf8"), { merge: true });
}

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command; resolves with its exit code and output instead of throwing on failure. */
export function run(
  file: string,
  args: readonly string[],
  options: { cwd?: string; timeoutMs?: number } = {},
): Promise<ToolResult> {
  return new Promise((done) => {
    execFile(
      file,
      [...args],
      { cwd: options.cwd ?? ROOT, timeout: options.timeoutMs ?? 60_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
        done({ code, stdout, stderr });
      },
    );
  });
}

/** A temporary directory removed by the returned `cleanup`. */
export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `ticktrace-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError instanceof Error ? `: ${lastError.message}` : ""}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

export interface RecordedRequest {
  method: string;
  path: string;
  body: string;
}

/** A real HTTP server on 127.0.0.1:0 that records requests and answers 200 with `okBody`. */
export interface RecordingServer {
  readonly url: string;
  readonly requests: RecordedRequest[];
  close(): Promise<void>;
}

export function startRecordingServer(okBody: string): Promise<RecordingServer> {
  const requests: RecordedRequest[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (body += chunk));
    req.on("end", () => {
      requests.push({ method: req.method ?? "", path: req.url ?? "", body });
      res.writeHead(200, { "content-type": "application/json" }).end(okBody);
    });
  });
  return new Promise((done) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      done({
        url: `http://127.0.0.1:${port}`,
        requests,
        close: () => new Promise<void>((closed) => server.close(() => closed())),
      });
    });
  });
}
