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
 * - worker tick tracing (`telemetry.tick_tracing: worker`) at ratio 1, at 0.01 with the
 *   context manager, and at 0 (no tick traced: the metrics' own cost): the trading thread
 *   writes ids and timestamps into the shared ring; the exporter worker builds the spans,
 *   encodes OTLP/protobuf and POSTs it to a stand-in collector in a process of its own
 *   (`bench/fixtures/otlp-sink.js`), so its encoding and HTTP are counted.
 *
 * Each mode runs in a process of its own (`bench/fixtures/tick-loop-mode.ts`), on the compiled
 * package in dist/ as a bot does, and this process interleaves their rounds; four generations
 * of these processes run one after another, since a process's layout luck lasts its life. A
 * bot runs one configuration: eight loops in one process share the orchestrator's code, whose
 * call sites turn polymorphic, and that slowed the disabled baseline too (two modes alone in
 * one process gave 1.33 µs added; the same two in processes of their own, 2.04). Under tsx,
 * every call across modules goes through an export getter the compiled code does not have
 * (about 0.2 µs of a traced tick).
 *
 * Two CPU clocks per round: the trading (main) thread's own on-CPU time (Linux
 * `/proc/self/task/<pid>/schedstat`, nanoseconds), and the whole process's (`process.cpuUsage()`,
 * every thread: the exporter worker included). Throughput of the trading thread is ticks per
 * second of its own CPU (the loop never waits, so this is ticks/s on a core of its own, and the
 * shared machine's load barely moves it); the wall-clock ratio is in the note. Tick-to-trade is
 * measured by the bench itself (market data handed over -> the venue's `placeOrder` called), the
 * same way in all modes.
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
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fork } from "node:child_process";
import { join } from "node:path";
import { createManualClock, systemClock } from "../src/clock.js";
import {
  createWorkerTickTracing,
  type WorkerTickTracing,
} from "../src/telemetry/tick-trace/worker-exporter.js";
import { HistogramExport } from "../src/telemetry/histogram-export.js";
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
import { REFERENCE_PROCESS, startPreloaded } from "./preloaded.js";
import {
  REPO_ROOT,
  compareFigure,
  fmt,
  interleave,
  launch,
  notMeasured,
  preloadPath,
  summarize,
  type Benchmark,
  type Figure,
  type Launched,
  type Summary,
} from "./lib.js";

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
  /** The worker tick tracer, when the loop uses one. */
  readonly tickTracing: WorkerTickTracing | undefined;
  /** Metric values dropped so far because a buffer was full (hot-path ring, histogram buffers). */
  droppedValues(): { hotPath: number; histograms: number };
  /**
   * Does now what this loop's toolkit would do later on its timers: the worker exports what it
   * read, the hot-path recorder folds its samples, the SDK's batch processor hands over its spans.
   */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

/** The toolkit as the preload wires it, or the API's no-ops (toolkit disabled). */
interface Toolkit {
  tracer: Tracer;
  metrics: TradingMetrics;
  hotPath: HotPathRecorder | undefined;
  /** Set with worker tick tracing. */
  tickTracing: WorkerTickTracing | undefined;
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

/** How a toolkit traces ticks: SDK spans on the trading thread, or the worker to `url` (undefined: encode and drop). */
export type TickTracingMode = { kind: "sdk" } | { kind: "worker"; url: string | undefined };

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
  const bound = { add: () => undefined, record: () => undefined };
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
function createToolkit(samplingRatio: number | undefined, tracing: TickTracingMode): Toolkit {
  if (samplingRatio === undefined) {
    return {
      tracer: new ProxyTracerProvider().getTracer("ticktrace"),
      metrics: noopTradingMetrics(),
      hotPath: undefined,
      tickTracing: undefined,
      flush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    };
  }
  const tracerProvider = new BasicTracerProvider({
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(samplingRatio) }),
    spanProcessors: [new BatchSpanProcessor(dropExporter, { maxQueueSize: 8192, scheduledDelayMillis: 200 })],
  });
  // As the runtime wires its readers: the catalogue's histograms are aggregated by ticktrace
  // and collected through a producer of the reader's own.
  const histograms = new HistogramExport("ticktrace");
  const producer = histograms.producer();
  const reader = new DropReader({ metricProducers: [producer] });
  producer.bind(reader);
  const meterProvider = new MeterProvider({ readers: [reader] });
  // Room for a whole round (5,000 ticks of 13 histogram values): a round is one task (the
  // instant venue acks with resolved promises), so no timer folds during it, and a smaller ring
  // dropped more than half of the values instead of folding them.
  const hotPath = new HotPathRecorder({ capacity: 1 << 17, flushIntervalMillis: 200 });
  hotPath.start();
  const tracer = tracerProvider.getTracer("ticktrace");
  const tickTracing =
    tracing.kind === "worker"
      ? createWorkerTickTracing({
          url: tracing.url,
          protocol: "http/protobuf",
          timeoutMs: 10_000,
          batchDelayMs: 200,
          samplingRatio,
          resource: { "service.name": "tick-loop-bench", "service.version": "0.0.0" },
          scopeName: "ticktrace",
          fallbackTracer: tracer,
        })
      : undefined;
  return {
    tracer,
    metrics: createTradingMetrics(meterProvider.getMeter("ticktrace"), { histograms }),
    hotPath,
    tickTracing,
    async flush() {
      await tickTracing?.forceFlush();
      hotPath.flush();
      // A collection, as the preload's readers make one per interval: what was folded reaches
      // the SDK's instruments inside this round, not on a timer in another mode's round.
      await reader.collect();
      await tracerProvider.forceFlush();
    },
    async shutdown() {
      await tickTracing?.shutdown();
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
  options: { venue?: Venue; tickers?: (step: number) => Ticker[]; tracing?: TickTracingMode } = {},
): Loop {
  const toolkit = createToolkit(samplingRatio, options.tracing ?? { kind: "sdk" });
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
    ...(toolkit.tickTracing ? { tickTracing: toolkit.tickTracing.factory } : {}),
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
    tickTracing: toolkit.tickTracing,
    droppedValues: () => ({
      hotPath: hotPath?.dropped ?? 0,
      histograms: Object.values(metrics).reduce(
        (sum, instrument) => sum + ("dropped" in instrument ? instrument.dropped : 0),
        0,
      ),
    }),
    flush: () => toolkit.flush(),
    async run(ticks) {
      const sentUs: number[] = [];
      const started = performance.now();
      for (let i = 0; i < ticks; i++) {
        const finished = new Promise<void>((resolve) => (done = resolve));
        // Widened: the venue sets it during the tick, which narrowing from this reset cannot see.
        venue.firstSentAt = undefined as number | undefined;
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
 * The modes of the synthetic loop: toolkit disabled; SDK tick spans (the fallback,
 * `tick_tracing: sdk`) at three sampling ratios, the last also with the preload's
 * AsyncLocalStorage context manager, which hooks every promise of the process (installed in
 * that mode's processes only); worker tick tracing at ratio 1, at 0.01 with the context
 * manager, and at 0.
 */
export const MODES = {
  disabled: { ratio: undefined, asyncContext: false, worker: false },
  enabled: { ratio: 1, asyncContext: false, worker: false },
  worker: { ratio: 1, asyncContext: false, worker: true },
  sampled: { ratio: 0.1, asyncContext: false, worker: false },
  sampled1: { ratio: 0.01, asyncContext: false, worker: false },
  sampled1Context: { ratio: 0.01, asyncContext: true, worker: false },
  worker1Context: { ratio: 0.01, asyncContext: true, worker: true },
  // Toolkit disabled, only the context manager installed: what it costs by itself on Node 20.
  disabledContext: { ratio: undefined, asyncContext: true, worker: false },
  // Worker tick tracing that samples no tick: what the metrics and the untraced tick path cost.
  workerUntraced: { ratio: 0, asyncContext: false, worker: true },
} as const;
export type Mode = keyof typeof MODES;

function label(mode: Exclude<Mode, "disabled">): string {
  const { ratio, asyncContext, worker } = MODES[mode];
  if (ratio === undefined) return "toolkit disabled, only the AsyncLocalStorage context manager";
  if (ratio === 0) return "no tick traced, worker tick tracing: the metrics alone";
  return (
    (ratio === 1 ? "every tick traced" : `${ratio * 100}% of ticks traced`) +
    (asyncContext ? ", AsyncLocalStorage context" : "") +
    (worker ? ", worker tick tracing" : ", SDK spans on the trading thread")
  );
}

/** Installs the AsyncLocalStorage context manager as the global one, as the preload does. */
function installAsyncContext(): void {
  const asyncContext = new AsyncLocalStorageContextManager();
  asyncContext.enable();
  context.setGlobalContextManager(asyncContext);
}

/** On-CPU nanoseconds of thread `tid` of this process (Linux schedstat), NaN where unavailable. */
function threadCpuNs(tid: number): number {
  try {
    return Number(readFileSync(`/proc/self/task/${tid}/schedstat`, "utf8").split(" ")[0]);
  } catch {
    return Number.NaN;
  }
}

/** Thread ids of this process. */
function threadIds(): Set<number> {
  try {
    return new Set(readdirSync("/proc/self/task").map(Number));
  } catch {
    return new Set();
  }
}

/** The stand-in collector, in a process of its own so its work is not counted here. */
async function startSinkProcess(): Promise<{ url: string; proc: Launched }> {
  const proc = launch({
    command: process.execPath,
    args: [join(REPO_ROOT, "bench", "fixtures", "otlp-sink.js")],
  });
  const match = await proc.waitFor(/otlp-sink (\d+)/, 10_000);
  return { url: `http://127.0.0.1:${match[1] ?? ""}/v1/traces`, proc };
}

interface RoundCpu {
  /** Trading thread, µs per tick. */
  mainUs: number;
  /** Whole process, µs per tick. */
  processUs: number;
  /** The mode's exporter worker thread, µs per tick (0 without one). */
  workerUs: number;
}

/** What one round of one mode measured, in that mode's process. */
export interface RoundResult {
  sentUs: number[];
  /** Wall-clock ticks per second. */
  ticksPerSecond: number;
  /** Trading-thread ticks per CPU-second (whole-process CPU where schedstat is unavailable). */
  ticksPerCpuSecond: number;
  cpu: RoundCpu;
}

/** The exporter worker's figures over a mode's run, reported when its process finishes. */
export interface ModeTotals {
  workerStats: Awaited<ReturnType<WorkerTickTracing["stats"]>> | undefined;
  droppedTicks: number;
  droppedSpans: number;
  /** Threads that appeared when the loop was built (the exporter worker's). */
  workerThreads: number;
}

/**
 * One round of `ticks` ticks of `loop`, in the calling process (a mode's own): its trading
 * thread's CPU (schedstat of the main thread), the whole process's, and that of `workerTids`.
 */
export async function measureRound(
  loop: Loop,
  ticks: number,
  workerTids: readonly number[],
): Promise<RoundResult> {
  const mainTid = process.pid;
  const workerCpu = () => workerTids.reduce((sum, tid) => sum + threadCpuNs(tid), 0);
  const processBefore = process.cpuUsage();
  const mainBefore = threadCpuNs(mainTid);
  const workerBefore = workerCpu();
  const { sentUs, ticksPerSecond } = await loop.run(ticks);
  const mainNs = threadCpuNs(mainTid) - mainBefore;
  // The round pays for its own deferred work inside its process window: what the worker has
  // read is exported, the hot path folds its samples, the SDK's batch processor hands over its
  // spans. The trading-thread window has closed already, so the throughput and trading-thread
  // rows do not include it; the whole-process row does.
  await loop.flush();
  const processCpu = process.cpuUsage(processBefore);
  const workerNs = workerCpu() - workerBefore;
  return {
    sentUs,
    ticksPerSecond,
    ticksPerCpuSecond: Number.isFinite(mainNs)
      ? (ticks * 1e9) / mainNs
      : (ticks * 1e6) / (processCpu.user + processCpu.system),
    cpu: {
      mainUs: mainNs / 1000 / ticks,
      processUs: (processCpu.user + processCpu.system) / ticks,
      workerUs: workerTids.length > 0 ? workerNs / 1000 / ticks : 0,
    },
  };
}

/**
 * Builds `mode`'s loop in this process (the context manager installed for the process's life
 * where the mode has it, as the preload installs it) and the threads it started.
 */
export function createModeLoop(mode: Mode, sinkUrl: string): { loop: Loop; workerTids: number[] } {
  if (MODES[mode].asyncContext) installAsyncContext();
  const before = threadIds();
  const loop = createLoop(MODES[mode].ratio, {
    tracing: MODES[mode].worker ? { kind: "worker", url: sinkUrl } : { kind: "sdk" },
  });
  // The exporter thread starts with the tick loop (the orchestrator asks for its tracer).
  return { loop, workerTids: [...threadIds()].filter((tid) => !before.has(tid)) };
}

/** A mode's loop in a process of its own (bench/fixtures/tick-loop-mode.ts), driven round by round. */
interface ModeProcess {
  round(ticks: number): Promise<RoundResult>;
  /** Shuts the loop down and the process with it; its worker's totals. */
  finish(): Promise<ModeTotals>;
  kill(): void;
}

/** The tsx loader flags this bench runs with, so a forked TypeScript fixture loads the same way. */
function loaderArgs(): string[] {
  const args: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if ((flag === "--require" || flag === "--import") && i + 1 < argv.length) args.push(flag, argv[++i]!);
    else if (flag.startsWith("--require=") || flag.startsWith("--import=")) args.push(flag);
  }
  return args;
}

async function startModeProcess(mode: Mode, sinkUrl: string): Promise<ModeProcess> {
  const child = fork(join(REPO_ROOT, "bench", "fixtures", "tick-loop-mode.ts"), [mode, sinkUrl], {
    cwd: REPO_ROOT,
    execArgv: loaderArgs(),
    env: process.env,
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const reply = <T>(send: unknown): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const onExit = (code: number | null) =>
        reject(new Error(`the tick-loop process of mode ${mode} exited with ${String(code)}`));
      child.once("exit", onExit);
      child.once("message", (message) => {
        child.off("exit", onExit);
        resolve(message as T);
      });
      if (send !== undefined) child.send(send as object);
    });
  await reply<{ ready: true }>(undefined);
  return {
    round: (ticks) => reply<RoundResult>({ cmd: "round", ticks }),
    finish: () => reply<ModeTotals>({ cmd: "finish" }),
    kill: () => child.kill("SIGKILL"),
  };
}

async function tickLoop(opts: { quick: boolean }): Promise<Figure[]> {
  // BENCH_TICK_MODES=disabled,worker (development): only those modes' rows; disabled always runs.
  const only = process.env.BENCH_TICK_MODES?.split(",").map((m) => m.trim());
  const modes = (Object.keys(MODES) as Mode[]).filter(
    (mode) => only === undefined || mode === "disabled" || only.includes(mode),
  );
  const has = (mode: Mode) => modes.includes(mode);
  // Rounds of tens of milliseconds at least: shorter ones measure GC pauses and the neighbours.
  const ticksPerRound = opts.quick ? 2_000 : 5_000;
  // Each mode in a process of its own, as a bot runs one configuration (see the header), and in
  // several processes one after another: a process's code and heap layout make it a few percent
  // faster or slower for its whole life, the same for every round, so one process per mode
  // would put that luck into every per-round difference.
  const generations = opts.quick ? 2 : 4;
  const roundsPerGeneration = opts.quick ? 4 : 5;
  const warmupRounds = 2;
  const rounds = generations * roundsPerGeneration;
  const sent = Object.fromEntries(modes.map((mode) => [mode, [] as number[]])) as Record<Mode, number[]>;
  // Per round: the median and p99 of each mode, so "added" compares samples taken side by side.
  const perRound = Object.fromEntries(modes.map((mode) => [mode, []])) as unknown as Record<
    Mode,
    { median: number; p99: number }[]
  >;
  const wall = Object.fromEntries(modes.map((mode) => [mode, [] as number[]])) as Record<Mode, number[]>;
  const cpu = Object.fromEntries(modes.map((mode) => [mode, [] as RoundCpu[]])) as Record<Mode, RoundCpu[]>;
  const throughput = Object.fromEntries(modes.map((mode) => [mode, [] as number[]])) as Record<
    Mode,
    number[]
  >;
  const totals = {} as Partial<Record<Mode, ModeTotals>>;
  const sink = await startSinkProcess();
  try {
    for (let generation = 0; generation < generations; generation++) {
      const children = {} as Record<Mode, ModeProcess>;
      try {
        for (const mode of modes) children[mode] = await startModeProcess(mode, sink.url);
        // A fresh process's first rounds run before V8 has optimized the loop: not recorded.
        for (let i = 0; i < warmupRounds; i++)
          for (const mode of modes) await children[mode].round(ticksPerRound);
        const result = await interleave({
          rounds: roundsPerGeneration,
          warmupRounds: 0,
          subjects: Object.fromEntries(
            modes.map((mode) => [
              mode,
              async () => {
                const round = await children[mode].round(ticksPerRound);
                const s = summarize(round.sentUs);
                perRound[mode].push({ median: s.median, p99: s.p99 });
                sent[mode].push(...round.sentUs);
                wall[mode].push(round.ticksPerSecond);
                cpu[mode].push(round.cpu);
                return round.ticksPerCpuSecond;
              },
            ]),
          ) as Record<Mode, () => Promise<number>>,
        });
        for (const mode of modes) {
          throughput[mode].push(...result.samples[mode]);
          const finished = await children[mode].finish();
          const sum = totals[mode];
          totals[mode] = sum
            ? {
                workerStats:
                  sum.workerStats && finished.workerStats
                    ? {
                        ...finished.workerStats,
                        spansExported: sum.workerStats.spansExported + finished.workerStats.spansExported,
                      }
                    : finished.workerStats,
                droppedTicks: sum.droppedTicks + finished.droppedTicks,
                droppedSpans: sum.droppedSpans + finished.droppedSpans,
                workerThreads: finished.workerThreads,
              }
            : finished;
        }
      } finally {
        for (const child of Object.values(children)) child.kill();
      }
    }
  } finally {
    await sink.proc.stop();
  }
  const summaries = Object.fromEntries(modes.map((mode) => [mode, summarize(throughput[mode])])) as Record<
    Mode,
    Summary
  >;
  const workerStats = {
    worker: totals.worker?.workerStats,
    worker1Context: totals.worker1Context?.workerStats,
  };
  const dropped = {
    worker: totals.worker?.droppedTicks ?? 0,
    worker1Context: totals.worker1Context?.droppedTicks ?? 0,
  };
  const droppedSpans = {
    worker: totals.worker?.droppedSpans ?? 0,
    worker1Context: totals.worker1Context?.droppedSpans ?? 0,
  };
  const figures: Figure[] = [];
  const base = perRound.disabled;
  const disabledSent = summarize(sent.disabled);
  const wallMedian = (mode: Mode) => summarize(wall[mode]).median;
  const cpuOf = (mode: Mode, key: keyof RoundCpu) => summarize(cpu[mode].map((r) => r[key]));
  /** Per round, `mode` minus disabled (rounds are interleaved, so each difference is side by side). */
  const addedOf = (mode: Mode, key: keyof RoundCpu) =>
    summarize(cpu[mode].map((r, i) => r[key] - cpu.disabled[i]![key]));
  const disabledMainUs = cpuOf("disabled", "mainUs").median;
  const disabledProcessUs = cpuOf("disabled", "processUs").median;
  for (const mode of (["enabled", "worker", "sampled"] as const).filter(has)) {
    const rows = perRound[mode];
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
        note: `baseline = toolkit disabled, median tick-to-trade (sent) ${fmtUs(disabledSent.median)} µs; ${rounds} interleaved rounds of ${ticksPerRound} ticks (${generations} processes per mode, one after another, ${roundsPerGeneration} rounds each after ${warmupRounds} unrecorded), 2 symbols, both quotes replaced every tick`,
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
  const throughputTarget = (mode: Mode) =>
    mode === "enabled" || mode === "worker"
      ? 0.9
      : mode === "sampled1Context" || mode === "worker1Context"
        ? 0.95
        : null;
  for (const mode of [
    "enabled",
    "worker",
    "sampled",
    "sampled1",
    "sampled1Context",
    "worker1Context",
    "disabledContext",
    "workerUntraced",
  ] as const) {
    if (!has(mode)) continue;
    const target = throughputTarget(mode);
    const addedMainUs = cpuOf(mode, "mainUs").median - disabledMainUs;
    figures.push(
      compareFigure({
        name: `tick loop throughput of the trading thread vs disabled (${label(mode)})`,
        unit: "ticks/CPU-s",
        subject: summaries[mode],
        baseline: summaries.disabled,
        target: target === null ? null : `ratio >= ${target}`,
        ...(target === null
          ? {}
          : { check: (_value: number, ratio: number | null) => ratio !== null && ratio >= target }),
        note: `ticks per second of the trading thread's own CPU time (schedstat; the loop is CPU-bound, so ticks/s on a core of its own; wall-clock ticks/s swing with the shared machine's load: here ratio ${fmt(wallMedian(mode) / wallMedian("disabled"))}); a synthetic tick of ${fmt(disabledMainUs)} µs CPU against an instant venue, ${fmt(addedMainUs)} µs added per tick on the trading thread (${MODES[mode].ratio === undefined ? "no span and no metric: the context manager alone" : "14 spans per traced tick"})${MODES[mode].asyncContext ? "; the context manager's async hooks run for each of the ~50 promises of a tick" : ""}`,
      }),
    );
  }
  for (const mode of (["enabled", "worker"] as const).filter(has)) {
    const added = addedOf(mode, "mainUs");
    figures.push({
      name: `trading-thread time added per traced tick (${label(mode)})`,
      value: added.median,
      unit: "µs",
      baseline: disabledMainUs,
      ratio: null,
      target: "<= 1.5 µs",
      met: added.median <= 1.5,
      spread: `p25-p75 ${fmt(added.p25)}-${fmt(added.p75)} µs (n=${added.n} rounds)`,
      note: `on-CPU time of the trading thread per tick (schedstat), minus the disabled loop's in the same round; baseline = the disabled tick's ${fmt(disabledMainUs)} µs`,
    });
  }
  for (const mode of (["enabled", "worker"] as const).filter(has)) {
    const added = addedOf(mode, "processUs");
    const isWorker = mode === "worker";
    figures.push({
      name: `CPU of the whole process per traced tick, added (${label(mode)})`,
      value: added.median,
      unit: "µs",
      baseline: disabledProcessUs,
      ratio: null,
      target: "<= 10 µs",
      met: added.median <= 10,
      spread: `p25-p75 ${fmt(added.p25)}-${fmt(added.p75)} µs (n=${added.n} rounds)`,
      note: isWorker
        ? `process.cpuUsage() (all threads) per tick minus the disabled loop's in the same round, with the exporter worker's OTLP/protobuf encoding and HTTP to a stand-in collector in another process counted (each round waits for the worker to send what it read; every mode's round also folds its own hot path and flushes its own SDK batch processor, so no round pays for another loop's timers); ticks dropped from tracing over the run: ${dropped.worker}, spans dropped: ${droppedSpans.worker}; spans exported: ${workerStats.worker?.spansExported ?? "n/a"}`
        : "process.cpuUsage() per tick minus the disabled loop's in the same round, each round folding its own hot path and flushing its own batch processor; the SDK's batch processor hands spans to an exporter that drops them (no serialisation counted on this path)",
    });
  }
  if (!has("worker")) return figures;
  const workerOwn = cpuOf("worker", "workerUs");
  figures.push({
    name: "tick-trace exporter worker CPU per traced tick",
    value: workerOwn.median,
    unit: "µs",
    baseline: null,
    ratio: null,
    target: null,
    met: null,
    spread: `p25-p75 ${fmt(workerOwn.p25)}-${fmt(workerOwn.p75)} µs (n=${workerOwn.n} rounds)`,
    note: `on-CPU time of the exporter thread (schedstat of the thread the worker started) per traced tick (14 spans): ring reads, span building, OTLP/protobuf encoding and HTTP; reported so the total stays honest (it is inside the whole-process row)${totals.worker?.workerThreads === 1 ? "" : `; ${totals.worker?.workerThreads ?? 0} new threads attributed to the worker`}; at 1%: ${has("worker1Context") ? fmt(cpuOf("worker1Context", "workerUs").median) : "not run"} µs per tick (ticks dropped ${dropped.worker1Context})`,
  });
  return figures;
}

/** Simulated exchange latency of the loopback row, fixed so rounds differ only by our code. */
const LOOPBACK_LATENCY_MS = 2;

/**
 * The reference process's real order path: the exchange client (Node's fetch over loopback HTTP) against
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
  const sink = await startSinkProcess();
  const tickers = (step: number): Ticker[] => {
    const shift = step % 2 === 0 ? 1.0005 : 1;
    return SYMBOLS.map((symbol) => {
      const mid = simulator.mid(symbol)! * shift;
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
    loops[mode] = createLoop(ratio, {
      venue: client,
      tickers,
      ...(ratio === undefined ? {} : { tracing: { kind: "worker" as const, url: sink.url } }),
    });
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
  await sink.proc.stop();
  return [
    compareFigure({
      name: "tick loop throughput vs disabled (every tick traced, loopback HTTP exchange)",
      unit: "ticks/s",
      subject: result.summaries.enabled,
      baseline: result.summaries.disabled,
      target: "ratio >= 0.95",
      check: (_value, ratio) => ratio !== null && ratio >= 0.95,
      note: `worker tick tracing (the default); the reference process's order path: exchange client over loopback HTTP to the in-process simulator (${LOOPBACK_LATENCY_MS} ms simulated latency), 8 requests per tick; CPU per tick ${fmt(cpuDisabled)} µs disabled, ${fmt(cpuEnabled)} µs enabled (client and simulator both in this process); ${rounds} interleaved rounds of ${ticksPerRound} ticks; no HTTP instrumentation in either mode`,
    }),
  ];
}

/**
 * The event-loop delay the toolkit adds while the reference process trades: `dist/main.js
 * --scenario calm` with the preload, telemetry on (worker tick tracing, OTLP to a stand-in
 * collector in another process) against the same with `OTEL_SDK_DISABLED=true`, in interleaved
 * rounds of one process each. A probe preloaded beside it (bench/fixtures/eld-probe.js) samples
 * `monitorEventLoopDelay` at 1 ms resolution after a warm-up.
 */
async function eventLoopDelay(opts: { quick: boolean }): Promise<Figure[]> {
  const preload = preloadPath();
  const name = "event-loop delay p99 added while the reference process trades";
  if (!preload || !existsSync(REFERENCE_PROCESS))
    return [notMeasured(name, "dist/ is not built (npm run build)", "<= 1 ms")];
  const sink = await startSinkProcess();
  const sampleMs = opts.quick ? 5_000 : 10_000;
  const probe = join(REPO_ROOT, "bench", "fixtures", "eld-probe.js");
  const p99: Record<"on" | "off", number[]> = { on: [], off: [] };
  const once = (mode: "on" | "off") => async () => {
    const started = await startPreloaded({
      preload,
      endpoint: sink.url.replace(/\/v1\/traces$/, ""),
      mode: "trading",
      nodeArgs: ["--require", probe],
      env: {
        BENCH_ELD_WARMUP_MS: "3000",
        BENCH_ELD_MS: String(sampleMs),
        ...(mode === "off" ? { OTEL_SDK_DISABLED: "true" } : {}),
      },
    });
    try {
      const match = await started.proc.waitFor(
        /eld p50 ([\d.]+) p99 ([\d.]+) max ([\d.]+)/,
        sampleMs + 30_000,
      );
      const value = Number(match[2]) / 1e6;
      p99[mode].push(value);
      return value;
    } finally {
      await started.proc.stop();
    }
  };
  const rounds = opts.quick ? 3 : 7;
  try {
    const result = await interleave({
      rounds,
      warmupRounds: 0,
      subjects: { on: once("on"), off: once("off") },
    });
    const added = summarize(result.samples.on.map((v, i) => v - result.samples.off[i]!));
    return [
      {
        name,
        value: added.median,
        unit: "ms",
        baseline: result.summaries.off.median,
        ratio: null,
        target: "<= 1 ms",
        met: added.median <= 1,
        spread: `p25-p75 ${fmt(added.p25)}-${fmt(added.p75)} ms (n=${added.n}); p99 with telemetry ${fmt(result.summaries.on.median)} ms, without ${fmt(result.summaries.off.median)} ms`,
        note: `reference process (dist/main.js --scenario calm) with the preload, telemetry on (worker tick tracing, every tick traced, OTLP to a stand-in collector in another process) vs OTEL_SDK_DISABLED=true (the runtime, alerts and monitoring still run in both); monitorEventLoopDelay at 1 ms resolution over ${sampleMs / 1000} s after a 3 s warm-up, ${rounds} interleaved rounds of one process each; median of per-round differences`,
      },
    ];
  } finally {
    await sink.proc.stop();
  }
}

function fmtUs(value: number): string {
  return value.toFixed(2);
}

export const benchmarks: Benchmark[] = [
  { name: "tick-loop", run: tickLoop },
  { name: "tick-loop-loopback", run: tickLoopLoopback },
  { name: "event-loop-delay", run: eventLoopDelay },
];
