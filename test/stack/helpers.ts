/**
 * Helpers of the stack tests: a stack of real servers per test file (scripts/stack), the
 * reference process as a user runs it (`node --require ./dist/tracing.js dist/main.js`), and a
 * fake Telegram Bot API on 127.0.0.1 that checks Alertmanager's requests.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { stringify } from "yaml";
import { REPO } from "../../scripts/stack/lib.js";
import { down, up, type StackState, type UpOptions } from "../../scripts/stack/stack.js";
import { waitFor as pollFor } from "../deploy/helpers.js";
import { pickPort as freePort } from "../support/processes.js";

export { freePort };

/** Polls `check` (sync or async) until it returns a value other than undefined. */
export function waitFor<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs?: number,
): Promise<T> {
  return pollFor(what, async () => await check(), timeoutMs);
}
export const SERVICE = "ticktrace-demo";

export interface TestStack {
  state: StackState;
  stateDir: string;
  stop(): Promise<void>;
  /** The tail of one server's log, for failure messages. */
  log(name: string): string;
}

export async function startStack(options: Omit<UpOptions, "stateDir"> = {}): Promise<TestStack> {
  const stateDir = mkdtempSync(path.join(tmpdir(), "ticktrace-stack-"));
  const state = await up({ ...options, stateDir });
  return {
    state,
    stateDir,
    stop: async () => {
      await down({ stateDir });
      if (!process.env.KEEP_STACK) rmSync(stateDir, { recursive: true, force: true });
    },
    log: (name) => {
      const f = path.join(stateDir, "logs", `${name}.log`);
      return existsSync(f) ? readFileSync(f, "utf8").split("\n").slice(-40).join("\n") : "(no log)";
    },
  };
}

export interface App {
  readonly child: ChildProcess;
  readonly url: string;
  readonly target: string;
  readonly dir: string;
  output: string;
  exited: Promise<number | null>;
}

/**
 * Starts the reference process with a config file of its own (written from `config`) and the
 * built preload, as a user does. `port` is its health port (/metrics, /health).
 */
export function startApp(options: {
  scenario: string;
  durationS: number;
  port: number;
  config: Record<string, unknown>;
  env?: Record<string, string>;
}): App {
  if (!existsSync(path.join(REPO, "dist/main.js")))
    throw new Error("dist/ missing: run npx tsc -p tsconfig.build.json");
  const dir = mkdtempSync(path.join(tmpdir(), "ticktrace-app-"));
  mkdirSync(path.join(dir, "logs"));
  const configFile = path.join(dir, "config.yaml");
  writeFileSync(configFile, stringify(options.config));
  const child = spawn(
    process.execPath,
    [
      "--require",
      path.join(REPO, "dist/tracing.js"),
      path.join(REPO, "dist/main.js"),
      "--scenario",
      options.scenario,
      "--duration",
      String(options.durationS),
      "--seed",
      "7",
      "--config",
      configFile,
    ],
    {
      cwd: dir,
      env: { PATH: process.env.PATH, HOME: dir, NODE_ENV: "production", ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const app: App = {
    child,
    url: `http://127.0.0.1:${options.port}`,
    target: `127.0.0.1:${options.port}`,
    dir,
    output: "",
    exited: new Promise((done) => child.once("exit", (code) => done(code))),
  };
  const keep = (chunk: Buffer) => (app.output = (app.output + chunk.toString()).slice(-200_000));
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  return app;
}

/** The app config the stack tests share; `extra` is merged over it one level deep. */
export function appConfig(options: {
  port: number;
  otlpEndpoint: string;
  alertmanagerUrls?: string[];
  metricsPush?: boolean;
  extra?: Record<string, Record<string, unknown>>;
}): Record<string, unknown> {
  const base: Record<string, Record<string, unknown>> = {
    service: { name: SERVICE, environment: "stack-test" },
    health: { host: "127.0.0.1", port: options.port },
    telemetry: {
      metrics_enabled: true,
      otlp: { endpoint: options.otlpEndpoint },
      metrics_push: { enabled: options.metricsPush ?? false, interval_ms: 2_000 },
    },
    logging: { level: "info", format: "json" },
    alerts: {
      enabled: true,
      jsonl: { dir: "logs/alerts" },
      ...(options.alertmanagerUrls
        ? {
            alertmanager: {
              enabled: true,
              url: options.alertmanagerUrls,
              min_level: "WARNING",
              resend_interval_ms: 10_000,
            },
          }
        : {}),
    },
    trading: { scenario: { incident_after_ms: 15_000 } },
  };
  for (const [k, v] of Object.entries(options.extra ?? {})) base[k] = { ...base[k], ...v };
  return base;
}

/** Stops the process (SIGTERM, SIGKILL after 15 s) and removes its working directory. */
export async function stopApp(app: App | undefined): Promise<void> {
  if (!app) return;
  if (app.child.exitCode === null && app.child.signalCode === null) {
    app.child.kill("SIGTERM");
    const timer = setTimeout(() => app.child.kill("SIGKILL"), 15_000);
    await app.exited;
    clearTimeout(timer);
  }
  if (!process.env.KEEP_STACK) rmSync(app.dir, { recursive: true, force: true });
}

interface PromResult {
  metric: Record<string, string>;
  value?: [number, string];
}

/** An instant PromQL query; throws on an API error. */
export async function promQuery(prometheus: string, expr: string): Promise<PromResult[]> {
  const r = await fetch(`${prometheus}/api/v1/query`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ query: expr }),
  });
  const body = (await r.json()) as { status: string; error?: string; data?: { result: PromResult[] } };
  if (body.status !== "success") throw new Error(`PromQL ${expr}: ${String(body.error)}`);
  return body.data!.result;
}

