import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  SERVICE,
  appConfig,
  freePort,
  promQuery,
  sleep,
  startApp,
  startStack,
  stopApp,
  waitFor,
  type App,
  type TestStack,
} from "./helpers.js";

/**
 * Metrics both ways in: the reference process serves /metrics (Prometheus scrapes it, job
 * ticktrace-demo, target labels role/service) and, with telemetry.metrics_push on, pushes the
 * same instruments by OTLP through the collector into Prometheus's OTLP receiver. Every
 * `trading_*` and `ticktrace_*` series the scrape path has must exist on the OTLP path under the
 * same name and labels, and the other way round.
 *
 * Labels that tell the paths apart and are not the instruments' own are left out of the
 * comparison: job and instance (both paths set them, from different sources), the scrape
 * target's labels (role, service: prometheus.yml), and the resource attributes the OTLP receiver
 * promotes (service_name, service_instance_id, deployment_environment_name: prometheus.yml).
 */
const PATH_LABELS = new Set([
  "job",
  "instance",
  "role",
  "service",
  "service_name",
  "service_instance_id",
  "deployment_environment_name",
]);

let stack: TestStack;
let app: App | undefined;

beforeAll(async () => {
  const port = await freePort();
  stack = await startStack({ appTarget: `127.0.0.1:${port}`, interval: "5s", alertmanagers: 1 });
  app = startApp({
    scenario: "volatile",
    durationS: 600,
    port,
    config: appConfig({ port, otlpEndpoint: stack.state.endpoints.otlp_http, metricsPush: true }),
  });
});

afterAll(async () => {
  await stopApp(app);
  await (stack as TestStack | undefined)?.stop(); // unset when beforeAll failed
});

/** `name{labels minus PATH_LABELS}` of every series a selector returns. */
async function seriesKeys(selector: string): Promise<Set<string>> {
  const out = new Set<string>();
  for (const r of await promQuery(stack.state.endpoints.prometheus, selector)) {
    const { __name__: name, ...labels } = r.metric;
    const own = Object.entries(labels)
      .filter(([k]) => !PATH_LABELS.has(k))
      // Prometheus 3.5 spells bucket bounds differently per path (scraped le="5e-05", le="10.0";
      // OTLP le="0.00005", le="10"); PromQL reads le as a number, so compare it as one.
      .map(([k, v]): [string, string] => [k, k === "le" ? String(Number(v)) : v])
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k}="${v}"`);
    out.add(`${String(name)}{${own.join(",")}}`);
  }
  return out;
}

/** Family names of the `# TYPE` lines of /metrics that have at least one sample. */
async function servedFamilies(): Promise<string[]> {
  const text = await (await fetch(`${app!.url}/metrics`)).text();
  const families = [...text.matchAll(/^# TYPE ((?:trading|ticktrace)_\S+) \S+$/gm)].map((m) => m[1]!);
  const samples = text.split("\n").filter((l) => l && !l.startsWith("#"));
  return families.filter((f) => samples.some((l) => l.startsWith(f) && /^[{ _]/.test(l.slice(f.length))));
}

describe("metrics both ways in: /metrics scrape and OTLP push", () => {
  it("every trading_* and ticktrace_* series arrives by OTLP under the same name and labels", async () => {
    const NAMES = `__name__=~"(trading|ticktrace)_.+"`;
    const scrape = `{${NAMES}, job="${SERVICE}", role="trading"}`;
    const otlp = `{${NAMES}, service_name="${SERVICE}"}`;
    // Let both paths run a few rounds (scrape 5 s, push 2 s + collector batch 2 s).
    await waitFor(
      "series on both paths",
      async () =>
        (await seriesKeys(otlp)).size > 20 && (await seriesKeys(scrape)).size > 20 ? true : undefined,
      90_000,
    );
    await sleep(15_000);

    let onlyScraped: string[] = [];
    let onlyPushed: string[] = [];
    // Series appear as the run goes on (an order status, a breaker): converge for a while.
    for (let i = 0; i < 6; i++) {
      const [a, b] = [await seriesKeys(scrape), await seriesKeys(otlp)];
      onlyScraped = [...a].filter((k) => !b.has(k)).sort();
      onlyPushed = [...b].filter((k) => !a.has(k)).sort();
      if (onlyScraped.length === 0 && onlyPushed.length === 0) break;
      await sleep(5_000);
    }
    expect({ onlyScraped, onlyPushed }).toEqual({ onlyScraped: [], onlyPushed: [] });

    // And every family /metrics serves is there at all (a family with no series is not served).
    const families = await servedFamilies();
    expect(families.length).toBeGreaterThan(10);
    const pushedNames = new Set([...(await seriesKeys(otlp))].map((k) => k.slice(0, k.indexOf("{"))));
    const missing = families.filter(
      (f) => ![f, `${f}_bucket`, `${f}_total`, `${f}_count`].some((n) => pushedNames.has(n)),
    );
    expect(missing, "families /metrics serves that did not arrive by OTLP").toEqual([]);
  });
});
