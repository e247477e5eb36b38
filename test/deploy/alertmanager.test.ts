import type { ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { GO_LISTENING, spawnListening, stopChild } from "../support/processes.js";
import {
  readYaml,
  repoPath,
  run,
  startRecordingServer,
  tempDir,
  waitFor,
  type RecordingServer,
} from "./helpers.js";

/**
 * deploy/alertmanager/alertmanager.yml reads the Telegram token from `bot_token_file`, which
 * needs Alertmanager 0.26+ (the pinned image). Debian's Alertmanager/amtool here is 0.25, so the
 * checks run on a variant that differs only where 0.25 or a test needs it: the token inlined,
 * the Slack webhook and Telegram API pointed at local fakes, the templates path made absolute,
 * and (for the live test) group waits shortened. Everything else — routes, grouping,
 * inhibitions, receivers, templates — is the committed file.
 */
interface Receiver {
  name: string;
  telegram_configs?: Record<string, unknown>[];
  slack_configs?: Record<string, unknown>[];
}
interface AmConfig {
  route: {
    group_wait: string;
    group_by: string[];
    routes: { group_wait?: string; receiver: string; matchers: string[] }[];
  };
  receivers: Receiver[];
  templates: string[];
  inhibit_rules: unknown[];
}

const TOKEN = "123456:TEST-token";
const temp = tempDir("alertmanager");

function variant(urls: { telegram: string; slack: string }, fast: boolean): string {
  const config = readYaml("deploy/alertmanager/alertmanager.yml") as AmConfig;
  for (const receiver of config.receivers) {
    for (const telegram of receiver.telegram_configs ?? []) {
      expect(telegram.bot_token_file).toBe("/run/secrets/telegram_bot_token");
      delete telegram.bot_token_file;
      telegram.bot_token = TOKEN;
      telegram.api_url = urls.telegram;
    }
    for (const slack of receiver.slack_configs ?? []) {
      expect(slack.api_url_file).toBe("/run/secrets/slack_webhook_url");
      delete slack.api_url_file;
      slack.api_url = `${urls.slack}/services/T000/B000/XXXX`;
    }
  }
  config.templates = [repoPath("deploy/alertmanager/templates/*.tmpl")];
  if (fast) {
    config.route.group_wait = "1s";
    for (const route of config.route.routes) if (route.group_wait !== undefined) route.group_wait = "1s";
  }
  const path = join(temp.dir, fast ? "fast.yml" : "check.yml");
  writeFileSync(path, stringify(config));
  return path;
}

describe("Alertmanager configuration", () => {
  it("passes amtool check-config (0.25, on the variant described above)", async () => {
    const result = await run("amtool", [
      "check-config",
      variant({ telegram: "http://127.0.0.1:1", slack: "http://127.0.0.1:1" }, false),
    ]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain("SUCCESS");
    expect(result.stdout).toContain("2 inhibit rules");
  });

  it("groups by alertname and service and routes critical and error to Telegram", () => {
    const config = parse(readFileSync(repoPath("deploy/alertmanager/alertmanager.yml"), "utf8")) as AmConfig;
    expect(config.route.group_by).toEqual(["alertname", "service"]);
    const routes = Object.fromEntries(config.route.routes.map((r) => [r.matchers[0], r.receiver]));
    expect(routes).toEqual({
      'severity="critical"': "telegram-and-slack",
      'severity="error"': "telegram-and-slack",
      'severity=~"warning|info"': "slack",
    });
  });
});

describe("Alertmanager delivering what Prometheus and the process both send", () => {
  let telegram: RecordingServer;
  let slack: RecordingServer;
  let alertmanager: ChildProcess | undefined;
  let url = "";
  let log = "";

  beforeAll(async () => {
    telegram = await startRecordingServer(
      JSON.stringify({
        ok: true,
        result: { message_id: 1, date: 0, chat: { id: -1001234567890, type: "supergroup" } },
      }),
    );
    slack = await startRecordingServer("ok");
    // Port 0: Alertmanager logs the address it bound (`msg="Listening on" address=...`).
    const started = await spawnListening(
      "prometheus-alertmanager",
      [
        `--config.file=${variant({ telegram: telegram.url, slack: slack.url }, true)}`,
        `--storage.path=${join(temp.dir, "data")}`,
        "--web.listen-address=127.0.0.1:0",
        "--cluster.listen-address=",
        "--log.level=info",
      ],
      { listening: GO_LISTENING },
    );
    alertmanager = started.child;
    url = `http://${started.address}`;
    log = started.output();
    alertmanager.stdout!.on("data", (chunk: Buffer) => (log += chunk.toString()));
    alertmanager.stderr!.on("data", (chunk: Buffer) => (log += chunk.toString()));
    await waitFor(
      "Alertmanager ready",
      async () => ((await fetch(`${url}/-/ready`)).ok ? true : undefined),
      20_000,
    );
  });

  afterAll(async () => {
    // Removing its storage while it still writes there failed with ENOTEMPTY: wait for the exit.
    await stopChild(alertmanager);
    // Unset when beforeAll failed.
    await Promise.all([
      (telegram as RecordingServer | undefined)?.close(),
      (slack as RecordingServer | undefined)?.close(),
    ]);
    temp.cleanup();
  });

  it("delivers an alert seen by both once, and applies the inhibitions", async () => {
    const startsAt = new Date().toISOString();
    const alert = (labels: Record<string, string>) => ({
      labels,
      annotations: {
        summary: `${labels.alertname!} summary`,
        description: "d",
        runbook_url: "docs/runbook.md#x",
      },
      startsAt,
    });
    const service = "ticktrace-demo";
    const response = await fetch(`${url}/api/v2/alerts`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify([
        // Prometheus's view (scrape labels) and the process's view (its identifying labels only).
        alert({
          alertname: "CircuitBreakerTripped",
          severity: "critical",
          service,
          breaker: "daily_loss",
          job: service,
          instance: "app:8080",
        }),
        alert({ alertname: "CircuitBreakerTripped", severity: "critical", service, breaker: "daily_loss" }),
        // Muted by the tripped breaker of the same service.
        alert({ alertname: "DailyLossNearLimit", severity: "warning", service, strategy: "mm" }),
        // Not muted: another service.
        alert({ alertname: "DailyLossNearLimit", severity: "warning", service: "other-bot", strategy: "mm" }),
        // A disconnect mutes that exchange's latency alert, not another exchange's.
        alert({ alertname: "ExchangeDisconnected", severity: "warning", service, exchange: "sim" }),
        alert({
          alertname: "ExchangeLatencyHigh",
          severity: "warning",
          service,
          exchange: "sim",
          operation: "place_order",
        }),
        alert({
          alertname: "ExchangeLatencyHigh",
          severity: "warning",
          service,
          exchange: "kraken",
          operation: "place_order",
        }),
      ]),
    });
    expect(response.status, log).toBe(200);

    await waitFor("Telegram and Slack notifications", () =>
      Promise.resolve(telegram.requests.length >= 1 && slack.requests.length >= 4 ? true : undefined),
    );
    // Give duplicates (which must not come) time to arrive.
    await new Promise((r) => setTimeout(r, 2_500));

    expect(telegram.requests.map((r) => r.path)).toEqual([`/bot${TOKEN}/sendMessage`]);
    const message = telegram.requests[0]!.body;
    expect(message).toContain("-1001234567890");
    expect(message).toContain("CircuitBreakerTripped");
    expect(message).toContain("HTML");

    const slackTitles = slack.requests
      .map((r) => {
        expect(r.path).toBe("/services/T000/B000/XXXX");
        return (JSON.parse(r.body) as { attachments: { title: string }[] }).attachments[0]!.title;
      })
      .sort();
    expect(slackTitles).toEqual(
      [
        "[FIRING:2] CircuitBreakerTripped (ticktrace-demo)",
        "[FIRING:1] DailyLossNearLimit (other-bot)",
        "[FIRING:1] ExchangeDisconnected (ticktrace-demo)",
        "[FIRING:1] ExchangeLatencyHigh (ticktrace-demo)",
      ].sort(),
    );
    const latency = slack.requests.find((r) => r.body.includes("ExchangeLatencyHigh"))!;
    expect(latency.body).not.toContain("sim");
  });
});
