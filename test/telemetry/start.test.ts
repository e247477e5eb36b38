import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { metrics, trace } from "@opentelemetry/api";
import { afterEach, describe, expect, it } from "vitest";
import { parseConfigText } from "../../src/config/index.js";
import { TicktraceError } from "../../src/errors.js";
import { loadInstrumentations } from "../../src/telemetry/instrumentations.js";
import { applicationVersion, buildResource } from "../../src/telemetry/sdk.js";
import type { Runtime } from "../../src/runtime/runtime.js";
import { getRuntime, startRuntime, startRuntimeWith } from "../../src/runtime/start.js";
import { captureLogger } from "../logging/capture.js";
import { sourceModules } from "../runtime/source-modules.js";
import { retryOnAddressInUse } from "../support/processes.js";
import { tempDir } from "./helpers.js";

const runtimes: Runtime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((runtime) => runtime.shutdown()));
});

function config(yaml: string) {
  return parseConfigText(yaml, { file: "test.yaml", env: {} });
}

async function start(yaml: string, options: Parameters<typeof startRuntime>[1] = {}) {
  const { entries, logger } = captureLogger();
  const runtime = await startRuntimeWith(config(yaml), { logger, modules: sourceModules, ...options });
  runtimes.push(runtime);
  return { runtime, entries };
}

describe("startRuntime", () => {
  it("with telemetry disabled: health is served, metrics are no-ops, getRuntime returns it until shutdown", async () => {
    expect(() => getRuntime()).toThrow(
      "getRuntime: no ticktrace runtime is running; start the process with `node --require ticktrace/tracing your-bot.js` (or `--import`), or call `await startRuntime(config)` first",
    );
    const { runtime } = await start("health:\n  port: 0\ntelemetry:\n  enabled: false\n");
    expect(getRuntime()).toBe(runtime);
    expect(runtime.healthUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(runtime.healthUrl).not.toBe("http://127.0.0.1:0");
    const health = await fetch(`${runtime.healthUrl}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: "healthy", components: {} });
    const scrape = await fetch(`${runtime.healthUrl}/metrics`);
    expect(scrape.status).toBe(404);
    expect(await scrape.text()).toBe(
      "metrics are disabled (telemetry.enabled / telemetry.metrics_enabled)\n",
    );
    expect(() => runtime.metrics.ordersPlaced.add(1, { exchange: "sim" })).not.toThrow();
    expect(metrics.getMeterProvider().constructor.name).toBe("NoopMeterProvider");

    await runtime.shutdown();
    expect(() => getRuntime()).toThrow(TicktraceError);
  });

  it("shutdown runs hooks newest first, is idempotent, and is bounded by shutdown_timeout_ms", async () => {
    const { runtime, entries } = await start(
      "health:\n  port: 0\ntelemetry:\n  enabled: false\n  shutdown_timeout_ms: 300\n",
    );
    const order: string[] = [];
    runtime.onShutdown(() => {
      order.push("first");
    });
    runtime.onShutdown(() => {
      order.push("failing");
      throw new Error("strategy would not stop");
    });
    runtime.onShutdown(async () => {
      order.push("last");
      await new Promise(() => undefined); // never settles
    });
    const startedAt = Date.now();
    const first = runtime.shutdown();
    expect(runtime.shutdown()).toBe(first);
    await first;
    expect(Date.now() - startedAt).toBeLessThan(3_000);
    expect(order).toEqual(["last"]);
    await runtime.shutdown();
    expect(entries().filter((line) => line.level === "error")).toEqual([]);
  });

  it("shutdown hook errors are logged and the others still run", async () => {
    const { runtime, entries } = await start("health:\n  port: 0\ntelemetry:\n  enabled: false\n");
    const order: string[] = [];
    runtime.onShutdown(() => {
      order.push("first");
    });
    runtime.onShutdown(() => {
      throw new Error("strategy would not stop");
    });
    await runtime.shutdown();
    expect(order).toEqual(["first"]);
    expect(entries().find((line) => line.level === "error")).toMatchObject({
      message: "shutdown hook failed: strategy would not stop",
    });
    await expect(fetch(`${runtime.healthUrl}/health/live`)).rejects.toThrow();
  });

  it("with telemetry on: the catalogue on a separate metrics_port, a telemetry component, real spans", async () => {
    // metrics_port must be a number up front: a port taken in between is retried on another.
    const { metricsPort, runtime, entries } = await retryOnAddressInUse(async (metricsPort) => ({
      metricsPort,
      ...(await start(
        `health:\n  port: 0\ntelemetry:\n  shutdown_timeout_ms: 1000\n  metrics_port: ${metricsPort}\n  otlp:\n    endpoint: http://127.0.0.1:9\n  instrumentations: [http]\n`,
      )),
    }));
    runtime.metrics.ordersPlaced.add(2, { exchange: "sim", symbol: "BTC/USDT", side: "buy", type: "limit" });
    const scrape = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(scrape.status).toBe(200);
    const body = await scrape.text();
    expect(body).toContain(
      'trading_orders_placed_total{exchange="sim",symbol="BTC/USDT",side="buy",type="limit",otel_scope_name="ticktrace"} 2',
    );
    expect(body).toMatch(
      /target_info\{service_name="ticktrace-demo",service_version="0\.1\.0",service_instance_id="[^"]+-\d+",deployment_environment_name="development"/,
    );
    const onHealthPort = await fetch(`${runtime.healthUrl}/metrics`);
    expect(onHealthPort.status).toBe(404);
    expect(await onHealthPort.text()).toBe(`metrics are served on port ${metricsPort}\n`);

    expect(await (await fetch(`${runtime.healthUrl}/health`)).json()).toMatchObject({
      components: { telemetry: { status: "up", detail: "exporting to http://127.0.0.1:9" } },
    });
    const span = runtime.tracer.startSpan("tick");
    expect(trace.isSpanContextValid(span.spanContext())).toBe(true);
    span.end();
    expect(entries().find((line) => line.message === "ticktrace runtime started")).toMatchObject({
      component: "telemetry",
      health_url: runtime.healthUrl,
      instrumentations: "http",
      telemetry: "http://127.0.0.1:9",
    });

    await runtime.shutdown();
    // The globals are released, so a later runtime in the same process can register its own.
    expect(metrics.getMeterProvider().constructor.name).toBe("NoopMeterProvider");
  });

  it("a taken health port rejects with an IO error naming the fix; telemetry is shut down again", async () => {
    const { runtime } = await start("health:\n  port: 0\ntelemetry:\n  enabled: false\n");
    const port = Number(new URL(runtime.healthUrl).port);
    const { logger } = captureLogger();
    const attempt = startRuntime(
      config(
        `health:\n  port: ${port}\ntelemetry:\n  otlp:\n    endpoint: http://127.0.0.1:9\n  instrumentations: []\n`,
      ),
      { logger, registerGlobal: false },
    );
    await expect(attempt).rejects.toThrow(TicktraceError);
    await expect(attempt).rejects.toThrow(
      `health server cannot listen on 127.0.0.1:${port}: EADDRINUSE (another process uses it: set health.port, or 0 for a free port)`,
    );
    expect(metrics.getMeterProvider().constructor.name).toBe("NoopMeterProvider");
  });
});

