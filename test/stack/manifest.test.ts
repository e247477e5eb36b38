import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { checkManifestVersions } from "../../scripts/stack/build.js";
import { REPO, stackVersions } from "../../scripts/stack/lib.js";

/**
 * The slim collector distribution (deploy/otelcol/builder.yaml) and otel-collector.yaml must name
 * the same components, so neither drifts: a component the config uses but the build lacks fails
 * `otelcol validate`; one the build has but the config does not use is dead weight.
 */
type Kind = "receivers" | "processors" | "exporters" | "connectors" | "extensions";
const KINDS: Kind[] = ["receivers", "processors", "exporters", "connectors", "extensions"];

const manifestText = readFileSync(path.join(REPO, "deploy/otelcol/builder.yaml"), "utf8");
const manifest = parse(manifestText) as Record<Kind, { gomod: string }[] | undefined>;
const config = parse(readFileSync(path.join(REPO, "otel-collector.yaml"), "utf8")) as Record<
  Kind,
  Record<string, unknown>
>;

/** Component type of a module path, as the collector names it (`.../otlphttpexporter` -> `otlphttp`). */
function typeOfModule(gomod: string): string {
  const base = gomod.split(/\s+/)[0]!.split("/").at(-1)!;
  return base.replace(/(receiver|processor|exporter|connector|extension)$/, "");
}
/** `otlphttp/loki` -> `otlphttp`, `memory_limiter` -> `memorylimiter`, `health_check` -> `healthcheck`. */
function typeOfId(id: string): string {
  return id.split("/")[0]!.replaceAll("_", "");
}

describe("deploy/otelcol/builder.yaml", () => {
  for (const kind of KINDS) {
    it(`names the same ${kind} as otel-collector.yaml`, () => {
      const built = new Set((manifest[kind] ?? []).map((e) => typeOfModule(e.gomod)));
      const used = new Set(
        Object.keys((config[kind] as Record<string, unknown> | undefined) ?? {}).map(typeOfId),
      );
      expect([...built].sort(), `${kind}: manifest vs config`).toEqual([...used].sort());
    });
  }

  it("pins every component at the otelcol-contrib release of .env", () => {
    expect(() => checkManifestVersions(manifestText, stackVersions().otelcol)).not.toThrow();
    expect(() => checkManifestVersions(manifestText, "0.1.0")).toThrow(/OTELCOL_IMAGE/);
  });

  it("takes each module path from the otelcol-contrib distribution manifest", () => {
    // kind, type, Go module of every component of otelcol-contrib 0.159.0.
    const modules = new Map<string, string>();
    for (const line of readFileSync(
      "/work/shared/reference/otelcol-contrib-0.159.0-components.tsv",
      "utf8",
    ).split("\n")) {
      if (line.startsWith("#") || !line.trim()) continue;
      const [kind, type, mod] = line.split("\t");
      modules.set(`${kind!}s/${type!}`, mod!);
    }
    for (const kind of KINDS) {
      for (const { gomod } of manifest[kind] ?? []) {
        expect(gomod.split(/\s+/)[0], `${kind} ${typeOfModule(gomod)}`).toBe(
          modules.get(`${kind}/${typeOfModule(gomod)}`),
        );
      }
    }
  });
});
