import { describe, expect, it } from "vitest";
import { parseConfigText } from "../../src/config/index.js";
import { readFileSync } from "node:fs";
import { readYaml, repoPath } from "./helpers.js";

/** Cross-file consistency: every address one config uses is one another config listens on. */

interface Datasource {
  uid: string;
  type: string;
  url: string;
  jsonData: Record<string, unknown>;
}
const datasources = (
  readYaml("deploy/grafana/provisioning/datasources/datasources.yaml") as { datasources: Datasource[] }
).datasources;
const byUid = (uid: string) => datasources.find((d) => d.uid === uid)!;
const loki = readYaml("deploy/loki/loki.yaml") as {
  server: { http_listen_port: number };
  limits_config: { allow_structured_metadata: boolean };
};
const tempo = readYaml("deploy/tempo/tempo.yaml") as {
  server: { http_listen_port: number };
  distributor: { receivers: { otlp: { protocols: { grpc: { endpoint: string } } } } };
};
const collector = readYaml("otel-collector.yaml") as { exporters: Record<string, { endpoint: string }> };
/** The compose value of a `${env:VAR:-default}` address (scripts/stack sets VAR). */
const composeDefault = (value: string) => /^\$\{env:[A-Z0-9_]+:-(.*)\}$/.exec(value)?.[1] ?? value;

describe("deployment wiring", () => {
  it("points the collector's exporters at the ports Loki and Tempo listen on", () => {
    expect(composeDefault(collector.exporters["otlphttp/loki"]!.endpoint)).toBe(
      `http://loki:${loki.server.http_listen_port}/otlp`,
    );
    expect(loki.limits_config.allow_structured_metadata).toBe(true);
    const tempoGrpcPort = tempo.distributor.receivers.otlp.protocols.grpc.endpoint.split(":")[1];
    expect(composeDefault(collector.exporters["otlp/tempo"]!.endpoint)).toBe(`tempo:${tempoGrpcPort!}`);
  });

  it("provisions Prometheus, Loki and Tempo with the fixed UIDs and links between them", () => {
    expect(byUid("prometheus").url).toBe("http://prometheus:9090");
    expect(byUid("loki").url).toBe(`http://loki:${loki.server.http_listen_port}`);
    expect(byUid("tempo").url).toBe(`http://tempo:${tempo.server.http_listen_port}`);
    // Exemplars -> Tempo; trace_id in logs -> Tempo; traces -> logs and service map.
    expect(byUid("prometheus").jsonData.exemplarTraceIdDestinations).toEqual([
      { name: "trace_id", datasourceUid: "tempo", urlDisplayLabel: "View trace" },
    ]);
    const derived = byUid("loki").jsonData.derivedFields as {
      datasourceUid: string;
      matcherRegex: string;
      url: string;
    }[];
    expect(derived.every((f) => f.datasourceUid === "tempo" && f.url === "$${__value.raw}")).toBe(true);
    expect(
      new RegExp(derived.find((f) => f.matcherRegex.includes("("))!.matcherRegex).exec(
        '{"level":"info","trace_id":"842700f306c8010d5f2c81bbcc57552b"}',
      )?.[1],
    ).toBe("842700f306c8010d5f2c81bbcc57552b");
    expect((byUid("tempo").jsonData.tracesToLogsV2 as { datasourceUid: string }).datasourceUid).toBe("loki");
    expect((byUid("tempo").jsonData.serviceMap as { datasourceUid: string }).datasourceUid).toBe(
      "prometheus",
    );
    // The alert module's trace links open this datasource (grafana.tempo_datasource_uid default).
    expect(parseConfigText("", { file: "x.yaml", env: {} }).grafana.tempo_datasource_uid).toBe("tempo");
  });

  it("loads deploy/app/config.yaml as the container sees it", () => {
    const text = readFileSync(repoPath("deploy/app/config.yaml"), "utf8");
    const config = parseConfigText(text, {
      file: "deploy/app/config.yaml",
      env: {
        SERVICE_NAME: "ticktrace-demo",
        DEPLOY_ENV: "compose",
        HEALTH_HOST: "0.0.0.0",
        HEALTH_PORT: "8080",
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://otel-collector:4318",
        ALERTMANAGER_URL: "http://alertmanager:9093",
      },
    });
    expect(config.health).toEqual({ host: "0.0.0.0", port: 8080 });
    expect(config.telemetry.otlp.endpoint).toBe("http://otel-collector:4318");
    expect(config.telemetry.metrics_push.enabled).toBe(false);
    expect(config.alerts.alertmanager.enabled).toBe(true);
    expect(config.alerts.alertmanager.url).toBe("http://alertmanager:9093");
    expect(config.logging.format).toBe("json");
    // Outside a container the same file keeps the health server on loopback.
    expect(parseConfigText(text, { file: "deploy/app/config.yaml", env: {} }).health.host).toBe("127.0.0.1");
  });
});