describe("instrumentation allow-list", () => {
  it("loads the default five from the installed packages, and ticktrace's own ccxt instrumentation", () => {
    const { instrumentations, loaded, warnings, deferred } = loadInstrumentations(config(""));
    expect(loaded).toEqual(["http", "express", "winston", "undici", "pg", "ccxt"]);
    // express, winston and pg wait for their module's first require (deferred-instrumentations.test.ts).
    expect(instrumentations.map((i) => i.instrumentationName)).toEqual([
      "@opentelemetry/instrumentation-http",
      "@opentelemetry/instrumentation-undici",
      "ticktrace-instrumentation-ccxt",
    ]);
    expect(deferred.waiting).toEqual(["express", "winston", "pg"]);
    expect(warnings).toEqual([]);
    for (const instrumentation of instrumentations) instrumentation.disable();
  });

  it("without deferral every package is created at once", () => {
    const { instrumentations } = loadInstrumentations(config(""), undefined, { defer: false });
    expect(instrumentations.map((i) => i.instrumentationName)).toEqual([
      "@opentelemetry/instrumentation-http",
      "@opentelemetry/instrumentation-express",
      "@opentelemetry/instrumentation-winston",
      "@opentelemetry/instrumentation-undici",
      "@opentelemetry/instrumentation-pg",
      "ticktrace-instrumentation-ccxt",
    ]);
    for (const instrumentation of instrumentations) instrumentation.disable();
  });

  it("a widened list with a package that is not installed gives one clear line per name", () => {
    const { loaded, warnings, instrumentations } = loadInstrumentations(
      config("telemetry:\n  instrumentations: [http, ioredis, http]\n"),
    );
    expect(loaded).toEqual(["http"]);
    expect(warnings).toEqual([
      'instrumentation "ioredis" skipped: package @opentelemetry/instrumentation-ioredis is not installed (npm install @opentelemetry/instrumentation-ioredis)',
    ]);
    for (const instrumentation of instrumentations) instrumentation.disable();
  });

  it("a package that fails to load or lacks the class is skipped with its reason", () => {
    const failing = loadInstrumentations(
      config("telemetry:\n  instrumentations: [pg, dns]\n"),
      (pkg) => {
        if (pkg.endsWith("pg")) throw new Error("native binding missing\nstack...");
        return {};
      },
      { defer: false },
    );
    expect(failing.loaded).toEqual([]);
    expect(failing.warnings).toEqual([
      'instrumentation "pg" skipped: @opentelemetry/instrumentation-pg failed to load (native binding missing)',
      'instrumentation "dns" skipped: @opentelemetry/instrumentation-dns does not export DnsInstrumentation',
    ]);
  });
});

describe("resource", () => {
  it("service.version: config, else the application's version, else ticktrace's", () => {
    const dir = tempDir("version");
    try {
      expect(applicationVersion({ npm_package_version: "2.3.4" }, dir)).toBe("2.3.4");
      expect(applicationVersion({}, dir)).toBe("0.1.0");
      writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "my-bot", version: "1.0.0" }));
      expect(applicationVersion({}, dir)).toBe("1.0.0");
      const resource = buildResource(
        config("service:\n  version: 9.9.9\n  instance_id: bot-a\n  environment: prod\n"),
        {
          OTEL_RESOURCE_ATTRIBUTES: "team=quant,deployment.environment.name=canary",
        },
      );
      expect(resource.attributes).toMatchObject({
        "service.name": "ticktrace-demo",
        "service.version": "9.9.9",
        "service.instance.id": "bot-a",
        "deployment.environment.name": "canary",
        team: "quant",
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
