import { afterEach, describe, expect, it } from "vitest";
import { createManualClock } from "../../src/clock.js";
import { HealthRegistry } from "../../src/health/registry.js";
import {
  createHealthApp,
  createMetricsApp,
  startHttpServer,
  type ListeningServer,
} from "../../src/health/server.js";

const servers: ListeningServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.shutdown()));
});

async function serve(registry: HealthRegistry, metrics?: Parameters<typeof createHealthApp>[0]["metrics"]) {
  const server = startHttpServer(
    createHealthApp({ registry, ...(metrics ? { metrics } : {}) }),
    "127.0.0.1",
    0,
  );
  servers.push(server);
  await server.ready;
  const get = async (path: string) => {
    const response = await fetch(`${server.url}${path}`);
    const text = await response.text();
    return {
      status: response.status,
      text,
      json: () => JSON.parse(text) as Record<string, unknown>,
      type: response.headers.get("content-type"),
    };
  };
  return { server, get };
}

describe("health status rules", () => {
  it("all up: healthy and ready", () => {
    const registry = new HealthRegistry({ clock: createManualClock() });
    registry.register("exchange:sim", { group: "exchanges", required: true });
    registry.register("market_maker", { group: "workers", expectedIntervalMs: 1_000 });
    registry.workerRan("market_maker", { ok: true, durationMs: 2.5 });
    const report = registry.snapshot();
    expect(report.status).toBe("healthy");
    expect(report.ready).toBe(true);
    expect(report.components).toEqual({
      exchanges: { "exchange:sim": { status: "up" } },
      workers: {
        market_maker: {
          status: "up",
          latency_ms: 2.5,
          last_run: "2026-01-01T00:00:00.000Z",
          last_run_ago: "0s ago",
        },
      },
    });
  });

  it("a stalled worker makes the process degraded, still ready", () => {
    const clock = createManualClock();
    const registry = new HealthRegistry({ clock });
    registry.register("market_maker", { group: "workers", expectedIntervalMs: 1_000 });
    registry.workerRan("market_maker", { ok: true, durationMs: 1 });
    clock.advance(2_000);
    expect(registry.snapshot().status).toBe("healthy");
    clock.advance(1_000);
    const report = registry.snapshot();
    expect(report.status).toBe("degraded");
    expect(report.ready).toBe(true);
    expect(report.components.workers).toEqual({
      market_maker: {
        status: "degraded",
        detail: "stalled: last run 3s ago (expected every 1s)",
        latency_ms: 1,
        last_run: "2026-01-01T00:00:00.000Z",
        last_run_ago: "3s ago",
      },
    });
  });

  it("a worker that never ran is stalled after two intervals", () => {
    const clock = createManualClock();
    const registry = new HealthRegistry({ clock });
    registry.register("risk_monitor", { expectedIntervalMs: 5_000 });
    clock.advance(10_001);
    expect(registry.stateOf("risk_monitor")).toBe("degraded");
    expect(registry.snapshot().components.risk_monitor).toEqual({
      status: "degraded",
      detail: "stalled: has not run yet",
    });
  });

  it("a required component down makes the process unhealthy and unready; an optional one only degraded", () => {
    const registry = new HealthRegistry({ clock: createManualClock() });
    registry.register("exchange:sim", { required: true });
    registry.register("alerts:slack", { group: "alerts" });
    registry.report("alerts:slack", { state: "down", detail: "webhook unreachable" });
    expect(registry.snapshot()).toMatchObject({ status: "degraded", ready: true });
    registry.report("exchange:sim", { state: "down", detail: "disconnected" });
    expect(registry.snapshot()).toMatchObject({ status: "unhealthy", ready: false });
    registry.report("exchange:sim", { state: "up", latencyMs: 12 });
    expect(registry.snapshot()).toMatchObject({ status: "degraded", ready: true });
  });

  it("a failed worker run is degraded with the error", () => {
    const registry = new HealthRegistry({ clock: createManualClock() });
    registry.workerRan("orchestrator", { ok: false, durationMs: 3, error: "exchange timeout" });
    expect(registry.snapshot().components.orchestrator).toMatchObject({
      status: "degraded",
      detail: "exchange timeout",
    });
  });
});

