import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createSlackChannel } from "../../src/alerting/channels/slack.js";
import { AlertManager } from "../../src/alerting/manager.js";
import { HealthRegistry } from "../../src/health/registry.js";
import { startFakeHttpServer, type FakeHttpServer } from "./fake-http.js";
import { createCapturingLogger, testAlert } from "./helpers.js";

const HOOK_PATH = "/services/T000/B000/XXXXsecretXXXX";

let server: FakeHttpServer;
beforeEach(async () => {
  server = await startFakeHttpServer("ok");
});
afterEach(async () => {
  await server.close();
});

function setup(timeoutMs = 2000) {
  const capture = createCapturingLogger();
  const health = new HealthRegistry();
  const slack = createSlackChannel({
    webhookUrl: `${server.url}${HOOK_PATH}`,
    channel: "#trading-alerts",
    timeoutMs,
  });
  const manager = new AlertManager({
    channels: [slack],
    logger: capture.logger,
    health,
    retry: { initialDelayMs: 50, maxDelayMs: 100 },
  });
  return { manager, health, ...capture };
}

const risk = {
  rule: "risk_limit_breached",
  level: "ERROR" as const,
  title: "Risk limit breached: position on BTC/USDT",
  message: "position is 2.5 against a limit of 2.",
  labels: { limit: "position", symbol: "BTC/USDT" },
  fields: { value: 2.5, threshold: 2 },
};

describe("Slack channel", () => {
  it("posts an attachment coloured by level with title, text and fields, and a green resolve", async () => {
    const { manager } = setup();
    const alert = manager.raise(risk)!;
    const [request] = await server.waitForAccepted(1);
    expect(request!.path).toBe(HOOK_PATH);
    expect(request!.body).toEqual({
      channel: "#trading-alerts",
      text: "[ERROR] Risk limit breached: position on BTC/USDT",
      attachments: [
        {
          color: "#D00000",
          title: "ERROR Risk limit breached: position on BTC/USDT",
          text: "position is 2.5 against a limit of 2.",
          fields: [
            { title: "limit", value: "position", short: true },
            { title: "symbol", value: "BTC/USDT", short: true },
            { title: "value", value: "2.5", short: true },
            { title: "threshold", value: "2", short: true },
          ],
          footer: `ticktrace · risk_limit_breached · id ${alert.id}`,
          ts: Math.floor(Date.parse(alert.timestamp) / 1000),
        },
      ],
    });
    manager.resolve(risk.rule, risk.labels);
    const requests = await server.waitForAccepted(2);
    expect(requests[1]!.body.attachments[0]).toMatchObject({
      color: "#2EB886",
      title: "RESOLVED Risk limit breached: position on BTC/USDT",
    });
    expect(requests[1]!.body.text).toBe("[RESOLVED] Risk limit breached: position on BTC/USDT");
    await manager.shutdown();
  });

  it("honours 429 Retry-After, retries 500 and a hang, and keeps the webhook URL out of logs and /health", async () => {
    const { manager, health, text } = setup(300);
    server.queue.push(
      { kind: "slack429", retryAfterSeconds: 1 },
      { kind: "status", status: 500, body: "internal_error" },
      { kind: "hang" },
    );
    const started = Date.now();
    manager.raise(risk);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(JSON.stringify(health.snapshot())).toContain("Slack webhook failed (429: rate_limited)");
    await server.waitForAccepted(1, 10_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000 + 300);
    expect(server.requests).toHaveLength(4);
    await manager.idle();
    const logs = text();
    expect(logs).toContain("alert channel slack failed, retrying: Slack webhook failed (429: rate_limited)");
    expect(logs).not.toContain("XXXXsecretXXXX");
    expect(JSON.stringify(health.snapshot())).not.toContain("XXXXsecretXXXX");
    await manager.shutdown();
  });

  it("a 4xx other than 429 is final (REJECTED) and redacts the webhook", async () => {
    server.mode = { kind: "status", status: 404, body: `no_service at ${HOOK_PATH}` };
    const slack = createSlackChannel({ webhookUrl: `${server.url}${HOOK_PATH}` });
    const error = await slack.send(testAlert(), new AbortController().signal).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "REJECTED",
      status: 404,
      retryable: false,
      message: `Slack webhook failed (404: no_service at <redacted>) at POST ${server.url}<redacted>; check the URL`,
    });
  });
});
