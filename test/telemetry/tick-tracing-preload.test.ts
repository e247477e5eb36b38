/**
 * The reference process as a user runs it (`node --require dist/tracing.js dist/main.js`), with
 * `telemetry.tick_tracing` `worker` and `sdk`, exporting to a real OTLP receiver on 127.0.0.1:
 * tick traces arrive in both modes with the same tree, and the exchange client's HTTP spans
 * (instrumentation-http) sit under the tick's root. (Log correlation reads the active span the
 * same way the HTTP instrumentation does; `tick-tracing.test.ts` checks it in-process.)
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, ROOT } from "./helpers.js";
import { eventually, OtlpReceiver } from "./otlp-receiver.js";

interface Run {
  receiver: OtlpReceiver;
  child: ChildProcess;
  dir: string;
  output: () => string;
  fullOutput: () => string;
}

async function startReference(tickTracing: "worker" | "sdk"): Promise<Run> {
  const receiver = new OtlpReceiver();
  const endpoint = await receiver.start();
  const dir = mkdtempSync(join(tmpdir(), `ticktrace-tick-tracing-${tickTracing}-`));
  writeFileSync(
    join(dir, "config.yaml"),
    JSON.stringify({
      service: { name: `tick-tracing-${tickTracing}` },
      health: { port: 0 },
      logging: { level: "info", format: "json" },
      telemetry: {
        otlp: { endpoint, protocol: "http/protobuf" },
        traces: { batch_delay_ms: 200 },
        logs: { batch_delay_ms: 200 },
        tick_tracing: tickTracing,
        shutdown_timeout_ms: 2_000,
      },
      alerts: { jsonl: { dir: join(dir, "alerts") } },
      monitoring: { snapshot_dir: join(dir, "monitoring") },
    }),
  );
  const child = spawn(
    process.execPath,
    [
      "--require",
      join(ROOT, "dist/tracing.js"),
      join(ROOT, "dist/main.js"),
      "--scenario",
      "calm",
      "--config",
      "config.yaml",
    ],
    { cwd: dir, env: { PATH: process.env.PATH, HOME: process.env.HOME }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  return { receiver, child, dir, output: () => output.slice(-2000), fullOutput: () => output };
}

async function stop(run: Run | undefined): Promise<void> {
  if (!run) return;
  if (run.child.exitCode === null) {
    const exited = new Promise((resolve) => run.child.once("exit", resolve));
    run.child.kill("SIGTERM");
    await exited;
  }
  await run.receiver.stop();
  rmSync(run.dir, { recursive: true, force: true });
}

/** Traces whose root is `tick` and that have HTTP client spans under that root. */
function tickTraces(receiver: OtlpReceiver) {
  const spans = receiver.spans.map((s) => s.item);
  const roots = spans.filter((s) => s.name === "tick" && !s.parentSpanId);
  return roots.map((root) => {
    const children = spans.filter((s) => s.traceId === root.traceId && s.parentSpanId === root.spanId);
    return {
      root,
      stageNames: [...new Set(children.filter((s) => s.kind === 1).map((s) => s.name))].sort(),
      clientSpans: children.filter((s) => s.kind === 3),
    };
  });
}

describe.each(["worker", "sdk"] as const)("the reference process with tick_tracing: %s", (mode) => {
  let run: Run | undefined;

  beforeAll(async () => {
    ensureBuilt();
    run = await startReference(mode);
    const r = run;
    await eventually(
      () =>
        tickTraces(r.receiver).some((t) => t.clientSpans.length > 0 && t.stageNames.includes("place_order")),
      "tick traces with HTTP client spans under their root",
      40_000,
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}; process output: ${r.output()}`);
    });
  }, 60_000);

  afterAll(() => stop(run));

  it("tick traces arrive with the stage spans under the root", () => {
    const withOrders = tickTraces(run!.receiver).find((t) => t.stageNames.includes("place_order"))!;
    expect(withOrders.stageNames).toEqual(
      expect.arrayContaining(["market_data", "decide", "risk_check", "place_order"]),
    );
    expect(withOrders.root.attributes?.map((a) => a.key)).toEqual(
      expect.arrayContaining(["strategy.id", "tick.outcome"]),
    );
    expect(run!.receiver.spans[0]!.resource["service.name"]).toBe(`tick-tracing-${mode}`);
  });

  it("the exporter thread does not run the preload again (one runtime, one health server)", () => {
    // Regression: a worker inherits the parent's execArgv (`--require dist/tracing.js`) unless told otherwise.
    expect(run!.fullOutput().match(/ticktrace runtime started/g)).toHaveLength(1);
  });

  it("the exchange client's HTTP spans (instrumentation-http) parent onto the tick's root span", () => {
    const traces = tickTraces(run!.receiver).filter((t) => t.clientSpans.length > 0);
    expect(traces.length).toBeGreaterThan(0);
    for (const t of traces) for (const client of t.clientSpans) expect(client.traceId).toBe(t.root.traceId);
  });
});
