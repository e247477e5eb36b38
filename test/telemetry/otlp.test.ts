import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configDir, ensureBuilt, ROOT, startPreloaded, type Child } from "./helpers.js";
import { attributes, eventually, OtlpReceiver } from "./otlp-receiver.js";

/**
 * A user's bot under the preload: its own winston logger, an outgoing HTTP call and the
 * catalogue instruments, all inside one span.
 */
const APP = `
const http = require("node:http");
const winston = require(${JSON.stringify(join(ROOT, "node_modules", "winston"))});
const { getRuntime } = require(${JSON.stringify(join(ROOT, "dist", "runtime", "start.js"))});
const runtime = getRuntime();
const userLogger = winston.createLogger({ transports: [new winston.transports.Console({ silent: true })] });
runtime.ready.then(() => {
  runtime.tracer.startActiveSpan("tick", (span) => {
    runtime.logger.child({ component: "strategy" }).info("quote placed", { symbol: "BTC/USDT" });
    userLogger.info("user log inside span");
    runtime.metrics.exchangeRequestDuration.record(0.002, { exchange: "sim", operation: "place_order" });
    runtime.metrics.ordersPlaced.add(1, { exchange: "sim", symbol: "BTC/USDT", side: "buy", type: "limit" });
    http.get(runtime.healthUrl + "/health/live", (response) => {
      response.resume();
      response.on("end", () => {
        span.end();
        console.log("TICK " + span.spanContext().traceId + " " + span.spanContext().spanId);
      });
    });
  });
});
setInterval(() => {}, 1000);
`;

