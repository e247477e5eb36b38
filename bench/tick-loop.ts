/**
 * The tick loop with the toolkit disabled and enabled, interleaved in one run: the reference
 * orchestrator (market maker, risk monitor, executor, positions) driven by synthetic market
 * data against an in-memory venue that acknowledges at once, so only our own code is timed.
 *
 * - disabled: what a bot without ticktrace gets from the OpenTelemetry API (no-op tracer and
 *   meter) and no hot-path recorder;
 * - enabled: an sdk-trace tracer (always-on sampler, batch processor, exporter that drops) and
 *   the catalogue on an sdk-metrics MeterProvider, plus the hot-path recorder folding on its
 *   timer, as the preload wires them.
 *
 * Tick-to-trade is measured by the bench itself (market data handed over -> the venue's
 * `placeOrder` called), the same way in both modes. Every tick moves the mid by 10 bps so both
 * quotes of both symbols are replaced (cancel + place) on every tick.
 */
import { createNoopMeter, ProxyTracerProvider, type Tracer } from "@opentelemetry/api";
import { ExportResultCode } from "@opentelemetry/core";
import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type SpanExporter,
} from "@opentelemetry/sdk-trace-base";
import { createManualClock, systemClock } from "../src/clock.js";
import { HotPathRecorder } from "../src/telemetry/hot-path.js";
import { createTradingMetrics, type TradingMetrics } from "../src/telemetry/metrics.js";
import { createTradingEvents } from "../src/trading/events.js";
import { MarketMaker } from "../src/trading/market-maker.js";
import { Orchestrator } from "../src/trading/orchestrator.js";
import { OrderExecutor, type Venue } from "../src/trading/order-executor.js";
import { PositionManager } from "../src/trading/position-manager.js";
import { RiskMonitor } from "../src/trading/risk-monitor.js";
import type { Order, PlaceOrderRequest, Ticker } from "../src/trading/wire.js";
import { compareFigure, interleave, summarize, type Benchmark, type Figure } from "./lib.js";

const SYMBOLS = ["BTC/USDT", "ETH/USDT"];

class DropReader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

const dropExporter: SpanExporter = {
  export: (_spans, done) => done({ code: ExportResultCode.SUCCESS }),
  shutdown: () => Promise.resolve(),
};

/** A venue that acks at once and notes when the first order of the current tick was sent. */
class InstantVenue implements Venue {
  firstSentAt: number | undefined;
  private next = 1;
  placeOrder(request: PlaceOrderRequest, call?: { onSent?: () => void }): Promise<Order> {
    this.firstSentAt ??= performance.now();
    call?.onSent?.();
    return Promise.resolve({
      ...request,
      orderId: `o-${this.next++}`,
      filled: 0,
      status: "open",
      createdAt: 0,
      fills: [],
    });
  }
  cancelOrder(orderId: string): Promise<Order> {
    return Promise.resolve({
      orderId,
      symbol: "BTC/USDT",
      side: "buy",
      type: "limit",
      price: 1,
      quantity: 1,
      filled: 0,
      status: "cancelled",
      createdAt: 0,
      fills: [],
    });
  }
  getOrder(orderId: string): Promise<Order> {
    return this.cancelOrder(orderId);
  }
  openOrders(): Promise<Order[]> {
    return Promise.resolve([]);
  }
}

interface Loop {
  /** Runs `ticks` ticks; returns tick-to-trade samples (µs) and ticks per second. */
  run(ticks: number): Promise<{ sentUs: number[]; ticksPerSecond: number }>;
  shutdown(): Promise<void>;
}

/** `samplingRatio` undefined: toolkit disabled; else the tick sampler's ratio (the preload's `traces.sampling_ratio`). */
function createLoop(samplingRatio: number | undefined): Loop {
  const enabled = samplingRatio !== undefined;
  let tracer: Tracer;
  let metrics: TradingMetrics;
  let hotPath: HotPathRecorder | undefined;
  let shutdown = () => Promise.resolve();
  if (enabled) {
    const tracerProvider = new BasicTracerProvider({
      sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(samplingRatio) }),
      spanProcessors: [
        new BatchSpanProcessor(dropExporter, { maxQueueSize: 8192, scheduledDelayMillis: 200 }),
      ],
    });
    const meterProvider = new MeterProvider({ readers: [new DropReader()] });
    tracer = tracerProvider.getTracer("ticktrace");
    metrics = createTradingMetrics(meterProvider.getMeter("ticktrace"));
    hotPath = new HotPathRecorder({ capacity: 1 << 16, flushIntervalMillis: 200 });
    hotPath.start();
    shutdown = async () => {
      await hotPath!.shutdown();
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
    };
  } else {
    tracer = new ProxyTracerProvider().getTracer("ticktrace");
    metrics = createTradingMetrics(createNoopMeter());
  }
  const clock = createManualClock();
  const events = createTradingEvents();
  const venue = new InstantVenue();
  const positions = new PositionManager({ symbols: SYMBOLS, startingEquity: 100_000, clock });
  const risk = new RiskMonitor({
    limits: {
      startingEquity: 100_000,
      dailyLossLimit: 1_500,
      maxPositionNotional: 20_000,
      maxExposureRatio: 0.5,
      maxOrdersPerSecond: 1_000_000_000,
    },
    strategy: "mm-1",
    metrics,
    events,
    clock,
  });
  const strategy = new MarketMaker({
    id: "mm-1",
    halfSpreadBps: 8,
    quoteNotional: 500,
    inventorySkewBps: 15,
    maxPositionNotional: 20_000,
    clock,
  });
  const executor = new OrderExecutor({
    exchange: "simex",
    venue,
    positions,
    metrics,
    events,
    clock,
    ...(hotPath ? { hotPath } : {}),
  });
  let done: (() => void) | undefined;
  const orchestrator = new Orchestrator({
    exchange: "simex",
    symbols: SYMBOLS,
    strategy,
    executor,
    positions,
    risk,
    metrics,
    events,
    tracer,
    ...(hotPath ? { hotPath } : {}),
    // Real timestamps on the tick path, as in production (risk and positions keep the manual clock).
    clock: systemClock,
    requoteThresholdBps: 4,
    panicCooldownMs: 5_000,
    onTick: () => done?.(),
  });
  let step = 0;
  const tickers = (): Ticker[] => {
    const shift = step++ % 2 === 0 ? 1.001 : 1;
    return [
      { symbol: "BTC/USDT", bid: 59_999 * shift, ask: 60_001 * shift, last: 60_000 * shift, ts: 0 },
      { symbol: "ETH/USDT", bid: 2_999.9 * shift, ask: 3_000.1 * shift, last: 3_000 * shift, ts: 0 },
    ];
  };
  return {
    async run(ticks) {
      const sentUs: number[] = [];
      const started = performance.now();
      for (let i = 0; i < ticks; i++) {
        const finished = new Promise<void>((resolve) => (done = resolve));
        venue.firstSentAt = undefined;
        const data = tickers();
        const receivedAt = performance.now();
        orchestrator.onMarketData(data, receivedAt);
        await finished;
        if (venue.firstSentAt !== undefined) sentUs.push((venue.firstSentAt - receivedAt) * 1000);
      }
      return { sentUs, ticksPerSecond: (ticks * 1000) / (performance.now() - started) };
    },
    async shutdown() {
      await orchestrator.shutdown();
      await shutdown();
    },
  };
}

