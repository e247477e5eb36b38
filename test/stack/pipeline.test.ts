import { readFileSync, readdirSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { REPO } from "../../scripts/stack/lib.js";
import { expandVariables } from "../deploy/promql.js";
import { EMPTY_PANELS, MAYBE_EMPTY_PANELS } from "./empty-panels.js";
import {
  SERVICE,
  appConfig,
  freePort,
  promQuery,
  startApp,
  startFakeTelegram,
  startStack,
  stopApp,
  waitFor,
  type App,
  type FakeTelegram,
  type TestStack,
} from "./helpers.js";
import {
  startGrpcTraceCapture,
  startHttpLogCapture,
  type GrpcTraceCapture,
  type HttpLogCapture,
} from "./otlp-capture.js";

/**
 * Traces and logs through the real collector (otel-collector.yaml as committed, the slim
 * distribution): the reference process runs flash-crash with its Telegram and Slack channels
 * pointed at fakes on 127.0.0.1, so its HTTP client spans carry a bot token and a webhook path.
 * Tempo and Loki are not built here (docs/stack.md); the collector's `otlp/tempo` and
 * `otlphttp/loki` exporters send to OTLP servers of this test that decode what arrives.
 * Span metrics and their exemplars are checked in the real Prometheus.
 */
const TOKEN = "987654321:AAredaction-test_token";
const SLACK_PATH = "/services/T0STACK/B0STACK/s3cr3tWebhookPath";

let stack: TestStack;
let app: App | undefined;
let tempo: GrpcTraceCapture;
let loki: HttpLogCapture;
let telegram: FakeTelegram;
let slack: http.Server;
let slackUrl = "";
/** The label carrying the trace id in the exemplars Prometheus returned. */
let exemplarLabel = "";

beforeAll(async () => {
  [tempo, loki, telegram] = await Promise.all([
    startGrpcTraceCapture(),
    startHttpLogCapture(),
    startFakeTelegram(TOKEN),
  ]);
  slack = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => res.writeHead(200, { "content-type": "text/plain" }).end("ok"));
  });
  await new Promise<void>((r) => slack.listen(0, "127.0.0.1", r));
  slackUrl = `http://127.0.0.1:${(slack.address() as AddressInfo).port}${SLACK_PATH}`;
  const port = await freePort();
  stack = await startStack({
    appTarget: `127.0.0.1:${port}`,
    interval: "5s",
    alertmanagers: 1,
    lokiOtlpEndpoint: loki.url,
    tempoOtlpGrpcEndpoint: tempo.address,
  });
  app = startApp({
    scenario: "flash-crash",
    durationS: 600,
    port,
    config: appConfig({
      port,
      otlpEndpoint: stack.state.endpoints.otlp_http,
      extra: {
        alerts: {
          telegram: {
            enabled: true,
            bot_token: TOKEN,
            chat_id: "42",
            api_url: telegram.url,
            min_level: "WARNING",
          },
          slack: { enabled: true, webhook_url: slackUrl, min_level: "WARNING" },
          jsonl: { dir: "logs/alerts" },
        },
        trading: { scenario: { incident_after_ms: 5_000 } },
      },
    }),
  });
});

afterAll(async () => {
  await stopApp(app);
  // Unset when beforeAll failed.
  await (stack as TestStack | undefined)?.stop();
  await Promise.all([
    (tempo as GrpcTraceCapture | undefined)?.close(),
    (loki as HttpLogCapture | undefined)?.close(),
    (telegram as FakeTelegram | undefined)?.close(),
  ]);
  await new Promise((r) => (slack as http.Server | undefined)?.close(r));
});

