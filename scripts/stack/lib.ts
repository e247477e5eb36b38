/**
 * Shared by the stack scripts (`npm run stack:build`, `npm run stack`) and the stack tests:
 * where the binaries are cached, which versions `.env` pins, how to find the `go` command.
 */
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";

export const REPO = path.resolve(__dirname, "..", "..");

/** Built binaries live outside the repo so a fresh clone (and CI on this machine) reuses them. */
export const CACHE_ROOT =
  process.env.TICKTRACE_STACK_CACHE ?? path.join(homedir(), ".cache", "ticktrace", "stack");

/** Runtime state of `npm run stack -- up`: endpoints.json, logs, data (in .gitignore). */
export const STATE_DIR = path.join(REPO, ".stack");

/** Reads KEY=VALUE lines of `.env`, the one place the stack's versions are pinned. */
export function readDotEnv(file = path.join(REPO, ".env")): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const [, key, value] = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim()) ?? [];
    if (key !== undefined && value !== undefined) out[key] = value.trim();
  }
  return out;
}

function imageTag(env: Record<string, string>, key: string): string {
  const image = env[key];
  const tag = image?.split(":")[1];
  if (!tag) throw new Error(`.env: ${key} must be IMAGE:TAG (got ${JSON.stringify(image)})`);
  return tag.replace(/^v/, "");
}

export interface StackVersions {
  /** otelcol-contrib release, e.g. 0.159.0: the builder and every component module. */
  otelcol: string;
  /** Prometheus release, e.g. 3.5.0 (Go module github.com/prometheus/prometheus v0.305.0). */
  prometheus: string;
  /** Alertmanager release, e.g. 0.28.1. */
  alertmanager: string;
  loki: string;
  tempo: string;
}

export function stackVersions(env = readDotEnv()): StackVersions {
  return {
    otelcol: imageTag(env, "OTELCOL_IMAGE"),
    prometheus: imageTag(env, "PROMETHEUS_IMAGE"),
    alertmanager: imageTag(env, "ALERTMANAGER_IMAGE"),
    loki: imageTag(env, "LOKI_IMAGE"),
    tempo: imageTag(env, "TEMPO_IMAGE"),
  };
}

/**
 * Prometheus 3.x.y is tagged v0.3xx.y in its Go module (Go modules cannot move to a major
 * version 3 without a /v3 import path, so the project publishes 3.5.0 as v0.305.0).
 */
export function prometheusModuleVersion(release: string): string {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(release);
  if (!m) throw new Error(`.env: PROMETHEUS_IMAGE tag must be vX.Y.Z (got ${release})`);
  const [, major, minor, patch = ""] = m;
  return `v0.${Number(major) * 100 + Number(minor)}.${patch}`;
}

/** The `go` command: on PATH, else the toolchain's usual place. */
export function goBinary(): string {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (dir && existsSync(path.join(dir, "go"))) return path.join(dir, "go");
  }
  if (existsSync("/usr/local/go/bin/go")) return "/usr/local/go/bin/go";
  throw new Error(
    "stack: the go command (Go 1.26) is needed to build the stack; install Go and put it on PATH",
  );
}

/** Where each binary of the stack is, keyed by component and version (see build.ts). */
export interface StackBinaries {
  otelcol: string;
  prometheus: string;
  promtool: string;
  alertmanager: string;
  amtool: string;
}

export const BINARIES_FILE = path.join(CACHE_ROOT, "binaries.json");

/** Binaries recorded by the last `npm run stack:build`; throws with the fix when missing. */
export function builtBinaries(): StackBinaries {
  if (!existsSync(BINARIES_FILE)) {
    throw new Error(
      `stack: no built binaries (${BINARIES_FILE} is missing); run \`npm run stack:build\` first`,
    );
  }
  const bins = JSON.parse(readFileSync(BINARIES_FILE, "utf8")) as StackBinaries;
  for (const [name, file] of Object.entries(bins) as [string, string][]) {
    if (!existsSync(file))
      throw new Error(`stack: ${name} binary ${file} is missing; run \`npm run stack:build\``);
  }
  return bins;
}
