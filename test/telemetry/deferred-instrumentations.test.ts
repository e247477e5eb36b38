/**
 * Instrumentations created on their module's first require (DEFERRED_UNTIL_REQUIRED): the
 * module names are the packages' own, nothing of them loads before the bot's first line, and a
 * bot that requires express (or winston) later still gets its spans (and log records).
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import type { Instrumentation } from "@opentelemetry/instrumentation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INSTRUMENTATION_PACKAGES, DEFERRED_UNTIL_REQUIRED } from "../../src/telemetry/instrumentations.js";
import { configDir, ensureBuilt, ROOT, startPreloaded, type Child } from "./helpers.js";
import { attributes, eventually, OtlpReceiver } from "./otlp-receiver.js";

describe("deferred instrumentations: module names", () => {
  for (const [name, modules] of Object.entries(DEFERRED_UNTIL_REQUIRED)) {
    it(`${name}: the names are the modules the package's instrumentation patches`, async () => {
      const entry = INSTRUMENTATION_PACKAGES[name as keyof typeof INSTRUMENTATION_PACKAGES];
      const exported = (await import(entry.pkg)) as Record<string, new (o: object) => Instrumentation>;
      const instrumentation = new exported[entry.className]!({ enabled: false });
      const definitions = (
        instrumentation as unknown as { getModuleDefinitions(): { name: string }[] }
      ).getModuleDefinitions();
      expect(new Set(definitions.map((d) => d.name))).toEqual(new Set(modules));
    });
  }
});

const APP = `
const loadedEarly = Object.keys(require.cache).filter((f) => /instrumentation-(express|winston|pg)\\//.test(f));
console.log("EARLY " + JSON.stringify(loadedEarly));
const { getRuntime } = require(${JSON.stringify(join(ROOT, "dist", "runtime", "start.js"))});
const runtime = getRuntime();
runtime.ready.then(() => {
  // Required only now, long after the preload: the instrumentation is created on this require.
  const express = require(${JSON.stringify(join(ROOT, "node_modules", "express"))});
  const winston = require(${JSON.stringify(join(ROOT, "node_modules", "winston"))});
  const userLogger = winston.createLogger({ transports: [new winston.transports.Console({ silent: true })] });
  const app = express();
  app.get("/quote/:symbol", (req, res) => {
    userLogger.info("quote served");
    res.json({ symbol: req.params.symbol });
  });
  const server = app.listen(0, "127.0.0.1", () => {
    fetch("http://127.0.0.1:" + server.address().port + "/quote/BTC").then((r) => r.json()).then((body) => {
      console.log("SERVED " + body.symbol);
    });
  });
});
setInterval(() => {}, 1000);
`;

describe("deferred instrumentations under the preload", () => {
  const receiver = new OtlpReceiver();
  let child: Child;
  let dir: string;
  let early = "";

  beforeAll(async () => {
    ensureBuilt();
    const endpoint = await receiver.start();
    dir = configDir(
      "deferred",
      [
        "health: { port: 0 }",
        "alerts: { enabled: false }",
        "monitoring: { enabled: false }",
        "logging: { level: warn }",
        "telemetry:",
        "  otlp: { protocol: http/json }",
        "  traces: { batch_delay_ms: 200 }",
        "  logs: { batch_delay_ms: 200 }",
        "",
      ].join("\n"),
    );
    child = startPreloaded(APP, { cwd: dir, env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint } });
    early = (await child.waitFor(/^EARLY (.*)$/m))[1]!;
    await child.waitFor(/^SERVED BTC$/m);
    await eventually(
      () =>
        receiver.spans.some((s) => attributes(s.item.attributes)["express.type"] === "request_handler") &&
        receiver.logs.some((l) => l.item.body?.stringValue === "quote served"),
      `express spans and the user's log at the receiver (stderr: ${child.stderr()})`,
    );
  }, 60_000);

  afterAll(async () => {
    (child as Child | undefined)?.kill();
    await receiver.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("nothing of the express, winston or pg instrumentations is loaded at the bot's first line", () => {
    expect(JSON.parse(early)).toEqual([]);
  });

  it("express required after start-up: its handler span is a child of the server span of the request", () => {
    const server = receiver.spans.find((s) => s.item.kind === 2 && s.item.name.startsWith("GET"));
    const handler = receiver.spans.find(
      (s) => attributes(s.item.attributes)["express.type"] === "request_handler",
    );
    expect(handler?.item.name.startsWith("request handler")).toBe(true);
    expect(server?.item.traceId).toBe(handler?.item.traceId);
    expect(attributes(server?.item.attributes)["http.route"]).toBe("/quote/:symbol");
  });

  it("winston required after start-up: the user's log record reaches the collector inside the request's trace", () => {
    const log = receiver.logs.find((l) => l.item.body?.stringValue === "quote served");
    const handler = receiver.spans.find(
      (s) => attributes(s.item.attributes)["express.type"] === "request_handler",
    );
    expect(log?.item.traceId).toBe(handler?.item.traceId);
  });
});
