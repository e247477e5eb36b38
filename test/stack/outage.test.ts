import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restart, stopProcess } from "../../scripts/stack/stack.js";
import {
  SERVICE,
  appConfig,
  freePort,
  promQuery,
  sleep,
  startApp,
  startStack,
  stopApp,
  waitFor,
  type App,
  type TestStack,
} from "./helpers.js";
import {
  startGrpcTraceCapture,
  startHttpLogCapture,
  type GrpcTraceCapture,
  type HttpLogCapture,
} from "./otlp-capture.js";

/**
 * The collector stopped for 60 s and started again, the reference process trading throughout:
 * its tick rate and /health/live are unaffected, /health reports the outage (and the log says so
 * once), and what the process sends after the restart arrives: metrics in Prometheus (OTLP
 * push), traces and logs at the collector's Tempo and Loki exporters (OTLP servers of this test,
 * Tempo and Loki are not built here).
 */
const OUTAGE_MS = 60_000;

let stack: TestStack;
let app: App | undefined;
let tempo: GrpcTraceCapture;
let loki: HttpLogCapture;

beforeAll(async () => {
  [tempo, loki] = await Promise.all([startGrpcTraceCapture(), startHttpLogCapture()]);
  const port = await freePort();
  stack = await startStack({
    appTarget: `127.0.0.1:${port}`,
    interval: "5s",
    alertmanagers: 1,
    lokiOtlpEndpoint: loki.url,
    tempoOtlpGrpcEndpoint: tempo.address,
  });
  app = startApp({
    scenario: "calm",
    durationS: 600,
    port,
    config: appConfig({ port, otlpEndpoint: stack.state.endpoints.otlp_http, metricsPush: true }),
  });
});

afterAll(async () => {
  await stopApp(app);
  // Unset when beforeAll failed.
  await (stack as TestStack | undefined)?.stop();
  await Promise.all([
    (tempo as GrpcTraceCapture | undefined)?.close(),
    (loki as HttpLogCapture | undefined)?.close(),
  ]);
});

async function ticks(): Promise<number> {
  const text = await (await fetch(`${app!.url}/metrics`)).text();
  return [...text.matchAll(/^trading_ticks_total(?:\{[^}]*\})? (\S+)$/gm)].reduce(
    (a, m) => a + Number(m[1]),
    0,
  );
}

/** Ticks per second over `ms`. */
async function tickRate(ms: number): Promise<number> {
  const a = await ticks();
  await sleep(ms);
  return ((await ticks()) - a) / (ms / 1000);
}

describe("collector outage of 60 s", () => {
  it("trading and /health/live are unaffected; data sent after the restart arrives", async () => {
    const prometheus = stack.state.endpoints.prometheus;
    await waitFor(
      "pushed metrics in Prometheus",
      async () =>
        (await promQuery(prometheus, `trading_ticks_total{service_name="${SERVICE}"}`)).length
          ? true
          : undefined,
      60_000,
    );
    const before = await tickRate(10_000);
    expect(before).toBeGreaterThan(0);

    const collector = stack.state.processes.find((p) => p.name === "otelcol")!;
    await stopProcess(collector);
    const stoppedAt = Date.now();
    let liveChecks = 0;
    let liveSlowest = 0;
    let degradedSeen = false;
    const during: number[] = [];
    let last = await ticks();
    let lastAt = Date.now();
    while (Date.now() - stoppedAt < OUTAGE_MS) {
      const t0 = Date.now();
      const live = await fetch(`${app!.url}/health/live`);
      liveSlowest = Math.max(liveSlowest, Date.now() - t0);
      expect(live.status).toBe(200);
      liveChecks++;
      const health = (await (await fetch(`${app!.url}/health`)).json()) as {
        components: { telemetry?: { status: string } };
      };
      if (health.components.telemetry?.status === "degraded") degradedSeen = true;
      await sleep(2_000);
      const now = await ticks();
      during.push((now - last) / ((Date.now() - lastAt) / 1000));
      last = now;
      lastAt = Date.now();
    }
    const duringRate = during.slice(1).reduce((a, b) => a + b, 0) / Math.max(1, during.length - 1);
    expect(liveChecks).toBeGreaterThan(20);
    expect(liveSlowest, "slowest /health/live during the outage, ms").toBeLessThan(500);
    expect(degradedSeen, "/health reported the telemetry outage").toBe(true);
    expect(
      duringRate / before,
      `tick rate ${before.toFixed(1)}/s before, ${duringRate.toFixed(1)}/s during`,
    ).toBeGreaterThan(0.8);

    const restartedAt = Date.now();
    await restart("otelcol", stack.stateDir);
    const spansBefore = tempo.spans.length;
    const logsBefore = loki.logs.length;
    // Metrics: a pushed sample newer than the restart.
    await waitFor(
      "a pushed sample after the restart",
      async () => {
        const r = await promQuery(prometheus, `timestamp(trading_ticks_total{service_name="${SERVICE}"})`);
        return r.some((x) => Number(x.value![1]) * 1000 > restartedAt) ? true : undefined;
      },
      60_000,
    );
    await waitFor(
      "spans after the restart",
      () => (tempo.spans.length > spansBefore ? true : undefined),
      60_000,
    );
    // The process logs a status line every status_interval_ms (10 s).
    await waitFor(
      "log records after the restart",
      () => (loki.logs.length > logsBefore ? true : undefined),
      60_000,
    );

    const health = (await (await fetch(`${app!.url}/health`)).json()) as {
      components: { telemetry?: { status: string } };
    };
    await waitFor(
      "/health telemetry up again",
      async () => {
        const h = (await (await fetch(`${app!.url}/health`)).json()) as {
          components: { telemetry?: { status: string } };
        };
        return h.components.telemetry?.status === "up" ? true : undefined;
      },
      60_000,
    ).catch(() => {
      throw new Error(`/health after the restart: ${JSON.stringify(health)}`);
    });
    // The outage is reported once in the process's log, not once per failed export.
    const reports = app!.output
      .split("\n")
      .filter((l) => l.includes("failed; retrying quietly until it recovers"));
    expect(reports, reports.join("\n")).toHaveLength(1);
  });
});