export interface TelegramMessage {
  at: number;
  chatId: string;
  text: string;
}

/**
 * A fake Telegram Bot API: a real HTTP server on 127.0.0.1 that accepts only
 * `POST /bot<token>/sendMessage` with the expected token and a chat id and text, answering as
 * Telegram does; anything else is answered 404 and recorded as a bad request.
 */
export interface FakeTelegram {
  readonly url: string;
  readonly messages: TelegramMessage[];
  readonly bad: string[];
  close(): Promise<void>;
}

export function startFakeTelegram(token: string): Promise<FakeTelegram> {
  const messages: TelegramMessage[] = [];
  const bad: string[] = [];
  const server = http.createServer((req, res) => {
    let raw = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => (raw += c));
    req.on("end", () => {
      const answer = (status: number, body: unknown): void => {
        res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
      };
      if (req.method !== "POST" || req.url !== `/bot${token}/sendMessage`) {
        bad.push(`${String(req.method)} ${String(req.url)}`);
        answer(404, { ok: false, error_code: 404, description: "Not Found" });
        return;
      }
      let params: Record<string, unknown> = {};
      const type = req.headers["content-type"] ?? "";
      if (type.includes("json")) params = JSON.parse(raw) as Record<string, unknown>;
      else params = Object.fromEntries(new URLSearchParams(raw));
      const chatId =
        typeof params.chat_id === "string" || typeof params.chat_id === "number"
          ? String(params.chat_id)
          : "";
      const text = typeof params.text === "string" ? params.text : "";
      if (!chatId || !text) {
        bad.push(`sendMessage without chat_id or text: ${raw.slice(0, 200)}`);
        answer(400, { ok: false, error_code: 400, description: "Bad Request: message text is empty" });
        return;
      }
      messages.push({ at: Date.now(), chatId, text });
      answer(200, {
        ok: true,
        result: {
          message_id: messages.length,
          date: Math.floor(Date.now() / 1000),
          chat: { id: Number(chatId), type: "supergroup" },
          text,
        },
      });
    });
  });
  return new Promise((done) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      done({
        url: `http://127.0.0.1:${port}`,
        messages,
        bad,
        close: () => new Promise<void>((closed) => server.close(() => closed())),
      });
    });
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