type Mode = "disabled" | "enabled" | "sampled";

async function tickLoop(opts: { quick: boolean }): Promise<Figure[]> {
  const loops: Record<Mode, Loop> = {
    disabled: createLoop(undefined),
    enabled: createLoop(1),
    sampled: createLoop(SAMPLED_RATIO),
  };
  const modes = Object.keys(loops) as Mode[];
  const ticksPerRound = opts.quick ? 500 : 2_000;
  const rounds = opts.quick ? 6 : 20;
  const warmupRounds = 2;
  const sent: Record<Mode, number[]> = { disabled: [], enabled: [], sampled: [] };
  // Per round: the median and p99 of each mode, so "added" compares samples taken side by side.
  const perRound: Record<Mode, { median: number; p99: number }[]> = {
    disabled: [],
    enabled: [],
    sampled: [],
  };
  const result = await interleave({
    rounds,
    warmupRounds,
    subjects: Object.fromEntries(
      modes.map((mode) => [
        mode,
        async () => {
          const { sentUs, ticksPerSecond } = await loops[mode].run(ticksPerRound);
          const s = summarize(sentUs);
          perRound[mode].push({ median: s.median, p99: s.p99 });
          sent[mode].push(...sentUs);
          return ticksPerSecond;
        },
      ]),
    ) as Record<Mode, () => Promise<number>>,
  });
  for (const mode of modes) await loops[mode].shutdown();
  const figures: Figure[] = [];
  const base = perRound.disabled.slice(warmupRounds);
  const disabledSent = summarize(sent.disabled.slice(warmupRounds * ticksPerRound));
  for (const mode of ["enabled", "sampled"] as const) {
    const rows = perRound[mode].slice(warmupRounds);
    const addedMedian = summarize(rows.map((r, i) => r.median - base[i]!.median));
    const addedP99 = summarize(rows.map((r, i) => r.p99 - base[i]!.p99));
    const label = mode === "enabled" ? "every tick traced" : `${SAMPLED_RATIO * 100}% of ticks traced`;
    figures.push(
      {
        name: `tick-to-trade added per tick, median (${label})`,
        value: addedMedian.median,
        unit: "µs",
        baseline: disabledSent.median,
        ratio: null,
        target: "<= 5 µs",
        met: addedMedian.median <= 5,
        spread: `p25-p75 ${fmtUs(addedMedian.p25)}-${fmtUs(addedMedian.p75)} µs (n=${addedMedian.n} rounds)`,
        note: `baseline = toolkit disabled, median tick-to-trade (sent) ${fmtUs(disabledSent.median)} µs; ${rounds} interleaved rounds of ${ticksPerRound} ticks, 2 symbols, both quotes replaced every tick`,
      },
      {
        name: `tick-to-trade added per tick, p99 (${label})`,
        value: addedP99.median,
        unit: "µs",
        baseline: disabledSent.p99,
        ratio: null,
        target: null,
        met: null,
        spread: `p25-p75 ${fmtUs(addedP99.p25)}-${fmtUs(addedP99.p75)} µs (n=${addedP99.n} rounds)`,
      },
      compareFigure({
        name: `tick loop throughput vs disabled (${label})`,
        unit: "ticks/s",
        subject: result.summaries[mode],
        baseline: result.summaries.disabled,
        target: "ratio >= 0.95",
        check: (_value, ratio) => ratio !== null && ratio >= 0.95,
        note: "a synthetic tick of ~10-20 µs against an instant venue: tracing's fixed cost per tick weighs far more than on a real tick (tens of ms of exchange round trip)",
      }),
    );
  }
  return figures;
}

/** The sampling ratio of the "sampled" mode (`telemetry.traces.sampling_ratio`). */
const SAMPLED_RATIO = 0.1;

function fmtUs(value: number): string {
  return value.toFixed(2);
}

export const benchmarks: Benchmark[] = [{ name: "tick-loop", run: tickLoop }];
