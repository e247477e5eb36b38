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
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  type SpanExporter,
} from "@opentelemetry/sdk-trace-base";
import { createManualClock } from "../src/clock.js";
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

function createLoop(enabled: boolean): Loop {
  let tracer: Tracer;
  let metrics: TradingMetrics;
  let hotPath: HotPathRecorder | undefined;
  let shutdown = () => Promise.resolve();
  if (enabled) {
    const tracerProvider = new BasicTracerProvider({
      sampler: new AlwaysOnSampler(),
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
  const executor = new OrderExecutor({ exchange: "simex", venue, positions, metrics, events, clock });
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
    clock,
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

async function tickLoop(opts: { quick: boolean }): Promise<Figure[]> {
  const loops = { disabled: createLoop(false), enabled: createLoop(true) };
  const ticksPerRound = opts.quick ? 500 : 2_000;
  const rounds = opts.quick ? 6 : 20;
  const sent: Record<keyof typeof loops, number[]> = { disabled: [], enabled: [] };
  const addedMedian: number[] = [];
  const addedP99: number[] = [];
  let lastRound: Partial<Record<keyof typeof loops, number[]>> = {};
  const result = await interleave({
    rounds,
    warmupRounds: 2,
    subjects: Object.fromEntries(
      (Object.keys(loops) as (keyof typeof loops)[]).map((key) => [
        key,
        async () => {
          const { sentUs, ticksPerSecond } = await loops[key].run(ticksPerRound);
          sent[key].push(...sentUs);
          lastRound[key] = sentUs;
          if (lastRound.disabled && lastRound.enabled) {
            const e = summarize(lastRound.enabled);
            const d = summarize(lastRound.disabled);
            addedMedian.push(e.median - d.median);
            addedP99.push(e.p99 - d.p99);
            lastRound = {};
          }
          return ticksPerSecond;
        },
      ]),
    ) as Record<keyof typeof loops, () => Promise<number>>,
  });
  await loops.disabled.shutdown();
  await loops.enabled.shutdown();
  // Warm-up rounds were measured too; drop their pairs.
  addedMedian.splice(0, 2);
  addedP99.splice(0, 2);
  const medianAdded = summarize(addedMedian);
  const p99Added = summarize(addedP99);
  const enabledSent = summarize(sent.enabled);
  const disabledSent = summarize(sent.disabled);
  const note = `tick-to-trade (sent) disabled median ${disabledSent.median.toFixed(2)} µs, enabled ${enabledSent.median.toFixed(2)} µs; ${rounds} interleaved rounds of ${ticksPerRound} ticks, 2 symbols, cancel+place of both quotes every tick`;
  return [
    {
      name: "tick-to-trade added per tick (median)",
      value: medianAdded.median,
      unit: "µs",
      baseline: disabledSent.median,
      ratio: disabledSent.median > 0 ? enabledSent.median / disabledSent.median : null,
      target: "<= 5 µs",
      met: medianAdded.median <= 5,
      spread: `p25-p75 ${medianAdded.p25.toFixed(2)}-${medianAdded.p75.toFixed(2)} µs (n=${medianAdded.n})`,
      note,
    },
    {
      name: "tick-to-trade added per tick (p99)",
      value: p99Added.median,
      unit: "µs",
      baseline: disabledSent.p99,
      ratio: disabledSent.p99 > 0 ? enabledSent.p99 / disabledSent.p99 : null,
      target: null,
      met: null,
      spread: `p25-p75 ${p99Added.p25.toFixed(2)}-${p99Added.p75.toFixed(2)} µs (n=${p99Added.n})`,
    },
    compareFigure({
      name: "tick loop throughput, enabled vs disabled",
      unit: "ticks/s",
      subject: result.summaries.enabled,
      baseline: result.summaries.disabled,
      target: "ratio >= 0.95",
      check: (_value, ratio) => ratio !== null && ratio >= 0.95,
    }),
  ];
}

export const benchmarks: Benchmark[] = [{ name: "tick-loop", run: tickLoop }];
