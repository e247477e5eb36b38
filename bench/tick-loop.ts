/**
 * The tick loop with the toolkit disabled and enabled, interleaved in one run.
 *
 * `tick-loop` (the hard case): the reference orchestrator (market maker, risk monitor, executor,
 * positions) driven by synthetic market data, saturated, against an in-memory venue that
 * acknowledges at once, so only our own code is timed. Every tick moves the mid by 10 bps so
 * both quotes of both symbols are replaced (cancel + place) on every tick.
 *
 * - disabled: what a bot without ticktrace gets from the OpenTelemetry API (no-op tracer and
 *   meter) and no hot-path recorder;
 * - enabled at sampling ratios 1, 0.1 and 0.01: an sdk-trace tracer (parent-based ratio
 *   sampler, batch processor, exporter that drops: no serialisation is timed) and the catalogue
 *   on an sdk-metrics MeterProvider, plus the hot-path recorder folding on its timer;
 * - 0.01 again with the preload's AsyncLocalStorage context manager installed (the other modes
 *   run without one, so their rows show tracing's own cost). HTTP instrumentation is left out.
 *
 * Throughput is ticks per CPU-second of the process (the loop never waits, so this is ticks/s on
 * a core of its own, and the shared machine's load barely moves it); the wall-clock ratio is in
 * the note. Tick-to-trade is measured by the bench itself (market data handed over -> the
 * venue's `placeOrder` called), the same way in all modes.
 *
 * `tick-loop-loopback`: the same orchestrator on the reference process's real order path (the
 * exchange client over loopback HTTP to the in-process simulator), wall-clock ticks/s.
 */
import { context, createNoopMeter, ProxyTracerProvider, type Tracer } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
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
import { METRICS } from "../src/telemetry/catalogue.js";
import { createTradingMetrics, type TradingMetrics } from "../src/telemetry/metrics.js";
import { HealthRegistry } from "../src/health/registry.js";
import { createTradingEvents } from "../src/events/trading-events.js";
import { ExchangeClient } from "../src/trading/venues/exchange-client.js";
import { MarketMaker } from "../src/trading/strategy/market-maker.js";
import { Orchestrator } from "../src/trading/orchestrator.js";
import { OrderExecutor } from "../src/trading/execution/order-executor.js";
import type { Venue } from "../src/trading/types.js";
import { PositionManager } from "../src/trading/portfolio/position-manager.js";
import { RiskMonitor } from "../src/trading/risk/risk-monitor.js";
import { ExchangeSimulator } from "../src/trading/venues/simulator/server.js";
import type { Order, PlaceOrderRequest, Ticker } from "../src/trading/venues/wire.js";
import { compareFigure, fmt, interleave, summarize, type Benchmark, type Figure } from "./lib.js";

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
    // Fields copied one by one: `{ ...request, orderId, ... }` costs V8 (Node 20) ~5 µs per
    // order, which would make the venue, not our code, a third of the disabled tick.
    return Promise.resolve({
      symbol: request.symbol,
      side: request.side,
      type: request.type,
      price: request.price,
      quantity: request.quantity,
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

export interface Loop {
  /** Runs `ticks` ticks; returns tick-to-trade samples (µs) and ticks per second. */
  run(ticks: number): Promise<{ sentUs: number[]; ticksPerSecond: number }>;
  shutdown(): Promise<void>;
}

/** The toolkit as the preload wires it, or the API's no-ops (toolkit disabled). */
interface Toolkit {
  tracer: Tracer;
  metrics: TradingMetrics;
  hotPath: HotPathRecorder | undefined;
  shutdown(): Promise<void>;
}

/**
 * The catalogue's shape over the API's no-op instruments: what a bot without ticktrace records
 * into. (`createTradingMetrics(noopMeter)` would still keep ticktrace's per-series storage.)
 */
function noopTradingMetrics(): TradingMetrics {
  const meter = createNoopMeter();
  const counter = meter.createCounter("noop");
  const upDown = meter.createUpDownCounter("noop");
  const gauge = meter.createGauge("noop");
  const histogram = meter.createHistogram("noop");
  const bound = { add: () => {}, record: () => {} };
  const instruments = {
    counter: { add: counter.add.bind(counter), bind: () => bound },
    updowncounter: { add: upDown.add.bind(upDown), bind: () => bound },
    gauge: { record: gauge.record.bind(gauge), bind: () => bound },
    histogram: { record: histogram.record.bind(histogram), bind: () => bound, dropped: 0 },
  };
  return Object.fromEntries(
    Object.entries(METRICS).map(([key, definition]) => [key, instruments[definition.kind]]),
  ) as unknown as TradingMetrics;
}

/** `samplingRatio` undefined: toolkit disabled; else the tick sampler's ratio (the preload's `traces.sampling_ratio`). */
function createToolkit(samplingRatio: number | undefined): Toolkit {
  if (samplingRatio === undefined) {
    return {
      tracer: new ProxyTracerProvider().getTracer("ticktrace"),
      metrics: noopTradingMetrics(),
      hotPath: undefined,
      shutdown: () => Promise.resolve(),
    };
  }
  const tracerProvider = new BasicTracerProvider({
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(samplingRatio) }),
    spanProcessors: [new BatchSpanProcessor(dropExporter, { maxQueueSize: 8192, scheduledDelayMillis: 200 })],
  });
  const meterProvider = new MeterProvider({ readers: [new DropReader()] });
  const hotPath = new HotPathRecorder({ capacity: 1 << 16, flushIntervalMillis: 200 });
  hotPath.start();
  return {
    tracer: tracerProvider.getTracer("ticktrace"),
    metrics: createTradingMetrics(meterProvider.getMeter("ticktrace")),
    hotPath,
    async shutdown() {
      await hotPath.shutdown();
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
    },
  };
}

