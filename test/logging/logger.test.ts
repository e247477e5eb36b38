import { context, trace } from "@opentelemetry/api";
import { logs } from "@opentelemetry/api-logs";
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from "@opentelemetry/sdk-logs";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSilentLogger, hasOtelTransport } from "../../src/logging/logger.js";
import { captureLogger as capture } from "./capture.js";

const tracerProvider = new NodeTracerProvider();
beforeAll(() => tracerProvider.register());
afterAll(async () => {
  await tracerProvider.shutdown();
  trace.disable();
  context.disable();
});

describe("logger", () => {
  it("every entry has component (default app), level, message, timestamp and the service", () => {
    const { logger, entries: json } = capture({ service: "mm-bot" });
    logger.info("started");
    const [entry] = json();
    expect(entry).toMatchObject({ component: "app", level: "info", message: "started", service: "mm-bot" });
    expect(Number.isNaN(Date.parse(entry!.timestamp as string))).toBe(false);
  });

  it("a child's component wins over the default (regression: winston defaultMeta overrode it)", () => {
    const { logger, entries: json } = capture({ defaultMeta: { component: "orchestrator" } });
    logger.child({ component: "risk" }).warn("limit near", { symbol: "BTC/USDT", strategy_id: "mm-1" });
    logger.info("plain");
    logger.info("explicit", { component: "exchange" });
    expect(json().map((entry) => entry.component)).toEqual(["risk", "orchestrator", "exchange"]);
    expect(json()[0]).toMatchObject({ symbol: "BTC/USDT", strategy_id: "mm-1" });
  });

  it("carries trace_id and span_id inside a span, and none outside", () => {
    const { logger, entries: json } = capture();
    const tracer = trace.getTracer("test");
    let traceId = "";
    let spanId = "";
    tracer.startActiveSpan("tick", (span) => {
      traceId = span.spanContext().traceId;
      spanId = span.spanContext().spanId;
      logger.info("inside", { order_id: "o-1" });
      span.end();
    });
    logger.info("outside");
    const [inside, outside] = json();
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(inside).toMatchObject({ trace_id: traceId, span_id: spanId, order_id: "o-1" });
    expect(outside).not.toHaveProperty("trace_id");
    expect(outside).not.toHaveProperty("span_id");
  });

  it("drops undefined fields", () => {
    const { logger, entries: json } = capture();
    logger.info("x", { exchange: undefined, symbol: "ETH/USDT" });
    expect(json()[0]).not.toHaveProperty("exchange");
  });

  it("pretty format is one readable line", () => {
    const { logger, lines } = capture({ format: "pretty" });
    logger.info("order placed", { component: "executor", symbol: "BTC/USDT" });
    // eslint-disable-next-line no-control-regex
    const plain = lines[0]!.replace(/\u001b\[[0-9;]*m/g, "");
    expect(plain).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z info \[executor\] order placed symbol=BTC\/USDT$/);
  });

  it("regression: pretty logs kept ANSI colours when written to a file", () => {
    const dir = mkdtempSync(join(tmpdir(), "ticktrace-log-"));
    try {
      const script = join(dir, "log.ts");
      writeFileSync(
        script,
        `import { createLogger } from ${JSON.stringify(resolve(__dirname, "../../src/logging/logger.ts"))};\n` +
          `createLogger({ format: "pretty" }).warn("breaker near", { symbol: "BTC/USDT" });\n`,
      );
      const toFile = (name: string, env: NodeJS.ProcessEnv): string => {
        const file = join(dir, name);
        const fd = openSync(file, "w");
        try {
          const child = spawnSync(process.execPath, ["--import", "tsx", script], {
            cwd: resolve(__dirname, "../.."),
            stdio: ["ignore", fd, "pipe"],
            env: { ...process.env, NO_COLOR: "", FORCE_COLOR: "", ...env },
            encoding: "utf8",
            timeout: 30_000,
          });
          expect(child.stderr).toBe("");
        } finally {
          closeSync(fd);
        }
        return readFileSync(file, "utf8");
      };
      const plain = toFile("plain.log", {});
      expect(plain).toMatch(/^\S+Z warn \[app\] breaker near symbol=BTC\/USDT\n$/);
      // FORCE_COLOR still colours a redirected log, as other tools do.
      expect(toFile("forced.log", { FORCE_COLOR: "1" })).toContain("\u001b[33mwarn\u001b[39m");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("respects the level", () => {
    const { logger, lines } = capture({ level: "warn" });
    logger.info("hidden");
    logger.warn("shown");
    expect(lines).toHaveLength(1);
  });

  it("the silent logger writes nothing", () => {
    const logger = createSilentLogger();
    expect(() => logger.error("nothing")).not.toThrow();
    expect(logger.silent).toBe(true);
  });
});

describe("logger to the OpenTelemetry logs SDK", () => {
  const exporter = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter })] });
  beforeAll(() => logs.setGlobalLoggerProvider(provider));
  afterAll(async () => {
    await provider.shutdown();
    logs.disable();
  });

  it("sends each entry once, with its trace context and fields", () => {
    exporter.reset();
    const { logger, lines } = capture({ otel: true });
    expect(hasOtelTransport(logger)).toBe(true);
    expect(logger.transports.filter((t) => t.constructor.name === "OpenTelemetryTransportV3")).toHaveLength(
      1,
    );
    let traceId = "";
    trace.getTracer("test").startActiveSpan("tick", (span) => {
      traceId = span.spanContext().traceId;
      logger.child({ component: "risk" }).warn("breach", { symbol: "BTC/USDT" });
      span.end();
    });
    expect(lines).toHaveLength(1);
    const records = exporter.getFinishedLogRecords();
    expect(records).toHaveLength(1);
    expect(records[0]!.body).toBe("breach");
    expect(records[0]!.severityText).toBe("warn");
    expect(records[0]!.spanContext?.traceId).toBe(traceId);
    expect(records[0]!.attributes).toMatchObject({ component: "risk", symbol: "BTC/USDT" });
  });

  it("without otel: no transport, nothing sent", () => {
    exporter.reset();
    const { logger } = capture();
    logger.info("local only");
    expect(hasOtelTransport(logger)).toBe(false);
    expect(exporter.getFinishedLogRecords()).toHaveLength(0);
  });
});
