import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stopProcess } from "../../scripts/stack/stack.js";
import {
  SERVICE,
  appConfig,
  freePort,
  promQuery,
  sleep,
  startApp,
  startFakeTelegram,
  startStack,
  stopApp,
  waitFor,
  type App,
  type FakeTelegram,
  type TestStack,
} from "./helpers.js";

/**
 * Alerts through the real Prometheus and two clustered Alertmanagers to a fake Telegram Bot API
 * on 127.0.0.1. The reference process runs the flash-crash scenario with its Alertmanager
 * channel posting to both instances. One run covers, in order:
 *   - a breaker trip raised by the process (its Alertmanager channel) and by the
 *     CircuitBreakerTripped rule reaches Telegram once, with one of the two Alertmanagers stopped
 *     right after the trip;
 *   - SIGKILL of the process: TradingProcessDown reaches Telegram within the rule's `for` plus
 *     `group_wait` (plus one scrape and two evaluations of the 5 s interval this stack uses).
 */
const TOKEN = "123456789:AAstack-test-token_abc";
const CHAT = "-1001234567890"; // the chat id committed in deploy/alertmanager/alertmanager.yml
const INTERVAL_S = 5;
const RULE_FOR_S = 60; // TradingProcessDown `for: 1m`
const GROUP_WAIT_S = 10; // critical route's group_wait
/** Alertmanager's default --cluster.peer-timeout: how long the second instance waits for the first. */
const PEER_TIMEOUT_S = 15;

let telegram: FakeTelegram;
let stack: TestStack;
let app: App | undefined;

function firing(alertname: string) {
  return telegram.messages.filter((m) => m.text.includes(`FIRING</b> ${alertname} (${SERVICE})`));
}

beforeAll(async () => {
  telegram = await startFakeTelegram(TOKEN);
  const port = await freePort();
  stack = await startStack({
    appTarget: `127.0.0.1:${port}`,
    telegramApiUrl: telegram.url,
    telegramBotToken: TOKEN,
    interval: `${INTERVAL_S}s`,
    alertmanagers: 2,
  });
  app = startApp({
    scenario: "flash-crash",
    durationS: 600,
    port,
    config: appConfig({
      port,
      otlpEndpoint: stack.state.endpoints.otlp_http,
      alertmanagerUrls: stack.state.endpoints.alertmanager,
    }),
  });
  await waitFor(
    "the trading process scraped by Prometheus",
    async () => {
      const up = await promQuery(stack.state.endpoints.prometheus, `up{job="${SERVICE}"} == 1`);
      return up.length > 0 ? true : undefined;
    },
    60_000,
  );
});

afterAll(async () => {
  await stopApp(app);
  // Unset when beforeAll failed.
  await (stack as TestStack | undefined)?.stop();
  await (telegram as FakeTelegram | undefined)?.close();
});

describe("alerts through Prometheus and clustered Alertmanagers to Telegram", () => {
  it("a breaker trip seen by the process and by a rule reaches Telegram once, with one Alertmanager stopped", async () => {
    // The breaker trips a few seconds after the crash starts (incident_after_ms 15 s).
    await waitFor(
      "the breaker to trip",
      async () => {
        const text = await (await fetch(`${app!.url}/metrics`)).text();
        return /^trading_circuit_breaker_active\{[^}]*\} 1$/m.test(text) ? true : undefined;
      },
      90_000,
    );
    // Stop one instance of the cluster during the trip: the process and Prometheus keep
    // posting to both; the survivor must notify, once.
    const second = stack.state.processes.find((p) => p.name === "alertmanager-2")!;
    await stopProcess(second);

    const am = stack.state.endpoints.alertmanager[0]!;
    // Both sources reach the surviving Alertmanager under the same alertname.
    const both = await waitFor(
      "CircuitBreakerTripped from the process and from Prometheus in Alertmanager",
      async () => {
        const r = await fetch(
          `${am}/api/v2/alerts?filter=${encodeURIComponent('alertname="CircuitBreakerTripped"')}`,
        );
        const alerts = (await r.json()) as {
          labels: Record<string, string>;
          annotations: Record<string, string>;
        }[];
        const fromProcess = alerts.filter((a) => a.annotations.alert_id);
        const fromRule = alerts.filter((a) => a.labels.job === SERVICE && !a.annotations.alert_id);
        return fromProcess.length > 0 && fromRule.length > 0 ? alerts : undefined;
      },
      60_000,
    );
    expect(both.every((a) => a.labels.service === SERVICE && a.labels.severity === "critical")).toBe(true);

    await waitFor(
      "a Telegram message for CircuitBreakerTripped",
      () => (firing("CircuitBreakerTripped").length ? true : undefined),
      60_000,
    );
    const first = firing("CircuitBreakerTripped")[0]!;
    expect(first.chatId).toBe(CHAT);
    // One message carries both sources' alerts (same group: alertname + service)...
    expect(first.text.match(/<b>CRITICAL<\/b> Circuit breaker tripped/g), first.text).toHaveLength(2);
    // ...and no second one comes: the stopped instance cannot send, and a second live instance
    // would have sent after the peer timeout had the first not recorded its notification.
    await sleep((PEER_TIMEOUT_S + 5) * 1000);
    expect(firing("CircuitBreakerTripped")).toHaveLength(1);
    expect(telegram.bad).toEqual([]);
  });

  it("SIGKILL of the process: TradingProcessDown reaches Telegram within for + group_wait", async () => {
    const killedAt = Date.now();
    app!.child.kill("SIGKILL");
    await app!.exited;
    const bound = (RULE_FOR_S + GROUP_WAIT_S + 3 * INTERVAL_S + 10) * 1000;
    const message = await waitFor(
      "TradingProcessDown on Telegram",
      () => firing("TradingProcessDown")[0],
      bound + PEER_TIMEOUT_S * 1000,
    );
    const seconds = (message.at - killedAt) / 1000;
    console.log(
      `TradingProcessDown reached Telegram ${seconds.toFixed(1)} s after SIGKILL (bound ${bound / 1000} s)`,
    );
    expect(seconds, `TradingProcessDown after ${seconds} s`).toBeLessThanOrEqual(bound / 1000);
    expect(seconds).toBeGreaterThanOrEqual(RULE_FOR_S);
    expect(message.chatId).toBe(CHAT);
    expect(message.text).toContain("The trading process is not being scraped");

    // No duplicate from the cluster after the peer timeout.
    await sleep((PEER_TIMEOUT_S + 5) * 1000);
    expect(firing("TradingProcessDown")).toHaveLength(1);
    expect(telegram.bad).toEqual([]);
  });
});