/** Notes when the first order of the current tick went on the wire, for any venue. */
class SentProbe implements Venue {
  firstSentAt: number | undefined;
  constructor(private readonly inner: Venue) {}
  placeOrder(request: PlaceOrderRequest, call?: { onSent?: () => void }): Promise<Order> {
    return this.inner.placeOrder(request, {
      onSent: () => {
        this.firstSentAt ??= performance.now();
        call?.onSent?.();
      },
    });
  }
  cancelOrder(orderId: string): Promise<Order> {
    return this.inner.cancelOrder(orderId);
  }
  getOrder(orderId: string): Promise<Order> {
    return this.inner.getOrder(orderId);
  }
  openOrders(): Promise<Order[]> {
    return this.inner.openOrders();
  }
}

/**
 * The reference orchestrator and its parts against `venue`, fed `tickers(step)` as market data.
 * `samplingRatio` undefined: toolkit disabled; else the tick sampler's ratio.
 */
export function createLoop(
  samplingRatio: number | undefined,
  options: { venue?: Venue; tickers?: (step: number) => Ticker[] } = {},
): Loop {
  const toolkit = createToolkit(samplingRatio);
  const { tracer, metrics, hotPath } = toolkit;
  const clock = createManualClock();
  const events = createTradingEvents();
  // The instant venue notes the send itself: the probe's wrapping would add to both modes' tick.
  const venue: Venue & { firstSentAt: number | undefined } = options.venue
    ? new SentProbe(options.venue)
    : new InstantVenue();
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
  const tickers = options.tickers ?? syntheticTickers;
  return {
    async run(ticks) {
      const sentUs: number[] = [];
      const started = performance.now();
      for (let i = 0; i < ticks; i++) {
        const finished = new Promise<void>((resolve) => (done = resolve));
        venue.firstSentAt = undefined;
        const data = tickers(step++);
        const receivedAt = performance.now();
        orchestrator.onMarketData(data, receivedAt);
        await finished;
        if (venue.firstSentAt !== undefined) sentUs.push((venue.firstSentAt - receivedAt) * 1000);
      }
      return { sentUs, ticksPerSecond: (ticks * 1000) / (performance.now() - started) };
    },
    async shutdown() {
      await orchestrator.shutdown();
      await toolkit.shutdown();
    },
  };
}

/** Every other tick moves the mid by 10 bps, so both quotes of both symbols are replaced every tick. */
function syntheticTickers(step: number): Ticker[] {
  const shift = step % 2 === 0 ? 1.001 : 1;
  return [
    { symbol: "BTC/USDT", bid: 59_999 * shift, ask: 60_001 * shift, last: 60_000 * shift, ts: 0 },
    { symbol: "ETH/USDT", bid: 2_999.9 * shift, ask: 3_000.1 * shift, last: 3_000 * shift, ts: 0 },
  ];
}

/**
 * The modes of the synthetic loop: toolkit disabled, and enabled at three sampling ratios; the
 * last also with the preload's AsyncLocalStorage context manager, which hooks every promise of
 * the process (switched on for that mode's rounds only).
 */
const MODES = {
  disabled: { ratio: undefined, asyncContext: false },
  enabled: { ratio: 1, asyncContext: false },
  sampled: { ratio: 0.1, asyncContext: false },
  sampled1: { ratio: 0.01, asyncContext: false },
  sampled1Context: { ratio: 0.01, asyncContext: true },
} as const;
type Mode = keyof typeof MODES;

