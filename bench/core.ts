/**
 * Cost of one metric record on the hot path, per instrument kind: ticktrace's instruments (the
 * catalogue on an sdk-metrics MeterProvider read by the Prometheus exporter, as the preload wires
 * them) against a raw `@opentelemetry/sdk-metrics` instrument and `prom-client`, interleaved.
 * Also: ticktrace's `bind()` handles against prom-client's `labels()` children, a fresh
 * attributes object per call on both sides, and what the fold costs at collection time.
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
type Kind = keyof Subjects;
const KINDS: readonly Kind[] = ["counter", "histogram", "gauge"];

interface Side {
  /** Records with a reused attributes object (or label object) per call. */
  reused: Subjects;
  /** Records through a handle bound to the series beforehand (`bind()` / `labels()`). */
  bound: Subjects;
  /** Counter add with a new attributes object built per call. */
  freshCounter: Recorder;
}

function pick<T>(list: readonly T[], i: number): T {
  return list[i % list.length]!;
}

/** Histogram values recorded per timed sample at most (the full run's iterations). */
const MAX_ITERATIONS = 200_000;

/** The catalogue instruments on a MeterProvider wired as the preload wires it (views, Prometheus reader). */
function oursSubjects(): Side & {
  hotPath: Recorder;
  hotPathFold: () => void;
  /** A collection: folds what was recorded into the SDK (what a scrape does first). */
  collect: () => Promise<void>;
  droppedHistogramValues: () => number;
} {
  const config = parseConfig({}, { file: "bench" });
  const prometheus = new PrometheusExporter({ preventServerStart: true });
  const provider = new MeterProvider({ readers: [prometheus], views: metricViews(config) });
  // A buffer that holds a whole timed sample: the fold runs between samples, off the timed loop.
  const m = createTradingMetrics(provider.getMeter("ticktrace"), {
    cardinalityLimit: config.telemetry.cardinality_limit,
    histogramBufferSize: MAX_ITERATIONS,
  });
  // The hot-path recorder: the tick writes into preallocated buffers; a timer folds them into
  // the histogram. Folded explicitly here (off the timed loop) so the buffer never fills.
  const hot = new HotPathRecorder({ capacity: 1 << 20 });
  const series = latencyAttrs.map((attrs) => hot.series(m.tickToTrade, attrs));
  const boundOrders = orderAttrs.map((attrs) => m.ordersPlaced.bind(attrs));
  const boundLatency = latencyAttrs.map((attrs) => m.tickToTrade.bind(attrs));
  const boundPosition = positionAttrs.map((attrs) => m.positionSize.bind(attrs));
  return {
    reused: {
      counter: (i) => m.ordersPlaced.add(1, pick(orderAttrs, i)),
      histogram: (i) => m.tickToTrade.record(0.0001 + (i % 100) * 1e-6, pick(latencyAttrs, i)),
      gauge: (i) => m.positionSize.record(i % 7, pick(positionAttrs, i)),
    },
    bound: {
      counter: (i) => pick(boundOrders, i).add(1),
      histogram: (i) => pick(boundLatency, i).record(0.0001 + (i % 100) * 1e-6),
      gauge: (i) => pick(boundPosition, i).record(i % 7),
    },
    freshCounter: (i) =>
      m.ordersPlaced.add(1, {
        exchange: "simex",
        symbol: pick(SYMBOLS, i),
        side: pick(SIDES, i),
        type: "limit",
      }),
    hotPath: (i) => hot.record(pick(series, i), 0.1 + (i % 100) * 1e-3),
    hotPathFold: () => hot.flush(),
    collect: async () => {
      await prometheus.collect();
    },
    droppedHistogramValues: () => m.tickToTrade.dropped,
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

function promClientSubjects(): Side {
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
  const boundOrders = orderLabels.map((labels) => counter.labels(labels));
  const boundLatency = latencyLabels.map((labels) => histogram.labels(labels));
  const boundPosition = positionLabels.map((labels) => gauge.labels(labels));
  return {
    reused: {
      counter: (i) => counter.inc(pick(orderLabels, i), 1),
      histogram: (i) => histogram.observe(pick(latencyLabels, i), 0.0001 + (i % 100) * 1e-6),
      gauge: (i) => gauge.set(pick(positionLabels, i), i % 7),
    },
    bound: {
      counter: (i) => pick(boundOrders, i).inc(1),
      histogram: (i) => pick(boundLatency, i).observe(0.0001 + (i % 100) * 1e-6),
      gauge: (i) => pick(boundPosition, i).set(i % 7),
    },
    freshCounter: (i) =>
      counter.inc({ exchange: "simex", symbol: pick(SYMBOLS, i), side: pick(SIDES, i), type: "limit" }, 1),
  };
}

const KIND_LABEL: Record<Kind, string> = {
  counter: "counter add",
  histogram: "histogram record",
  gauge: "gauge set",
};

const FASTER = (_value: number, ratio: number | null) => ratio !== null && ratio < 1;

async function metricRecord(quick: boolean): Promise<Figure[]> {
  const iterations = quick ? 20_000 : MAX_ITERATIONS;
  const rounds = quick ? 7 : 21;
  const ours = oursSubjects();
  const raw = rawSdkSubjects();
  const prom = promClientSubjects();
  /** One timed sample of ours, then a collection (the fold) outside the timed loop. */
  const oursSample = async (recorder: Recorder) => {
    const ns = nsPerOp(recorder, iterations);
    await ours.collect();
    return ns;
  };
  const figures: Figure[] = [];
  for (const kind of KINDS) {
    const result = await interleave({
      rounds,
      warmupRounds: 2,
      subjects: {
        ours: () => oursSample(ours.reused[kind]),
        raw: () => nsPerOp(raw[kind], iterations),
        prom: () => nsPerOp(prom.reused[kind], iterations),
      },
    });
    const { ours: o, raw: r, prom: p } = result.summaries;
    if (kind === "histogram") {
      const hot = await interleave({
        rounds,
        warmupRounds: 2,
        subjects: {
          hot: async () => {
            const ns = nsPerOp(ours.hotPath, iterations);
            // Off the timed loop: the recorder's fold, then a collection, as the timer and a scrape would.
            ours.hotPathFold();
            await ours.collect();
            return ns;
          },
          prom: () => nsPerOp(prom.reused.histogram, iterations),
        },
      });
      figures.push(
        compareFigure({
          name: "metric record: histogram via HotPathRecorder (vs prom-client)",
          unit: "ns/op",
          subject: hot.summaries.hot,
          baseline: hot.summaries.prom,
          target: "faster than prom-client",
          check: FASTER,
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
        check: FASTER,
        note: "attributes object reused per call; the fold into the SDK runs at collection, off the record path",
      }),
      compareFigure({
        name: `metric record: ${KIND_LABEL[kind]} (vs raw sdk-metrics)`,
        unit: "ns/op",
        subject: o,
        baseline: r,
        target: null,
      }),
    );
    const bound = await interleave({
      rounds,
      warmupRounds: 2,
      subjects: {
        ours: () => oursSample(ours.bound[kind]),
        prom: () => nsPerOp(prom.bound[kind], iterations),
      },
    });
    figures.push(
      compareFigure({
        name: `metric record: ${KIND_LABEL[kind]} via bind() (vs prom-client labels())`,
        unit: "ns/op",
        subject: bound.summaries.ours,
        baseline: bound.summaries.prom,
        target: "faster than prom-client",
        check: FASTER,
        note: "a handle bound to the series beforehand on both sides",
      }),
    );
  }

  const fresh = await interleave({
    rounds,
    warmupRounds: 2,
    subjects: {
      ours: () => oursSample(ours.freshCounter),
      prom: () => nsPerOp(prom.freshCounter, iterations),
    },
  });
  figures.push(
    compareFigure({
      name: "metric record: counter add, new attributes object per call (vs prom-client)",
      unit: "ns/op",
      subject: fresh.summaries.ours,
      baseline: fresh.summaries.prom,
      target: null,
      note: "both sides look the set up from its values each call (ticktrace: one Map lookup per attribute)",
    }),
  );

  // The histogram cost moved off the record path: a collection replays each buffered value into
  // the SDK histogram. Per value: (collection after `iterations` values - empty collection) / iterations.
  const values = Math.min(iterations, 20_000);
  const droppedBefore = ours.droppedHistogramValues();
  const fold = await interleave({
    rounds,
    warmupRounds: 2,
    subjects: {
      fold: async () => {
        for (let i = 0; i < values; i++) ours.reused.histogram(i);
        let start = process.hrtime.bigint();
        await ours.collect();
        const full = Number(process.hrtime.bigint() - start);
        start = process.hrtime.bigint();
        await ours.collect();
        const empty = Number(process.hrtime.bigint() - start);
        return Math.max(0, full - empty) / values;
      },
      raw: () => nsPerOp(raw.histogram, values),
    },
  });
  const dropped = ours.droppedHistogramValues() - droppedBefore;
  figures.push(
    compareFigure({
      name: "metric fold: histogram values replayed into the SDK at collection (vs raw sdk-metrics record)",
      unit: "ns/value",
      subject: fold.summaries.fold,
      baseline: fold.summaries.raw,
      target: null,
      note:
        "paid in the collection (scrape or push), not on the record path; counters and gauges fold once per " +
        `changed series per collection${dropped > 0 ? `; ${dropped} histogram values were dropped (buffer full)` : ""}`,
    }),
  );
  return figures;
}

export const benchmarks: Benchmark[] = [{ name: "metric-record", run: ({ quick }) => metricRecord(quick) }];
