import { spawnSync, type ChildProcess } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GO_LISTENING, spawnListening, stopChild } from "../support/processes.js";
import { configDir, ensureBuilt, ROOT, startPreloaded, tempDir, type Child } from "./helpers.js";
import { eventually } from "./otlp-receiver.js";

/** Records exchange latencies continuously: 90% near 2 ms, 10% near 200 ms. */
const APP = `
const { getRuntime } = require(${JSON.stringify(join(ROOT, "dist", "runtime", "start.js"))});
const runtime = getRuntime();
runtime.ready.then(() => console.log("READY " + runtime.healthUrl));
let i = 0;
setInterval(() => {
  for (let k = 0; k < 10; k++, i++) {
    const seconds = i % 10 === 0 ? 0.2 : 0.002;
    runtime.metrics.exchangeRequestDuration.record(seconds, { exchange: "sim", operation: "place_order" });
  }
  runtime.metrics.ordersPlaced.add(1, { exchange: "sim", symbol: "BTC/USDT", side: "buy", type: "limit" });
  runtime.metrics.pnlRealized.record(-3.5, { symbol: "BTC/USDT", strategy: "mm" });
  runtime.metrics.heartbeat.record(Date.now() / 1000);
}, 50);
`;

interface QueryResult {
  status: string;
  data: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
}

describe("a real Prometheus scrapes /metrics", () => {
  let child: Child;
  let prometheus: ChildProcess | undefined;
  let prometheusUrl = "";
  let healthUrl = "";
  const dirs: string[] = [];

  beforeAll(async () => {
    ensureBuilt();
    const appDir = configDir(
      "prom-app",
      "service:\n  name: prom-test\nhealth:\n  port: 0\ntelemetry:\n  traces:\n    enabled: false\n  logs:\n    enabled: false\n",
    );
    dirs.push(appDir);
    child = startPreloaded(APP, { cwd: appDir, env: { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9" } });
    healthUrl = (await child.waitFor(/READY (http:\/\/\S+)/))[1]!;
    const target = healthUrl.replace("http://", "");

    const promDir = tempDir("prometheus");
    dirs.push(promDir);
    writeFileSync(
      join(promDir, "prometheus.yml"),
      [
        "global:",
        "  scrape_interval: 1s",
        "  evaluation_interval: 1s",
        "scrape_configs:",
        "  - job_name: bot",
        "    static_configs:",
        `      - targets: ["${target}"]`,
        "",
      ].join("\n"),
    );
    // Port 0: Prometheus logs the address it bound.
    const started = await spawnListening(
      "prometheus",
      [
        `--config.file=${join(promDir, "prometheus.yml")}`,
        `--storage.tsdb.path=${join(promDir, "data")}`,
        "--web.listen-address=127.0.0.1:0",
        "--log.level=info",
      ],
      { listening: GO_LISTENING },
    );
    prometheus = started.child;
    prometheusUrl = `http://${started.address}`;
  }, 60_000);

  afterAll(async () => {
    const started = child as Child | undefined; // unset when beforeAll failed
    started?.kill();
    // Its TSDB directory is removed only once it has exited.
    await Promise.all([stopChild(prometheus), started?.exited]);
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  async function query(promql: string): Promise<QueryResult> {
    const response = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(promql)}`);
    return (await response.json()) as QueryResult;
  }

  it("answers histogram_quantile over trading_exchange_request_duration_seconds_bucket", async () => {
    const promql =
      'histogram_quantile(0.5, sum by (le) (rate(trading_exchange_request_duration_seconds_bucket{exchange="sim"}[10s])))';
    let result: QueryResult | undefined;
    await eventually(
      async () => {
        result = await query(promql).catch(() => undefined);
        return (result?.data.result.length ?? 0) > 0 && result!.data.result[0]!.value[1] !== "NaN";
      },
      "a PromQL answer from Prometheus",
      40_000,
    );
    expect(result!.status).toBe("success");
    const median = Number(result!.data.result[0]!.value[1]);
    // 90% of the samples are 2 ms: the median lies in the (1 ms, 2.5 ms] bucket.
    expect(median).toBeGreaterThan(0.001);
    expect(median).toBeLessThanOrEqual(0.0025);

    const p99 = await query(promql.replace("0.5", "0.99"));
    const tail = Number(p99.data.result[0]!.value[1]);
    expect(tail).toBeGreaterThan(0.1);
    expect(tail).toBeLessThanOrEqual(0.25);

    const up = await query('up{job="bot"}');
    expect(up.data.result[0]!.value[1]).toBe("1");
  }, 60_000);

  it("promtool check metrics finds no problem in what /metrics serves", async () => {
    const body = await (await fetch(`${healthUrl}/metrics`)).text();
    expect(body).toContain("trading_exchange_request_duration_seconds_bucket");
    expect(body).toContain("trading_orders_placed_total");
    const check = spawnSync("promtool", ["check", "metrics"], { input: body, encoding: "utf8" });
    expect(check.stdout + check.stderr).toBe("");
    expect(check.status).toBe(0);
  });
});