function label(mode: Exclude<Mode, "disabled">): string {
  const { ratio, asyncContext } = MODES[mode];
  return (
    (ratio === 1 ? "every tick traced" : `${ratio * 100}% of ticks traced`) +
    (asyncContext ? ", AsyncLocalStorage context" : "")
  );
}

const asyncContext = new AsyncLocalStorageContextManager();

/** Installs (or removes) the AsyncLocalStorage context manager as the global one. */
function useAsyncContext(on: boolean): void {
  if (on) {
    asyncContext.enable();
    context.setGlobalContextManager(asyncContext);
  } else {
    context.disable();
    asyncContext.disable();
  }
}

async function tickLoop(opts: { quick: boolean }): Promise<Figure[]> {
  const modes = Object.keys(MODES) as Mode[];
  const loops = Object.fromEntries(modes.map((mode) => [mode, createLoop(MODES[mode].ratio)])) as Record<
    Mode,
    Loop
  >;
  // Rounds of tens of milliseconds at least: shorter ones measure GC pauses and the neighbours.
  const ticksPerRound = opts.quick ? 2_000 : 5_000;
  const rounds = opts.quick ? 8 : 20;
  const warmupRounds = 2;
  const sent = Object.fromEntries(modes.map((mode) => [mode, [] as number[]])) as Record<Mode, number[]>;
  // Per round: the median and p99 of each mode, so "added" compares samples taken side by side.
  const perRound = Object.fromEntries(modes.map((mode) => [mode, []])) as unknown as Record<
    Mode,
    { median: number; p99: number }[]
  >;
  const wall = Object.fromEntries(modes.map((mode) => [mode, [] as number[]])) as Record<Mode, number[]>;
  const result = await interleave({
    rounds,
    warmupRounds,
    subjects: Object.fromEntries(
      modes.map((mode) => [
        mode,
        async () => {
          useAsyncContext(MODES[mode].asyncContext);
          const cpuBefore = process.cpuUsage();
          const { sentUs, ticksPerSecond } = await loops[mode].run(ticksPerRound);
          const cpu = process.cpuUsage(cpuBefore);
          useAsyncContext(false);
          const s = summarize(sentUs);
          perRound[mode].push({ median: s.median, p99: s.p99 });
          sent[mode].push(...sentUs);
          wall[mode].push(ticksPerSecond);
          return (ticksPerRound * 1e6) / (cpu.user + cpu.system);
        },
      ]),
    ) as Record<Mode, () => Promise<number>>,
  });
  for (const mode of modes) await loops[mode].shutdown();
  const figures: Figure[] = [];
  const base = perRound.disabled.slice(warmupRounds);
  const disabledSent = summarize(sent.disabled.slice(warmupRounds * ticksPerRound));
  const wallMedian = (mode: Mode) => summarize(wall[mode].slice(warmupRounds)).median;
  const disabledCpuUs = 1e6 / result.summaries.disabled.median;
  for (const mode of ["enabled", "sampled"] as const) {
    const rows = perRound[mode].slice(warmupRounds);
    const addedMedian = summarize(rows.map((r, i) => r.median - base[i]!.median));
    const addedP99 = summarize(rows.map((r, i) => r.p99 - base[i]!.p99));
    figures.push(
      {
        name: `tick-to-trade added per tick, median (${label(mode)})`,
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
        name: `tick-to-trade added per tick, p99 (${label(mode)})`,
        value: addedP99.median,
        unit: "µs",
        baseline: disabledSent.p99,
        ratio: null,
        target: null,
        met: null,
        spread: `p25-p75 ${fmtUs(addedP99.p25)}-${fmtUs(addedP99.p75)} µs (n=${addedP99.n} rounds)`,
      },
    );
  }
  for (const mode of ["enabled", "sampled", "sampled1", "sampled1Context"] as const) {
    const addedCpuUs = 1e6 / result.summaries[mode].median - disabledCpuUs;
    figures.push(
      compareFigure({
        name: `tick loop throughput vs disabled (${label(mode)})`,
        unit: "ticks/CPU-s",
        subject: result.summaries[mode],
        baseline: result.summaries.disabled,
        target: "ratio >= 0.95",
        check: (_value, ratio) => ratio !== null && ratio >= 0.95,
        note: `ticks per CPU-second of this process (the loop is CPU-bound, so ticks/s on a core of its own; wall-clock ticks/s swing with the shared machine's load: here ratio ${fmt(wallMedian(mode) / wallMedian("disabled"))}); a synthetic tick of ${fmt(disabledCpuUs)} µs CPU against an instant venue, ${fmt(addedCpuUs)} µs added per tick (14 spans per traced tick)${MODES[mode].asyncContext ? "; the context manager's async hooks run for each of the ~50 promises of a tick" : ""}`,
      }),
    );
  }
  return figures;
}