describe("health server", () => {
  it("serves live, ready and the JSON report with the right status codes", async () => {
    const registry = new HealthRegistry();
    registry.register("exchange:sim", { group: "exchanges", required: true });
    const { get } = await serve(registry);

    const live = await get("/health/live");
    expect(live.status).toBe(200);
    expect(live.json().status).toBe("alive");

    expect((await get("/health/ready")).status).toBe(200);
    const healthy = await get("/health");
    expect(healthy.status).toBe(200);
    expect(healthy.type).toMatch(/^application\/json/);
    expect(healthy.json()).toMatchObject({
      status: "healthy",
      ready: true,
      components: { exchanges: { "exchange:sim": { status: "up" } } },
    });
    expect(Number.isNaN(Date.parse(healthy.json().timestamp as string))).toBe(false);

    registry.report("worker", { state: "degraded", detail: "slow" });
    const degraded = await get("/health");
    expect(degraded.status).toBe(200);
    expect(degraded.json().status).toBe("degraded");

    registry.report("exchange:sim", { state: "down", detail: "disconnected" });
    const unhealthy = await get("/health");
    expect(unhealthy.status).toBe(503);
    expect(unhealthy.json()).toMatchObject({
      status: "unhealthy",
      components: { exchanges: { "exchange:sim": { status: "down", detail: "disconnected" } } },
    });
    const unready = await get("/health/ready");
    expect(unready.status).toBe(503);
    expect(unready.json()).toMatchObject({ ready: false, status: "unhealthy" });
    expect((await get("/health/live")).status).toBe(200);
  });

  it("routes the probes as express would: query, trailing slash and case ignored; HEAD without a body; other methods 404", async () => {
    const { server, get } = await serve(new HealthRegistry());
    for (const path of ["/health?verbose=1", "/health/", "/HEALTH", "/health/live/", "/health/Ready?x"]) {
      const response = await get(path);
      expect(response.status, path).toBe(200);
      expect(response.type, path).toBe("application/json; charset=utf-8");
      expect(response.json(), path).toHaveProperty("status");
    }
    const head = await fetch(`${server.url}/health`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("cache-control")).toBe("no-store");
    expect(Number(head.headers.get("content-length"))).toBeGreaterThan(0);
    expect(await head.text()).toBe("");
    const post = await fetch(`${server.url}/health`, { method: "POST" });
    expect(post.status).toBe(404);
    expect((await get("/health/livex")).status).toBe(404);
  });

  it("mounts the metrics handler at /metrics, and says so when there is none", async () => {
    const withMetrics = await serve(new HealthRegistry(), (_request, response) => {
      response.statusCode = 200;
      response.setHeader("content-type", "text/plain");
      response.end("up 1\n");
    });
    expect(await withMetrics.get("/metrics")).toMatchObject({ status: 200, text: "up 1\n" });

    const without = await serve(new HealthRegistry());
    expect(await without.get("/metrics")).toMatchObject({
      status: 404,
      text: "metrics are not served here\n",
    });
    expect(await without.get("/nope")).toMatchObject({
      status: 404,
      text: "not found: try /health, /health/live, /health/ready or /metrics\n",
    });
  });

  it("routes /metrics as express did: query, trailing slash and case ignored, HEAD without a body, other methods 404", async () => {
    let scrapes = 0;
    const { server, get } = await serve(new HealthRegistry(), (_request, response) => {
      scrapes++;
      response.statusCode = 200;
      response.setHeader("content-type", "text/plain");
      response.end("up 1\n");
    });
    for (const path of ["/metrics", "/metrics/", "/METRICS?x=1"]) {
      expect(await get(path), path).toMatchObject({ status: 200, text: "up 1\n", type: "text/plain" });
    }
    const head = await fetch(`${server.url}/metrics`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
    expect(scrapes).toBe(4);
    const post = await fetch(`${server.url}/metrics`, { method: "POST" });
    expect(post.status).toBe(404);
    expect(post.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(await post.text()).toBe("not found: try /health, /health/live, /health/ready or /metrics\n");
  });

  it("a metrics handler that throws answers 500 and the server goes on", async () => {
    const { get } = await serve(new HealthRegistry(), () => {
      throw new Error("collector exploded");
    });
    expect(await get("/metrics")).toMatchObject({
      status: 500,
      text: "# failed to export metrics: collector exploded\n",
    });
    expect((await get("/health/live")).status).toBe(200);
  });

  it("the metrics-only listener (telemetry.metrics_port) serves /metrics and 404s the rest", async () => {
    const server = startHttpServer(
      createMetricsApp((_request, response) => response.end("up 1\n")),
      "127.0.0.1",
      0,
    );
    servers.push(server);
    await server.ready;
    expect(await (await fetch(`${server.url}/metrics`)).text()).toBe("up 1\n");
    const other = await fetch(`${server.url}/health`);
    expect(other.status).toBe(404);
    expect(await other.text()).toBe("not found: try /metrics\n");
  });

  it("port 0 picks a free port; a taken port is reported with a fix", async () => {
    const { server } = await serve(new HealthRegistry());
    expect(server.port).toBeGreaterThan(0);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
    const clash = startHttpServer(
      createHealthApp({ registry: new HealthRegistry() }),
      "127.0.0.1",
      server.port,
    );
    servers.push(clash);
    await expect(clash.ready).rejects.toThrow(
      `health server cannot listen on 127.0.0.1:${server.port}: EADDRINUSE (another process uses it: set health.port, or 0 for a free port)`,
    );
  });

  it("shutdown is idempotent and closes keep-alive connections", async () => {
    const { server, get } = await serve(new HealthRegistry());
    expect((await get("/health/live")).status).toBe(200);
    await Promise.all([server.shutdown(), server.shutdown()]);
    await server.shutdown();
    await expect(fetch(`${server.url}/health/live`)).rejects.toThrow();
  });
});
