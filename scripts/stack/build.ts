/**
 * `npm run stack:build`: builds every server of the observability stack from its Go module, at
 * the versions `.env` pins, into a cache outside the repo (~/.cache/ticktrace/stack). Nothing
 * but Go modules is downloaded: no release binary, no image.
 *
 * Each build goes into `<cache>/<component>-<version>-<key>/`, where `key` hashes everything the
 * build depends on (the recipe version below, the Go version, the manifest for the collector). A
 * directory with its `.done` stamp is reused as it is, so a second run with nothing changed only
 * hashes a few files and takes seconds. The Go module and build caches (`go env GOMODCACHE`,
 * `GOCACHE`) are the machine's shared ones, so even a changed key rebuilds only what changed.
 *
 * Loki and Tempo are not built: see SKIPPED below and docs/stack.md.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  chmodSync,
  readdirSync,
  statSync,
} from "node:fs";
import path from "node:path";
import YAML from "yaml";
import {
  BINARIES_FILE,
  CACHE_ROOT,
  REPO,
  goBinary,
  prometheusModuleVersion,
  stackVersions,
  type StackBinaries,
} from "./lib.js";

/** Bump to rebuild everything (a change of flags or steps below). */
const RECIPE = "1";

/**
 * Servers of the compose stack that this command does not build, with the reason. The module
 * proxy this project builds from marks both modules not-to-use (they are AGPL-3.0 licensed,
 * ticktrace is Apache-2.0), so they are left out rather than worked around.
 */
export const SKIPPED: Record<string, string> = {
  loki: "github.com/grafana/loki/v3 is marked not-to-use on the module proxy this project builds from (AGPL-3.0)",
  tempo:
    "github.com/grafana/tempo is marked not-to-use on the module proxy this project builds from (AGPL-3.0)",
  pint: 'github.com/cloudflare/pint is refused by the module proxy (403 "This module version is not available" for @latest and v0.74.8)',
};

// Resolved on first use, so importing this file (the manifest test does) runs nothing.
let goCmd: string | undefined;
let goVer: string | undefined;
function goPath(): string {
  return (goCmd ??= goBinary());
}
function goVersionOf(): string {
  return (goVer ??= execFileSync(goPath(), ["env", "GOVERSION"], { encoding: "utf8" }).trim());
}

function log(msg: string): void {
  process.stdout.write(`stack:build: ${msg}\n`);
}

function key(...parts: string[]): string {
  return createHash("sha256")
    .update([RECIPE, goVersionOf(), ...parts].join("\0"))
    .digest("hex")
    .slice(0, 10);
}

