import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { REFUSING_PORT } from "../support/processes.js";
import { configDir, ensureBuilt, ROOT, startPreloaded } from "./helpers.js";

/** Produces spans, logs and metrics continuously and prints its memory once a second. */
const APP = `
const { getRuntime } = require(${JSON.stringify(join(ROOT, "dist", "runtime", "start.js"))});
const runtime = getRuntime();
runtime.ready.then(() => console.log("READY " + runtime.healthUrl));
const log = runtime.logger.child({ component: "load" });
let n = 0;
setInterval(() => {
  for (let k = 0; k < 20; k++, n++) {
    runtime.tracer.startActiveSpan("tick", (span) => {
      span.setAttribute("tick.n", n);
      runtime.tracer.startSpan("risk.check").end();
      if (k % 4 === 0) log.debug("tick", { symbol: "BTC/USDT", n });
      runtime.metrics.tickDuration.record(0.0003, { symbol: "BTC/USDT" });
      span.end();
    });
  }
}, 20);
setInterval(() => {
  if (global.gc) global.gc();
  const m = process.memoryUsage();
  console.log("MEM " + m.rss + " " + m.heapUsed);
}, 1000);
`;

const DURATION_MS = 60_000;

describe("collector down", () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it(
    "keeps serving /health/live, reports the outage once and on /health, and its memory stays flat for a minute",
    async () => {
      ensureBuilt();
      const deadPort = REFUSING_PORT;
      const endpoint = `http://127.0.0.1:${deadPort}`;
      const dir = configDir(
        "collector-down",
        [
          "health:",
          "  port: 0",
          "logging:",
          "  level: debug",
          "telemetry:",
          "  otlp:",
          "    timeout_ms: 1000",
          "  traces:",
          "    batch_delay_ms: 500",
          "  logs:",
          "    batch_delay_ms: 500",
          "  metrics_push:",
          "    enabled: true",
          "    interval_ms: 1000",
          "",
        ].join("\n"),
      );
      dirs.push(dir);
      const child = startPreloaded(APP, {
        cwd: dir,
        env: {
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://user:secret@127.0.0.1:${deadPort}`,
          NODE_OPTIONS: "--expose-gc",
        },
      });
      try {
        const healthUrl = (await child.waitFor(/READY (http:\/\/\S+)/))[1]!;
        const started = Date.now();
        let liveChecks = 0;
        while (Date.now() - started < DURATION_MS) {
          const live = await fetch(`${healthUrl}/health/live`);
          expect(live.status).toBe(200);
          liveChecks++;
          await new Promise((resolve) => setTimeout(resolve, 1000));
        }
        expect(liveChecks).toBeGreaterThan(30);

        const health = (await (await fetch(`${healthUrl}/health`)).json()) as {
          status: string;
          components: Record<string, unknown>;
        };
        expect(health.status).toBe("degraded");
        expect(health.components.telemetry).toEqual({
          status: "degraded",
          detail: `collector unreachable at ${endpoint}`,
        });
        expect(JSON.stringify(health)).not.toContain("secret");

        const metrics = await (await fetch(`${healthUrl}/metrics`)).text();
        const failures = metrics
          .split("\n")
          .filter((line) => line.startsWith("ticktrace_telemetry_export_failures_total{"));
        expect(
          failures.some((line) => line.includes('signal="traces"') && Number(line.split(" ").pop()) > 0),
        ).toBe(true);

        const lines = child.stdout().split("\n");
        const reports = lines.filter((line) => line.includes("telemetry export to"));
        expect(reports).toHaveLength(1);
        expect(reports[0]).toContain(
          `"message":"telemetry export to ${endpoint} failed; retrying quietly until it recovers"`,
        );
        expect(child.stdout()).not.toContain("secret");
        expect(child.stderr()).toBe("");

        // Memory: the last 15 s against the 15 s after warm-up (queues fill in the first seconds).
        const samples = lines
          .filter((line) => line.startsWith("MEM "))
          .map((line) => Number(line.split(" ")[1]));
        expect(samples.length).toBeGreaterThan(50);
        const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
        const early = mean(samples.slice(10, 25));
        const late = mean(samples.slice(-15));
        // Unbounded queues would grow by tens of MB a minute at this rate (about 2,000 spans/s).
        expect(late - early).toBeLessThan(24 * 1024 * 1024);
        expect(late / early).toBeLessThan(1.2);
        console.log(
          `collector down: RSS ${(early / 1048576).toFixed(1)} MB -> ${(late / 1048576).toFixed(1)} MB over ${samples.length} s`,
        );
      } finally {
        child.kill();
      }
    },
    DURATION_MS + 60_000,
  );
});
