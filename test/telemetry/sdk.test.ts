import { rmSync } from "node:fs";
import { context, createContextKey, metrics, propagation, trace } from "@opentelemetry/api";
import { ExportResultCode, type ExportResult } from "@opentelemetry/core";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { parseConfigText } from "../../src/config/index.js";
import { createLazyExporter, type BatchExporter } from "../../src/telemetry/lazy-exporter.js";
import { startTelemetrySdk, type TelemetrySdk } from "../../src/telemetry/sdk.js";
import { configDir, ensureBuilt, startPreloaded } from "./helpers.js";

/** A fake exporter with switches, counting what reaches it. */
function fakeExporter() {
  const fake = {
    exported: 0,
    shutDown: 0,
    failNext: false,
    export(_batch: number[], done: (result: ExportResult) => void) {
      fake.exported++;
      done({ code: fake.failNext ? ExportResultCode.FAILED : ExportResultCode.SUCCESS });
    },
    shutdown() {
      fake.shutDown++;
      return Promise.resolve();
    },
  };
  return fake;
}

function exportOnce(exporter: BatchExporter<number[]>): Promise<ExportResult> {
  return new Promise((resolve) => exporter.export([1], resolve));
}

describe("createLazyExporter", () => {
  it("creates the exporter on the first export only, and shutting down an unused one creates nothing", async () => {
    let created = 0;
    const fake = fakeExporter();
    const lazy = createLazyExporter(() => {
      created++;
      return fake;
    });
    expect(created).toBe(0);
    expect((await exportOnce(lazy)).code).toBe(ExportResultCode.SUCCESS);
    expect((await exportOnce(lazy)).code).toBe(ExportResultCode.SUCCESS);
    expect(created).toBe(1);
    expect(fake.exported).toBe(2);
    await lazy.shutdown();
    expect(fake.shutDown).toBe(1);

    let unusedCreated = 0;
    const unused = createLazyExporter(() => {
      unusedCreated++;
      return fakeExporter();
    });
    await unused.forceFlush();
    await unused.shutdown();
    expect(unusedCreated).toBe(0);
  });

  it("a create that throws fails that export with its error and is tried again on the next", async () => {
    let attempts = 0;
    const lazy = createLazyExporter(() => {
      attempts++;
      if (attempts === 1) throw new Error("Cannot find module '@opentelemetry/exporter-trace-otlp-proto'");
      return fakeExporter();
    });
    const first = await exportOnce(lazy);
    expect(first.code).toBe(ExportResultCode.FAILED);
    expect(first.error?.message).toBe("Cannot find module '@opentelemetry/exporter-trace-otlp-proto'");
    expect((await exportOnce(lazy)).code).toBe(ExportResultCode.SUCCESS);
  });

  it("refuses exports after shutdown", async () => {
    const lazy = createLazyExporter(() => fakeExporter());
    await lazy.shutdown();
    const result = await exportOnce(lazy);
    expect(result.code).toBe(ExportResultCode.FAILED);
    expect(result.error?.message).toBe("exporter is shut down");
  });
});

describe("startTelemetrySdk without the Node SDK", () => {
  let sdk: TelemetrySdk | undefined;
  const savedPropagators = process.env.OTEL_PROPAGATORS;
  afterEach(async () => {
    await sdk?.shutdown(1000);
    sdk = undefined;
    if (savedPropagators === undefined) delete process.env.OTEL_PROPAGATORS;
    else process.env.OTEL_PROPAGATORS = savedPropagators;
  });

  function start(yaml: string): TelemetrySdk {
    const config = parseConfigText(
      `health:\n  port: 0\ntelemetry:\n  otlp:\n    endpoint: http://127.0.0.1:9\n${yaml}`,
      {
        file: "test.yaml",
        env: {},
      },
    );
    sdk = startTelemetrySdk(config);
    return sdk;
  }

  it("registers the tracer and meter providers, the AsyncLocalStorage context manager and W3C propagators; shutdown releases them", async () => {
    const started = start("  instrumentations: []\n");
    expect(trace.getTracerProvider().constructor.name).toBe("ProxyTracerProvider");
    expect(started.tracer.startSpan("s").isRecording()).toBe(true);
    expect(metrics.getMeterProvider().constructor.name).toBe("MeterProvider");
    expect(propagation.fields()).toEqual(["traceparent", "tracestate", "baggage"]);
    const key = createContextKey("k");
    const seen = await context.with(context.active().setValue(key, "v"), async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return context.active().getValue(key);
    });
    expect(seen).toBe("v");

    await started.shutdown(1000);
    await started.shutdown(1000);
    expect(metrics.getMeterProvider().constructor.name).toBe("NoopMeterProvider");
    expect(propagation.fields()).toEqual([]);
    expect(trace.getTracer("t").startSpan("s").isRecording()).toBe(false);
  });

  it("with traces off no tracer provider is registered, but context and propagation still work", () => {
    const started = start("  instrumentations: []\n  traces:\n    enabled: false\n");
    expect(started.tracer.startSpan("s").isRecording()).toBe(false);
    expect(propagation.fields()).toEqual(["traceparent", "tracestate", "baggage"]);
    const key = createContextKey("k");
    expect(context.with(context.active().setValue(key, 1), () => context.active().getValue(key))).toBe(1);
  });

  it("OTEL_PROPAGATORS chooses the propagators; none registers none", () => {
    process.env.OTEL_PROPAGATORS = "baggage";
    start("  instrumentations: []\n");
    expect(propagation.fields()).toEqual(["baggage"]);
  });

  it("OTEL_PROPAGATORS=none registers no propagator", () => {
    process.env.OTEL_PROPAGATORS = "none";
    start("  instrumentations: []\n");
    expect(propagation.fields()).toEqual([]);
  });
});

describe("the preload's start-up (regression: ~900 modules and ~345 ms added by @opentelemetry/sdk-node)", () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it("loads no SDK, exporter or propagator package it does not use, and no OTLP exporter before the first export", async () => {
    ensureBuilt();
    const dir = configDir(
      "startup-modules",
      "health:\n  port: 0\ntelemetry:\n  otlp:\n    endpoint: http://127.0.0.1:9\n",
    );
    dirs.push(dir);
    const child = startPreloaded(
      `const packages = new Set(Object.keys(require.cache).map((file) => (file.match(/node_modules\\/(@opentelemetry\\/[^/]+)/) || [])[1]).filter(Boolean));
console.log("PACKAGES " + [...packages].sort().join(","));
process.exit(0);`,
      { cwd: dir },
    );
    try {
      const loaded = (await child.waitFor(/PACKAGES (\S*)/))[1]!.split(",");
      for (const unused of [
        "@opentelemetry/sdk-node",
        "@opentelemetry/configuration",
        "@opentelemetry/exporter-zipkin",
        "@opentelemetry/propagator-b3",
        "@opentelemetry/propagator-jaeger",
        "@opentelemetry/exporter-trace-otlp-grpc",
        "@opentelemetry/exporter-trace-otlp-proto",
        "@opentelemetry/exporter-trace-otlp-http",
        "@opentelemetry/exporter-logs-otlp-proto",
        "@opentelemetry/exporter-metrics-otlp-proto",
        "@opentelemetry/otlp-transformer",
      ]) {
        expect(loaded).not.toContain(unused);
      }
      expect(loaded).toContain("@opentelemetry/sdk-trace-node");
      expect(loaded).toContain("@opentelemetry/exporter-prometheus");
    } finally {
      child.kill();
    }
  });
});