describe("preload exports traces, metrics and logs by OTLP", () => {
  const receiver = new OtlpReceiver();
  let child: Child;
  let dir: string;
  let traceId = "";
  let spanId = "";

  beforeAll(async () => {
    ensureBuilt();
    const endpoint = await receiver.start();
    dir = configDir(
      "otlp",
      [
        "service:",
        "  name: otlp-test-bot",
        "  environment: staging",
        "health:",
        "  port: 0",
        "logging:",
        "  level: info",
        "telemetry:",
        "  otlp:",
        "    endpoint: http://127.0.0.1:9 # replaced by OTEL_EXPORTER_OTLP_ENDPOINT",
        "    protocol: http/json",
        "  traces:",
        "    batch_delay_ms: 200",
        "  logs:",
        "    batch_delay_ms: 200",
        "  metrics_push:",
        "    enabled: true",
        "    interval_ms: 1000",
        "",
      ].join("\n"),
    );
    child = startPreloaded(APP, {
      cwd: dir,
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
        OTEL_RESOURCE_ATTRIBUTES: "team=quant,service.namespace=bots",
      },
    });
    const match = await child.waitFor(/TICK ([0-9a-f]{32}) ([0-9a-f]{16})/);
    traceId = match[1]!;
    spanId = match[2]!;
    await eventually(
      () =>
        receiver.spans.some((s) => s.item.name === "tick") &&
        receiver.logs.some((l) => l.item.body?.stringValue === "user log inside span") &&
        receiver.metrics.some((m) => m.item.name === "trading_exchange_request_duration_seconds"),
      `spans, logs and metrics at the receiver (stderr: ${child.stderr()})`,
    );
  }, 60_000);

  afterAll(async () => {
    (child as Child | undefined)?.kill(); // unset when beforeAll failed
    await receiver.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("sends JSON to /v1/traces, /v1/metrics and /v1/logs", () => {
    const paths = new Set(receiver.requests.map((r) => r.path));
    expect(paths).toEqual(new Set(["/v1/traces", "/v1/metrics", "/v1/logs"]));
    expect(receiver.requests.every((r) => r.contentType === "application/json")).toBe(true);
  });

  it("every signal carries the resource: service name, instance id, environment, OTEL_RESOURCE_ATTRIBUTES", () => {
    const pid = child.process.pid!;
    for (const received of [...receiver.spans, ...receiver.logs, ...receiver.metrics]) {
      expect(received.resource).toMatchObject({
        "service.name": "otlp-test-bot",
        "service.version": "0.1.0",
        "deployment.environment.name": "staging",
        team: "quant",
        "service.namespace": "bots",
      });
      expect(received.resource["service.instance.id"]).toMatch(new RegExp(`^.+-${pid}$`));
    }
  });

  it("the span arrives with its child HTTP client span (http instrumentation), and probes are not traced", () => {
    const tick = receiver.spans.find((s) => s.item.name === "tick")!.item;
    expect(tick.traceId).toBe(traceId);
    expect(tick.spanId).toBe(spanId);
    const client = receiver.spans.find((s) => s.item.parentSpanId === spanId);
    expect(client?.item.name).toBe("GET");
    expect(client?.item.kind).toBe(3); // SPAN_KIND_CLIENT
    // The server side of /health/live is ignored: no SERVER span.
    expect(receiver.spans.filter((s) => s.item.kind === 2)).toEqual([]);
  });

  it("a log written inside the span carries its trace id, once, from our logger and from the user's winston", () => {
    const ours = receiver.logs.filter((l) => l.item.body?.stringValue === "quote placed");
    expect(ours).toHaveLength(1);
    expect(ours[0]!.item.traceId).toBe(traceId);
    expect(ours[0]!.item.spanId).toBe(spanId);
    expect(attributes(ours[0]!.item.attributes)).toMatchObject({ component: "strategy", symbol: "BTC/USDT" });
    const users = receiver.logs.filter((l) => l.item.body?.stringValue === "user log inside span");
    expect(users).toHaveLength(1);
    expect(users[0]!.item.traceId).toBe(traceId);
  });

  it("metrics arrive by OTLP push with the catalogue buckets", () => {
    const histogram = receiver.metrics.find(
      (m) => m.item.name === "trading_exchange_request_duration_seconds",
    )!.item;
    expect(histogram.unit).toBe("s");
    const point = histogram.histogram!.dataPoints[0]!;
    expect(point.explicitBounds?.[0]).toBe(0.00005);
    expect(point.explicitBounds?.at(-1)).toBe(10);
    expect(attributes(point.attributes)).toEqual({ exchange: "sim", operation: "place_order" });
    expect(receiver.metrics.some((m) => m.item.name === "trading_orders_placed_total")).toBe(true);
  });

  it("SIGTERM flushes and exits with 143", async () => {
    child.process.kill("SIGTERM");
    const exit = await child.exited;
    expect(exit.code).toBe(143);
  });
});

describe("shutdown flushes what is still queued", () => {
  /** Batches wait a minute, so only the shutdown flush can deliver them. */
  const SLOW_BATCHES = [
    "health:",
    "  port: 0",
    "telemetry:",
    "  otlp:",
    "    protocol: http/json",
    "  traces:",
    "    batch_delay_ms: 60000",
    "  logs:",
    "    batch_delay_ms: 60000",
    "",
  ].join("\n");
  const emit = (name: string) => `
const { getRuntime } = require(${JSON.stringify(join(ROOT, "dist", "runtime", "start.js"))});
const runtime = getRuntime();
runtime.tracer.startActiveSpan(${JSON.stringify(name)}, (span) => {
  runtime.logger.info(${JSON.stringify(`${name} log`)});
  span.end();
});
console.log("EMITTED");
`;

  async function runAndCollect(script: string, stop: (child: Child) => void) {
    const receiver = new OtlpReceiver();
    const endpoint = await receiver.start();
    const dir = configDir("flush", SLOW_BATCHES);
    const child = startPreloaded(script, { cwd: dir, env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint } });
    try {
      await child.waitFor(/EMITTED/);
      stop(child);
      const exit = await child.exited;
      return {
        exit,
        spans: receiver.spans.map((s) => s.item.name),
        logs: receiver.logs.map((l) => l.item.body?.stringValue),
      };
    } finally {
      child.kill();
      await receiver.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it("on SIGTERM", async () => {
    const result = await runAndCollect(`${emit("on-sigterm")}\nsetInterval(() => {}, 1000);`, (child) =>
      child.process.kill("SIGTERM"),
    );
    expect(result.exit.code).toBe(143);
    expect(result.spans).toEqual(["on-sigterm"]);
    expect(result.logs).toContain("on-sigterm log");
  });

  it("on SIGINT", async () => {
    const result = await runAndCollect(`${emit("on-sigint")}\nsetInterval(() => {}, 1000);`, (child) =>
      child.process.kill("SIGINT"),
    );
    expect(result.exit.code).toBe(130);
    expect(result.spans).toEqual(["on-sigint"]);
  });

  it("when the application ends on its own, keeping its exit code", async () => {
    const result = await runAndCollect(`${emit("natural-end")}\nprocess.exitCode = 3;`, () => undefined);
    expect(result.exit.code).toBe(3);
    expect(result.spans).toEqual(["natural-end"]);
    expect(result.logs).toContain("natural-end log");
  });
});

describe("default protocol", () => {
  it("sends http/protobuf to the same paths", async () => {
    const receiver = new OtlpReceiver();
    const endpoint = await receiver.start();
    const dir = configDir("protobuf", "service:\n  name: proto-bot\nhealth:\n  port: 0\n");
    const app = `
const runtime = require(${JSON.stringify(join(ROOT, "dist", "runtime", "start.js"))}).getRuntime();
runtime.tracer.startActiveSpan("proto-tick", (span) => { runtime.logger.info("proto log"); span.end(); });
setInterval(() => {}, 1000);
console.log("EMITTED");
`;
    const child = startPreloaded(app, { cwd: dir, env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint } });
    try {
      await child.waitFor(/EMITTED/);
      child.process.kill("SIGTERM");
      await child.exited;
      // Decoded with the official OTLP definitions: the same span, log and resource as over JSON.
      expect(receiver.requests.every((r) => r.contentType === "application/x-protobuf")).toBe(true);
      const span = receiver.spans.find((s) => s.item.name === "proto-tick");
      expect(span?.resource["service.name"]).toBe("proto-bot");
      expect(span?.item.traceId).toMatch(/^[0-9a-f]{32}$/);
      const log = receiver.logs.find((l) => l.item.body?.stringValue === "proto log");
      expect(log?.resource["service.name"]).toBe("proto-bot");
      expect(log?.item.traceId).toBe(span?.item.traceId);
      expect(log?.item.spanId).toBe(span?.item.spanId);
    } finally {
      child.kill();
      await receiver.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
