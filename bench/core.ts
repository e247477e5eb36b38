/**
 * Cost of one metric record on the hot path, per instrument kind: ticktrace's instruments (the
 * catalogue on an sdk-metrics MeterProvider read by the Prometheus exporter, as the preload wires
 * them) against a raw `@opentelemetry/sdk-metrics` instrument and `prom-client`, interleaved.
 */
import type { Attributes } from "@opentelemetry/api";
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import {
  Counter as PromCounter,
  Gauge as PromGauge,
  Histogram as PromHistogram,
  Registry,
} from "prom-client";
import { parseConfig } from "../src/config/index.js";
import { LATENCY_BUCKETS_SECONDS } from "../src/telemetry/catalogue.js";
import { HotPathRecorder } from "../src/telemetry/hot-path.js";
import { createTradingMetrics } from "../src/telemetry/metrics.js";
import { metricViews } from "../src/telemetry/sdk.js";
import { compareFigure, interleave, nsPerOp, type Benchmark, type Figure } from "./lib.js";

const SYMBOLS = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT"];
const SIDES = ["buy", "sell"];

/** Attribute sets reused across calls, as a bot holding its labels would. */
const orderAttrs: Attributes[] = SYMBOLS.flatMap((symbol) =>
  SIDES.map((side) => ({ exchange: "simex", symbol, side, type: "limit" })),
);
const latencyAttrs: Attributes[] = SYMBOLS.map((symbol) => ({ symbol, stage: "sent" }));
const positionAttrs: Attributes[] = SYMBOLS.map((symbol) => ({ exchange: "simex", symbol }));

type Recorder = (i: number) => void;
interface Subjects {
  counter: Recorder;
  histogram: Recorder;
  gauge: Recorder;
}

function pick<T>(list: readonly T[], i: number): T {
  return list[i % list.length]!;
}

/** The catalogue instruments on a MeterProvider wired as the preload wires it (views, Prometheus reader). */
function oursSubjects(): Subjects & { hotPath: Recorder; hotPathFold: () => void } {
  const views = metricViews(parseConfig({}, { file: "bench" }));
  const provider = new MeterProvider({
    readers: [new PrometheusExporter({ preventServerStart: true })],
    views,
  });
  const m = createTradingMetrics(provider.getMeter("ticktrace"));
  // The hot-path recorder: the tick writes into preallocated buffers; a timer folds them into
  // the histogram. Folded explicitly here (off the timed loop) so the buffer never fills.
  const hot = new HotPathRecorder({ capacity: 1 << 20 });
  const series = latencyAttrs.map((attrs) => hot.series(m.tickToTrade, attrs));
  return {
    counter: (i) => m.ordersPlaced.add(1, pick(orderAttrs, i)),
    histogram: (i) => m.tickToTrade.record(0.0001 + (i % 100) * 1e-6, pick(latencyAttrs, i)),
    gauge: (i) => m.positionSize.record(i % 7, pick(positionAttrs, i)),
    hotPath: (i) => hot.record(pick(series, i), 0.1 + (i % 100) * 1e-3),
    hotPathFold: () => hot.flush(),
  };
}

function rawSdkSubjects(): Subjects {
  const provider = new MeterProvider({ readers: [new PrometheusExporter({ preventServerStart: true })] });
  const meter = provider.getMeter("raw");
  const counter = meter.createCounter("raw_orders_total");
  const histogram = meter.createHistogram("raw_latency_seconds", {
    advice: { explicitBucketBoundaries: [...LATENCY_BUCKETS_SECONDS] },
  });
  const gauge = meter.createGauge("raw_position");
  return {
    counter: (i) => counter.add(1, pick(orderAttrs, i)),
    histogram: (i) => histogram.record(0.0001 + (i % 100) * 1e-6, pick(latencyAttrs, i)),
    gauge: (i) => gauge.record(i % 7, pick(positionAttrs, i)),
  };
}

function promClientSubjects(): Subjects {
  const registry = new Registry();
  const counter = new PromCounter({
    name: "prom_orders_total",
    help: "orders",
    labelNames: ["exchange", "symbol", "side", "type"],
    registers: [registry],
  });
  const histogram = new PromHistogram({
    name: "prom_latency_seconds",
    help: "latency",
    labelNames: ["symbol", "stage"],
    buckets: [...LATENCY_BUCKETS_SECONDS],
    registers: [registry],
  });
  const gauge = new PromGauge({
    name: "prom_position",
    help: "position",
    labelNames: ["exchange", "symbol"],
    registers: [registry],
  });
  const orderLabels = orderAttrs as Record<string, string>[];
  const latencyLabels = latencyAttrs as Record<string, string>[];
  const positionLabels = positionAttrs as Record<string, string>[];
  return {
    counter: (i) => counter.inc(pick(orderLabels, i), 1),
    histogram: (i) => histogram.observe(pick(latencyLabels, i), 0.0001 + (i % 100) * 1e-6),
    gauge: (i) => gauge.set(pick(positionLabels, i), i % 7),
  };
}

const KIND_LABEL: Record<keyof Subjects, string> = {
  counter: "counter add",
  histogram: "histogram record",
  gauge: "gauge set",
};

async function metricRecord(quick: boolean): Promise<Figure[]> {
  const iterations = quick ? 20_000 : 200_000;
  const rounds = quick ? 7 : 21;
  const ours = oursSubjects();
  const raw = rawSdkSubjects();
  const prom = promClientSubjects();
  const figures: Figure[] = [];
  for (const kind of ["counter", "histogram", "gauge"] as const) {
    const result = await interleave({
      rounds,
      warmupRounds: 2,
      subjects: {
        ours: () => nsPerOp(ours[kind], iterations),
        raw: () => nsPerOp(raw[kind], iterations),
        prom: () => nsPerOp(prom[kind], iterations),
      },
    });
    const { ours: o, raw: r, prom: p } = result.summaries;
    if (kind === "histogram") {
      const hot = await interleave({
        rounds,
        warmupRounds: 2,
        subjects: {
          hot: () => {
            const ns = nsPerOp(ours.hotPath, iterations);
            ours.hotPathFold();
            return ns;
          },
          prom: () => nsPerOp(prom.histogram, iterations),
        },
      });
      figures.push(
        compareFigure({
          name: "metric record: histogram via HotPathRecorder (vs prom-client)",
          unit: "ns/op",
          subject: hot.summaries.hot,
          baseline: hot.summaries.prom,
          target: "faster than prom-client",
          check: (_value, ratio) => ratio !== null && ratio < 1,
          note: "tick-path cost only; the fold into the histogram runs off the tick path (timer)",
        }),
      );
    }
    figures.push(
      compareFigure({
        name: `metric record: ${KIND_LABEL[kind]} (vs prom-client)`,
        unit: "ns/op",
        subject: o,
        baseline: p,
        target: "faster than prom-client",
        check: (_value, ratio) => ratio !== null && ratio < 1,
      }),
      compareFigure({
        name: `metric record: ${KIND_LABEL[kind]} (vs raw sdk-metrics)`,
        unit: "ns/op",
        subject: o,
        baseline: r,
        target: null,
      }),
    );
  }
  return figures;
}

export const benchmarks: Benchmark[] = [{ name: "metric-record", run: ({ quick }) => metricRecord(quick) }];