/** Runs a go command niced (the machine is shared), streaming its output into a log file. */
function run(
  cmd: string,
  args: string[],
  opts: { cwd: string; env?: NodeJS.ProcessEnv; logFile: string },
): void {
  const started = Date.now();
  const r = spawnSync("nice", ["-n", "10", cmd, ...args], {
    cwd: opts.cwd,
    env: {
      ...process.env,
      ...opts.env,
      PATH: `${path.dirname(goPath())}${path.delimiter}${process.env.PATH ?? ""}`,
    },
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
  const output = `${orEmpty(r.stdout)}${orEmpty(r.stderr)}`;
  writeFileSync(opts.logFile, `$ ${cmd} ${args.join(" ")}\n${output}`, {
    flag: "a",
  });
  if (r.status !== 0) {
    const tail = output.trim().split("\n").slice(-15).join("\n");
    throw new Error(
      `stack:build: \`${cmd} ${args.join(" ")}\` failed in ${opts.cwd} (log: ${opts.logFile}):\n${tail}`,
    );
  }
  log(`  ${path.basename(cmd)} ${args[0] ?? ""} done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

/**
 * Builds (or reuses) one component: `steps(dir, logFile)` fills `dir/bin`; the `.done` stamp is
 * written only after every step succeeded, so an interrupted build is redone, never half used.
 */
function cached(
  name: string,
  version: string,
  k: string,
  bins: string[],
  steps: (dir: string, logFile: string) => void,
): string {
  const dir = path.join(CACHE_ROOT, `${name}-${version}-${k}`);
  const stamp = path.join(dir, ".done");
  if (existsSync(stamp) && bins.every((b) => existsSync(path.join(dir, "bin", b)))) {
    log(`${name} ${version}: cached (${dir})`);
    return dir;
  }
  log(`${name} ${version}: building into ${dir}`);
  const started = Date.now();
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(path.join(dir, "bin"), { recursive: true });
  const logFile = path.join(dir, "build.log");
  steps(dir, logFile);
  for (const b of bins) {
    if (!existsSync(path.join(dir, "bin", b)))
      throw new Error(`stack:build: ${name}: ${b} was not produced (log: ${logFile})`);
  }
  const seconds = Math.round((Date.now() - started) / 1000);
  writeFileSync(
    stamp,
    JSON.stringify({ version, key: k, go: goVersionOf(), seconds, at: new Date().toISOString() }) + "\n",
  );
  log(`${name} ${version}: built in ${seconds} s`);
  return dir;
}

/** `go mod download -json MODULE@VERSION` -> the read-only module directory in GOMODCACHE. */
function downloadModule(mod: string, version: string, cwd: string, logFile: string): string {
  const r = spawnSync("nice", ["-n", "10", goPath(), "mod", "download", "-json", `${mod}@${version}`], {
    cwd,
    encoding: "utf8",
  });
  writeFileSync(logFile, `$ go mod download -json ${mod}@${version}\n${r.stdout}${r.stderr}`, { flag: "a" });
  const info = JSON.parse(r.stdout || "{}") as { Dir?: string; Error?: string };
  if (r.status !== 0 || !info.Dir)
    throw new Error(`stack:build: go mod download ${mod}@${version} failed: ${info.Error ?? r.stderr}`);
  return info.Dir;
}

/** Copies a module out of the read-only module cache into `dest`, writable. */
function writableCopy(src: string, dest: string): void {
  cpSync(src, dest, { recursive: true });
  const walk = (p: string): void => {
    const st = statSync(p);
    chmodSync(p, st.mode | 0o200);
    if (st.isDirectory()) for (const e of readdirSync(p)) walk(path.join(p, e));
  };
  walk(dest);
}

/** Every `gomod:` line of the builder manifest must be at the contrib release `.env` pins. */
export function checkManifestVersions(manifest: string, otelcol: string): void {
  const doc = YAML.parse(manifest) as Record<string, unknown>;
  for (const kind of ["extensions", "receivers", "processors", "connectors", "exporters"]) {
    for (const entry of (doc[kind] as { gomod: string }[] | undefined) ?? []) {
      const version = entry.gomod.split(/\s+/)[1];
      if (version !== `v${otelcol}`) {
        throw new Error(
          `deploy/otelcol/builder.yaml: ${kind} ${entry.gomod} must be at v${otelcol}, the otelcol-contrib release OTELCOL_IMAGE pins in .env`,
        );
      }
    }
  }
}

function buildCollector(version: string): string {
  const manifestFile = path.join(REPO, "deploy", "otelcol", "builder.yaml");
  const manifest = readFileSync(manifestFile, "utf8");
  checkManifestVersions(manifest, version);
  const dir = cached("otelcol", version, key("otelcol", manifest), ["otelcol-ticktrace"], (dir, logFile) => {
    // 1. The official OpenTelemetry Collector Builder at the release's own version: `go install`
    //    works for it (its go.mod has no replace directives), into this build's directory.
    run(goPath(), ["install", `go.opentelemetry.io/collector/cmd/builder@v${version}`], {
      cwd: dir,
      env: { GOBIN: path.join(dir, "builder") },
      logFile,
    });
    // 2. The committed manifest plus an output_path in the cache: the builder writes the
    //    generated main package there, runs `go mod tidy` and `go build` on it (a normal module
    //    build through the module proxy; contrib components have no replace directives).
    const doc = YAML.parse(manifest) as { dist: Record<string, unknown> };
    doc.dist.output_path = path.join(dir, "src");
    const rendered = path.join(dir, "builder.yaml");
    writeFileSync(rendered, YAML.stringify(doc));
    run(path.join(dir, "builder", "builder"), ["--config", rendered], { cwd: dir, logFile });
    cpSync(path.join(dir, "src", "otelcol-ticktrace"), path.join(dir, "bin", "otelcol-ticktrace"));
  });
  return path.join(dir, "bin", "otelcol-ticktrace");
}

/** spawnSync's output, which is null when the command could not be started. */
function orEmpty(text: string | null): string {
  return text ?? "";
}

function buildPrometheus(version: string): { prometheus: string; promtool: string } {
  const modVersion = prometheusModuleVersion(version);
  const dir = cached(
    "prometheus",
    version,
    key("prometheus", modVersion),
    ["prometheus", "promtool"],
    (dir, logFile) => {
      // 1. `go install github.com/prometheus/prometheus/cmd/prometheus@...` is refused: the
      //    module's go.mod has replace and exclude directives, which `go install pkg@version`
      //    does not allow. So download the module itself (module zip, via the proxy)...
      const src = downloadModule("github.com/prometheus/prometheus", modVersion, dir, logFile);
      // 2. ...and copy it out of the module cache, which is read-only, so that the go command may
      //    write go.sum updates and build state inside it as the project's Makefile does.
      writableCopy(src, path.join(dir, "src"));
      // 3. Build both commands inside it, as the main module (its replace/exclude now apply).
      //    netgo: the pure-Go resolver, as the release binaries use. remove_all_sd: leave out the
      //    cloud service discoveries (Kubernetes, AWS, Azure, GCE, ...) that the stack does not
      //    use; static_configs still work, and the build is much smaller and faster. The web UI's
      //    assets are not embedded (no `builtinassets` tag, which would need npm to build them):
      //    the HTTP API, /-/ready and the OTLP receiver do not need them.
      run(
        goPath(),
        [
          "build",
          "-trimpath",
          // What `prometheus --version` prints (the Makefile's promu sets the same variable).
          `-ldflags=-X github.com/prometheus/common/version.Version=${version}`,
          "-tags",
          "netgo,remove_all_sd",
          "-o",
          path.join(dir, "bin") + "/",
          "./cmd/prometheus",
          "./cmd/promtool",
        ],
        {
          cwd: path.join(dir, "src"),
          logFile,
        },
      );
      // The copied source is only needed for the build; drop it to keep the cache small.
      rmSync(path.join(dir, "src"), { recursive: true, force: true });
    },
  );
  return { prometheus: path.join(dir, "bin", "prometheus"), promtool: path.join(dir, "bin", "promtool") };
}

function buildAlertmanager(version: string): { alertmanager: string; amtool: string } {
  const dir = cached(
    "alertmanager",
    version,
    key("alertmanager"),
    ["alertmanager", "amtool"],
    (dir, logFile) => {
      // Alertmanager's go.mod has no replace or exclude directives, so `go install` at the
      // release tag builds both commands straight from the module proxy (web UI assets are
      // committed, generated Go files in the module).
      run(
        goPath(),
        [
          "install",
          "-trimpath",
          `-ldflags=-X github.com/prometheus/common/version.Version=${version}`,
          `github.com/prometheus/alertmanager/cmd/alertmanager@v${version}`,
          `github.com/prometheus/alertmanager/cmd/amtool@v${version}`,
        ],
        { cwd: dir, env: { GOBIN: path.join(dir, "bin") }, logFile },
      );
    },
  );
  return { alertmanager: path.join(dir, "bin", "alertmanager"), amtool: path.join(dir, "bin", "amtool") };
}

function main(): void {
  const started = Date.now();
  const v = stackVersions();
  mkdirSync(CACHE_ROOT, { recursive: true });
  log(`${goVersionOf()}; cache ${CACHE_ROOT}`);
  const binaries: StackBinaries = {
    otelcol: buildCollector(v.otelcol),
    ...buildPrometheus(v.prometheus),
    ...buildAlertmanager(v.alertmanager),
  };
  writeFileSync(BINARIES_FILE, JSON.stringify(binaries, null, 2) + "\n");
  for (const [name, reason] of Object.entries(SKIPPED)) log(`${name}: not built: ${reason}`);
  log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s; binaries listed in ${BINARIES_FILE}`);
}

if (require.main === module) {
  try {
    main();
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
  }
}
