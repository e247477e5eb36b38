import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAlertmanagerChannel } from "../../src/alerting/channels/alertmanager.js";
import type { Alert } from "../../src/alert-model/types.js";
import { TicktraceError } from "../../src/errors.js";
import { configSchema } from "../../src/config/schema.js";
import { startFakeHttpServer, type FakeHttpServer } from "./fake-http.js";

/**
 * `alerts.alertmanager.url` as a list: every instance of an Alertmanager cluster gets each alert,
 * as Prometheus sends to all its `alertmanagers`. Real HTTP servers on 127.0.0.1 stand in for the
 * instances (the real cluster is tested in test/stack/alerts.test.ts).
 */
const alert: Alert = {
  id: "a1",
  fingerprint: "f1",
  rule: "circuit_breaker_tripped",
  level: "CRITICAL",
  title: "Circuit breaker tripped: trading is stopped",
  message: "Breaker daily_loss tripped",
  timestamp: "2026-01-01T00:00:00.000Z",
  labels: { breaker: "daily_loss" },
  fields: {},
  status: "firing",
  acknowledged: false,
};

let a: FakeHttpServer;
let b: FakeHttpServer;
beforeAll(async () => {
  [a, b] = await Promise.all([startFakeHttpServer("{}"), startFakeHttpServer("{}")]);
});
afterAll(async () => {
  await Promise.all([a.close(), b.close()]);
});

describe("Alertmanager channel with several URLs", () => {
  it("posts each alert to every instance", async () => {
    const channel = createAlertmanagerChannel({ url: [a.url, `${b.url}/`], serviceName: "svc" });
    await channel.send(alert, AbortSignal.timeout(5000));
    for (const server of [a, b]) {
      const last = server.requests.at(-1)!;
      expect(last.path).toBe("/api/v2/alerts");
      expect(last.body[0].labels).toMatchObject({
        alertname: "CircuitBreakerTripped",
        service: "svc",
        breaker: "daily_loss",
      });
    }
  });

  it("succeeds while one instance accepts, fails (retryable) only when none does", async () => {
    const channel = createAlertmanagerChannel({ url: [a.url, b.url], serviceName: "svc" });
    b.mode = { kind: "status", status: 503 };
    await expect(channel.send(alert, AbortSignal.timeout(5000))).resolves.toBeUndefined();
    a.mode = { kind: "status", status: 500 };
    const error = await channel.send(alert, AbortSignal.timeout(5000)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TicktraceError);
    expect((error as TicktraceError).retryable).toBe(true);
    expect((error as Error).message).toContain("every Alertmanager failed");
    expect((error as Error).message).toContain(a.url);
    expect((error as Error).message).toContain(b.url);
    a.mode = { kind: "ok" };
    b.mode = { kind: "ok" };
  });

  it("config: url takes one URL (as before) or a list, and names the key on a bad entry", () => {
    const one = configSchema.parse({ alerts: { alertmanager: { url: "http://am:9093" } } });
    expect(one.alerts.alertmanager.url).toBe("http://am:9093");
    const two = configSchema.parse({
      alerts: { alertmanager: { url: ["http://am1:9093", "http://am2:9093"] } },
    });
    expect(two.alerts.alertmanager.url).toEqual(["http://am1:9093", "http://am2:9093"]);
    const bad = configSchema.safeParse({ alerts: { alertmanager: { url: ["http://am1:9093", "ftp://x"] } } });
    expect(bad.success).toBe(false);
    expect(JSON.stringify(bad.error?.issues)).toContain("url");
    const empty = configSchema.safeParse({ alerts: { alertmanager: { url: [] } } });
    expect(empty.success).toBe(false);
  });
});
