import { readFileSync } from "node:fs";
import Ajv from "ajv";
import addFormats from "ajv-formats";
import { describe, expect, it } from "vitest";
import { readYaml, repoPath } from "./helpers.js";

interface ComposeService {
  image?: string;
  build?: unknown;
  ports?: unknown[];
  healthcheck?: { test: unknown };
  mem_limit?: string;
  logging?: { driver: string; options: Record<string, string> };
  volumes?: string[];
  environment?: Record<string, string>;
  command?: string[];
}
interface Compose {
  services: Record<string, ComposeService>;
  volumes: Record<string, unknown>;
}

const compose = readYaml("docker-compose.yml") as Compose;
const envFile = Object.fromEntries(
  readFileSync(repoPath(".env"), "utf8")
    .split("\n")
    .filter((line) => /^[A-Z_]+=/.test(line))
    .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
);

describe("docker-compose.yml", () => {
  it("validates against the Compose specification schema", () => {
    const schema = JSON.parse(readFileSync("/work/shared/reference/compose-spec.json", "utf8"));
    delete schema.$schema; // draft-07 under an https URL Ajv does not know by that name
    const ajv = new Ajv({ allErrors: true, strict: false });
    addFormats(ajv);
    const validate = ajv.compile(schema);
    const valid = validate(compose);
    expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([]);
    expect(valid).toBe(true);
  });

  it("runs the seven services, every image pinned in .env to an exact version", () => {
    expect(Object.keys(compose.services).sort()).toEqual(
      ["alertmanager", "app", "grafana", "loki", "otel-collector", "prometheus", "tempo"].sort(),
    );
    for (const [name, service] of Object.entries(compose.services)) {
      if (name === "app") continue;
      const variable = /^\$\{([A-Z_]+)\}$/.exec(service.image ?? "")?.[1];
      expect(variable, `${name}: image must come from .env`).toBeDefined();
      const image = envFile[variable!];
      expect(image, `${variable!} in .env`).toMatch(/^[\w./-]+:v?\d+\.\d+\.\d+$/);
    }
    expect(envFile.OTELCOL_IMAGE).toBe("otel/opentelemetry-collector-contrib:0.159.0");
    expect(envFile.PROMETHEUS_IMAGE).toMatch(/:v3\./);
    expect(envFile.LOKI_IMAGE).toMatch(/:3\./);
  });

  it("publishes only Grafana's port, on loopback by default, with the admin password from the environment", () => {
    const published = Object.entries(compose.services).filter(([, s]) => (s.ports ?? []).length > 0);
    expect(published.map(([name]) => name)).toEqual(["grafana"]);
    expect(compose.services.grafana!.ports).toEqual([
      "${GRAFANA_BIND:-127.0.0.1}:${GRAFANA_PORT:-3000}:3000",
    ]);
    expect(compose.services.grafana!.environment!.GF_SECURITY_ADMIN_PASSWORD).toMatch(
      /^\$\{GRAFANA_ADMIN_PASSWORD:\?/,
    );
  });

  it("gives every service a memory limit and capped logs, and data named volumes", () => {
    for (const [name, service] of Object.entries(compose.services)) {
      expect(service.mem_limit, name).toMatch(/^\d+[mg]$/);
      expect(service.logging, name).toEqual({
        driver: "json-file",
        options: { "max-size": "10m", "max-file": "3" },
      });
      for (const volume of service.volumes ?? []) {
        const source = volume.split(":")[0]!;
        if (!source.startsWith("."))
          expect(Object.keys(compose.volumes), `${name}: ${volume}`).toContain(source);
      }
    }
  });

  it("health-checks every service whose image has a probe (the distroless collector is watched by Prometheus)", () => {
    for (const [name, service] of Object.entries(compose.services)) {
      if (name === "otel-collector") continue;
      expect(service.healthcheck?.test, name).toBeDefined();
    }
  });

  it("runs the reference process with the preload against the collector", () => {
    const app = compose.services.app!;
    expect(app.command!.slice(0, 4)).toEqual(["node", "--require", "./dist/tracing.js", "dist/main.js"]);
    expect(app.command).toContain("deploy/app/config.yaml");
    expect(app.environment!.OTEL_EXPORTER_OTLP_ENDPOINT).toBe("http://otel-collector:4318");
    expect(app.environment!.HEALTH_HOST).toBe("0.0.0.0");
    const dockerfile = readFileSync(repoPath("Dockerfile"), "utf8");
    expect(dockerfile).toMatch(/FROM \$\{NODE_IMAGE\} AS build/);
    expect(dockerfile).toMatch(/FROM \$\{NODE_IMAGE\} AS runtime/);
    expect(dockerfile).toContain('CMD ["node", "--require", "./dist/tracing.js", "dist/main.js"');
  });
});