describe("traces and logs through the real collector", () => {
  it("a tick's trace has its stage spans: market data -> decision -> risk check -> order -> ack", async () => {
    const trace = await waitFor(
      "a tick trace with every stage span",
      () => {
        const byTrace = new Map<string, Set<string>>();
        for (const s of tempo.spans) {
          if (!byTrace.has(s.traceId)) byTrace.set(s.traceId, new Set());
          byTrace.get(s.traceId)!.add(s.name);
        }
        for (const [id, names] of byTrace) {
          if (
            ["tick", "market_data", "decide", "risk_check", "place_order", "ack"].every((n) => names.has(n))
          )
            return id;
        }
        return undefined;
      },
      60_000,
    );
    const spans = tempo.spans.filter((s) => s.traceId === trace);
    const root = spans.find((s) => s.name === "tick")!;
    for (const s of spans.filter(
      (x) => x.name !== "tick" && ["market_data", "decide", "risk_check", "place_order"].includes(x.name),
    )) {
      expect(s.parentSpanId, `${s.name} is a child of tick`).toBe(root.spanId);
    }
    expect(root.resource["service.name"]).toBe(SERVICE);
  });

  it("the breaker log record arrives with service.name and a trace id that resolves", async () => {
    const record = await waitFor(
      "the circuit breaker tripped log record",
      () => loki.logs.find((l) => String(l.body).startsWith("circuit breaker tripped")),
      90_000,
    );
    expect(record.resource["service.name"]).toBe(SERVICE);
    expect(record.severityText).toMatch(/error/i);
    // The breaker trips inside a tick, or in the span of a check outside one (a fill, the
    // positions worker): either way the record carries a trace id that the traces backend has.
    expect(record.traceId).toMatch(/^[0-9a-f]{32}$/);
    await waitFor(
      "the log record's trace",
      () => (tempo.spans.some((s) => s.traceId === record.traceId) ? true : undefined),
      30_000,
    );
  });

  it("stores a span that carried a Telegram bot token or a Slack webhook path redacted", async () => {
    await waitFor(
      "the alert to reach the fake Telegram and Slack",
      () => (telegram.messages.length > 0 ? true : undefined),
      90_000,
    );
    const clientSpans = await waitFor(
      "the HTTP client spans of the Telegram and Slack calls",
      () => {
        const spans = tempo.spans.filter((s) =>
          (typeof s.attributes["url.full"] === "string" ? s.attributes["url.full"] : "").startsWith(
            "http://127.0.0.1",
          ),
        );
        const tg = spans.filter((s) => String(s.attributes["url.full"]).includes("/sendMessage"));
        const sl = spans.filter((s) => String(s.attributes["url.full"]).includes("/services/"));
        return tg.length && sl.length ? [...tg, ...sl] : undefined;
      },
      60_000,
    );
    const all = JSON.stringify(tempo.spans);
    expect(all).not.toContain(TOKEN.split(":")[1]);
    expect(all).not.toContain("s3cr3tWebhookPath");
    for (const s of clientSpans) {
      expect(String(s.attributes["url.full"])).toMatch(
        /\/bot<redacted>\/sendMessage$|\/services\/<redacted>$/,
      );
    }
    expect(JSON.stringify(loki.logs)).not.toContain(TOKEN.split(":")[1]);
  });

  it("scrubs signature, key and token query parameters from URLs (a span sent straight to the collector)", async () => {
    const traceId = "5b8efff798038103d269b633813fc60c";
    const url =
      "https://api.exchange.test/api/v3/order?symbol=BTCUSDT&signature=c0ffee&timestamp=1&apiKey=AKIA123";
    const span = {
      traceId,
      spanId: "eee19b7ec3c1b174",
      name: "POST",
      kind: 3,
      startTimeUnixNano: String(Date.now() * 1e6),
      endTimeUnixNano: String(Date.now() * 1e6 + 1e6),
      attributes: [
        { key: "url.full", value: { stringValue: url } },
        {
          key: "url.query",
          value: { stringValue: "api_key=k1&sig=s1&token=t1&secret=x&passphrase=p&key=k2&symbol=ETH" },
        },
        {
          key: "http.url",
          value: { stringValue: "https://api.telegram.org/bot123:ABCdef_-x/sendMessage?token=abc" },
        },
        { key: "http.target", value: { stringValue: "/services/T1/B2/C3?sig=zz" } },
      ],
    };
    const r = await fetch(`${stack.state.endpoints.otlp_http}/v1/traces`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        resourceSpans: [
          {
            resource: { attributes: [{ key: "service.name", value: { stringValue: "redaction-probe" } }] },
            scopeSpans: [{ spans: [span] }],
          },
        ],
      }),
    });
    expect(r.status).toBe(200);
    const stored = await waitFor(
      "the probe span",
      () => tempo.spans.find((s) => s.traceId === traceId),
      30_000,
    );
    expect(stored.attributes["url.full"]).toBe(
      "https://api.exchange.test/api/v3/order?symbol=BTCUSDT&signature=<redacted>&timestamp=1&apiKey=<redacted>",
    );
    expect(stored.attributes["url.query"]).toBe(
      "api_key=<redacted>&sig=<redacted>&token=<redacted>&secret=<redacted>&passphrase=<redacted>&key=<redacted>&symbol=ETH",
    );
    expect(stored.attributes["http.url"]).toBe(
      "https://api.telegram.org/bot<redacted>/sendMessage?token=<redacted>",
    );
    expect(stored.attributes["http.target"]).toBe("/services/<redacted>?sig=<redacted>");
  });

  it("span metrics reach Prometheus with exemplars whose trace ids the collector exported", async () => {
    const prometheus = stack.state.endpoints.prometheus;
    await waitFor(
      "traces_span_metrics_calls_total",
      async () =>
        (await promQuery(prometheus, `traces_span_metrics_calls_total{service_name="${SERVICE}"}`)).length
          ? true
          : undefined,
      60_000,
    );
    const exemplars = await waitFor(
      "exemplars of traces_span_metrics_duration_seconds_bucket",
      async () => {
        const now = Date.now() / 1000;
        const r = await fetch(
          `${prometheus}/api/v1/query_exemplars?${String(new URLSearchParams({ query: "traces_span_metrics_duration_seconds_bucket", start: String(now - 600), end: String(now) }))}`,
        );
        const body = (await r.json()) as { data: { exemplars: { labels: Record<string, string> }[] }[] };
        const all = body.data.flatMap((d) => d.exemplars);
        return all.length ? all : undefined;
      },
      60_000,
    );
    // The Grafana datasource's exemplarTraceIdDestinations name `trace_id` (checked below).
    const ids = exemplars.map((e) => e.labels.trace_id).filter(Boolean);
    exemplarLabel = ids.length ? "trace_id" : Object.keys(exemplars[0]!.labels).join(",");
    expect(ids.length, JSON.stringify(exemplars[0])).toBeGreaterThan(0);
    const exported = new Set(tempo.spans.map((s) => s.traceId));
    expect(
      ids.some((id) => exported.has(id!)),
      "an exemplar's trace id is a trace the collector exported",
    ).toBe(true);
  });

  it("the Prometheus datasource's exemplar trace-id label is the label Prometheus returns", () => {
    const ds = parse(
      readFileSync(path.join(REPO, "deploy/grafana/provisioning/datasources/datasources.yaml"), "utf8"),
    ) as {
      datasources: { uid: string; jsonData?: { exemplarTraceIdDestinations?: { name: string }[] } }[];
    };
    const prom = ds.datasources.find((d) => d.uid === "prometheus")!;
    expect(prom.jsonData?.exemplarTraceIdDestinations?.map((d) => d.name)).toEqual([exemplarLabel]);
  });

  it("every dashboard panel query returns data, or is listed in empty-panels.ts with its reason", async () => {
    const prometheus = stack.state.endpoints.prometheus;
    // After the crash: the breaker's rule firing and its trip counter scraped twice (increase()
    // needs two samples), so the incident panels have something to show.
    await waitFor(
      "the breaker trip in Prometheus",
      async () => {
        const firing = await promQuery(
          prometheus,
          'ALERTS{alertstate="firing", alertname="CircuitBreakerTripped"}',
        );
        const trips = await promQuery(prometheus, "increase(trading_circuit_breaker_trips_total[5m])");
        return firing.length && trips.length ? true : undefined;
      },
      120_000,
    );
    const empty: string[] = [];
    const listedButData: string[] = [];
    const errors: string[] = [];
    const dir = path.join(REPO, "deploy/grafana/dashboards");
    interface Panel {
      title?: string;
      datasource?: { uid?: string };
      targets?: { expr?: string; query?: string; datasource?: { uid?: string } }[];
      panels?: Panel[];
    }
    const walk = (ps: Panel[]): Panel[] => ps.flatMap((p) => [p, ...walk(p.panels ?? [])]);
    for (const file of readdirSync(dir).filter((f) => f.endsWith(".json"))) {
      const dashboard = JSON.parse(readFileSync(path.join(dir, file), "utf8")) as {
        title: string;
        panels?: Panel[];
      };
      for (const panel of walk(dashboard.panels ?? [])) {
        const targets = panel.targets ?? [];
        for (const [i, target] of targets.entries()) {
          // A panel with several queries names each by its position: `... / Panel [2]`.
          const key = `${dashboard.title} / ${panel.title ?? ""}${targets.length > 1 ? ` [${i + 1}]` : ""}`;
          const uid = target.datasource?.uid ?? panel.datasource?.uid;
          let hasData = false;
          if (uid === "prometheus" && target.expr) {
            try {
              hasData = (await promQuery(prometheus, expandVariables(target.expr))).length > 0;
            } catch (err) {
              errors.push(`${key}: ${(err as Error).message}`);
              continue;
            }
          }
          if (hasData && EMPTY_PANELS[key]) listedButData.push(key);
          if (!hasData && !EMPTY_PANELS[key] && !MAYBE_EMPTY_PANELS[key])
            empty.push(`${key}: ${String(target.expr ?? target.query)}`);
        }
      }
    }
    expect({ errors, empty, listedButData }).toEqual({ errors: [], empty: [], listedButData: [] });
  });
});
