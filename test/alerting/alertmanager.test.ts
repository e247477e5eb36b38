import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAlertmanagerChannel } from "../../src/alerting/channels/alertmanager.js";
import { AlertManager } from "../../src/alerting/manager.js";
import { GO_LISTENING, spawnListening, stopChild } from "../support/processes.js";

const BINARY = "/usr/bin/prometheus-alertmanager";
const TRACE = "0af7651916cd43dd8448eb211c80319c";

let child: ChildProcess | undefined;
let dir: string;
let url: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "ticktrace-am-"));
  fs.writeFileSync(
    path.join(dir, "alertmanager.yml"),
    "route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n",
  );
  // Port 0: Alertmanager logs the address it bound.
  const started = await spawnListening(
    BINARY,
    [
      `--config.file=${path.join(dir, "alertmanager.yml")}`,
      `--storage.path=${path.join(dir, "data")}`,
      "--web.listen-address=127.0.0.1:0",
      "--cluster.listen-address=",
    ],
    { listening: GO_LISTENING },
  );
  child = started.child;
  url = `http://${started.address}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const res = await fetch(`${url}/-/ready`);
      if (res.ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline || child.exitCode !== null)
      throw new Error(`alertmanager did not start: ${started.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
});

afterAll(async () => {
  await stopChild(child);
  fs.rmSync(dir, { recursive: true, force: true });
});

interface GettableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  status: { state: string };
}

async function alertsIn(): Promise<GettableAlert[]> {
  const res = await fetch(`${url}/api/v2/alerts`);
  return (await res.json()) as GettableAlert[];
}

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("Alertmanager channel against a real Prometheus Alertmanager", () => {
  it("posts labels and annotations, re-sends while firing, and ends the alert on resolve", async () => {
    const channel = createAlertmanagerChannel({
      url,
      serviceName: "ticktrace-test",
      resendIntervalMs: 300,
      minLevel: "WARNING",
    });
    const manager = new AlertManager({ channels: [channel] }).start();
    const raised = manager.raise({
      rule: "circuit_breaker_tripped",
      level: "CRITICAL",
      title: "Circuit breaker tripped: trading is stopped",
      message: "Breaker daily_loss tripped",
      labels: { breaker: "daily_loss", "odd-key": "x" },
      traceId: TRACE,
    })!;
    manager.raise({
      rule: "large_fill",
      level: "INFO",
      title: "fill",
      message: "below min level",
      transient: true,
    });
    const received = await waitFor(async () =>
      (await alertsIn()).find((a) => a.labels.alertname === "CircuitBreakerTripped"),
    );
    expect(received.labels).toEqual({
      alertname: "CircuitBreakerTripped",
      severity: "critical",
      service: "ticktrace-test",
      breaker: "daily_loss",
      odd_key: "x",
    });
    expect(received.annotations).toEqual({
      summary: "Circuit breaker tripped: trading is stopped",
      description: "Breaker daily_loss tripped",
      trace_id: TRACE,
      alert_id: raised.id,
    });
    expect(received.status.state).toBe("active");
    expect(Date.parse(received.startsAt)).toBe(Date.parse(raised.timestamp));
    const firstEnds = Date.parse(received.endsAt);
    // The resend refreshes endsAt (Alertmanager sets it to receipt time + resolve_timeout).
    await waitFor(async () => {
      const again = (await alertsIn()).find((a) => a.labels.alertname === "CircuitBreakerTripped");
      return again && Date.parse(again.endsAt) > firstEnds ? again : undefined;
    });
    expect((await alertsIn()).some((a) => a.labels.alertname === "LargeFill")).toBe(false);

    const resolved = manager.resolve("circuit_breaker_tripped", { breaker: "daily_loss", "odd-key": "x" })!;
    await manager.idle();
    // Without endsAt the alert would stay active for resolve_timeout (5 min); with endsAt in the
    // past Alertmanager treats it as resolved and drops it from the list.
    const gone = await waitFor(async () => {
      const list = await alertsIn();
      return list.some((a) => a.labels.alertname === "CircuitBreakerTripped") ? undefined : list;
    });
    expect(gone.filter((a) => a.labels.alertname === "CircuitBreakerTripped")).toEqual([]);
    expect(resolved.resolvedAt).toBeDefined();
    await manager.shutdown();
  });
});