/** Simulated exchange latency of the loopback row, fixed so rounds differ only by our code. */
const LOOPBACK_LATENCY_MS = 2;

/**
 * The reference process's real order path: the exchange client (axios over loopback HTTP) against
 * the exchange simulator in the same process, answering after {@link LOOPBACK_LATENCY_MS}. A
 * tick cancels and replaces both quotes of both symbols (8 HTTP requests, two round trips deep).
 * Market data is handed to the orchestrator directly (the stream is not what is measured), 5 bps
 * around the simulator's own mid every other tick so quotes are replaced but never cross.
 */
async function tickLoopLoopback(opts: { quick: boolean }): Promise<Figure[]> {
  const simulator = new ExchangeSimulator({
    symbols: SYMBOLS,
    seed: 7,
    port: 0,
    // The market stands still (no step, no taker flow): quotes rest until we replace them.
    tickIntervalMs: 3_600_000,
    volatilityBps: 0,
    latencyP50Ms: LOOPBACK_LATENCY_MS,
    latencyP99Ms: LOOPBACK_LATENCY_MS,
    errorRate: 0,
    rateLimitPerSecond: 1_000_000_000,
    feeRate: 0,
    startingQuote: 100_000,
  });
  await simulator.start();
  const tickers = (step: number): Ticker[] => {
    const shift = step % 2 === 0 ? 1.0005 : 1;
    return SYMBOLS.map((symbol) => {
      const mid = simulator.market.mid(symbol)! * shift;
      return { symbol, bid: mid * 0.99995, ask: mid * 1.00005, last: mid, ts: 0 };
    });
  };
  const loops: Partial<Record<"disabled" | "enabled", Loop>> = {};
  const clients: ExchangeClient[] = [];
  for (const [mode, ratio] of [
    ["disabled", undefined],
    ["enabled", 1],
  ] as const) {
    const toolkitMetrics = ratio === undefined ? noopTradingMetrics() : undefined;
    const client = new ExchangeClient({
      exchange: "simex",
      baseUrl: simulator.url,
      streamUrl: simulator.streamUrl,
      rateLimitPerSecond: 1_000_000_000,
      requestTimeoutMs: 5_000,
      metrics:
        toolkitMetrics ??
        createTradingMetrics(new MeterProvider({ readers: [new DropReader()] }).getMeter("ticktrace")),
      health: new HealthRegistry(),
      events: createTradingEvents(),
    });
    clients.push(client);
    loops[mode] = createLoop(ratio, { venue: client, tickers });
  }
  const ticksPerRound = opts.quick ? 100 : 400;
  const rounds = opts.quick ? 8 : 15;
  const warmupRounds = 2;
  // CPU per tick as well: the wall-clock rate of a loop that mostly waits swings with the load.
  const cpuUs: Record<"disabled" | "enabled", number[]> = { disabled: [], enabled: [] };
  const measure = (mode: "disabled" | "enabled") => async () => {
    const before = process.cpuUsage();
    const { ticksPerSecond } = await loops[mode]!.run(ticksPerRound);
    const cpu = process.cpuUsage(before);
    cpuUs[mode].push((cpu.user + cpu.system) / ticksPerRound);
    return ticksPerSecond;
  };
  const result = await interleave({
    rounds,
    warmupRounds,
    subjects: { disabled: measure("disabled"), enabled: measure("enabled") },
  });
  const cpuDisabled = summarize(cpuUs.disabled.slice(warmupRounds)).median;
  const cpuEnabled = summarize(cpuUs.enabled.slice(warmupRounds)).median;
  for (const loop of Object.values(loops)) await loop.shutdown();
  for (const client of clients) await client.shutdown();
  await simulator.shutdown();
  return [
    compareFigure({
      name: "tick loop throughput vs disabled (every tick traced, loopback HTTP exchange)",
      unit: "ticks/s",
      subject: result.summaries.enabled,
      baseline: result.summaries.disabled,
      target: "ratio >= 0.95",
      check: (_value, ratio) => ratio !== null && ratio >= 0.95,
      note: `the reference process's order path: exchange client over loopback HTTP to the in-process simulator (${LOOPBACK_LATENCY_MS} ms simulated latency), 8 requests per tick; CPU per tick ${fmt(cpuDisabled)} µs disabled, ${fmt(cpuEnabled)} µs enabled (client and simulator both in this process); ${rounds} interleaved rounds of ${ticksPerRound} ticks; no HTTP instrumentation in either mode`,
    }),
  ];
}

function fmtUs(value: number): string {
  return value.toFixed(2);
}

export const benchmarks: Benchmark[] = [
  { name: "tick-loop", run: tickLoop },
  { name: "tick-loop-loopback", run: tickLoopLoopback },
];
