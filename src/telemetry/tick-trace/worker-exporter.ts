import { extname, join } from "node:path";
import { MessageChannel, Worker } from "node:worker_threads";
import { diag, type Attributes, type Tracer } from "@opentelemetry/api";
import { systemClock, type Clock } from "../../clock.js";
import type { BackoffPolicy } from "../../retry/backoff.js";
import type { ExporterStats, ExporterWorkerData, FromWorker, ToWorker } from "./exporter-worker.js";
import { RingSpanWriter } from "./ring-span-writer.js";
import { InternTable, RingTickTracer } from "./ring-tick-tracer.js";
import {
  CONTROL_DROPPED_SPANS,
  CONTROL_DROPPED_TICKS,
  DEFAULT_SIZING,
  TickRing,
  type RingSizing,
} from "./ring.js";
import { SdkTickTracer, type TickTracer, type TickTracerFactory } from "./tick-tracer.js";

export interface WorkerTickTracingOptions {
  /** Full OTLP/HTTP traces URL (`…/v1/traces`); undefined encodes and drops (benchmarks). */
  url: string | undefined;
  protocol: "http/protobuf" | "http/json";
  headers?: Record<string, string>;
  timeoutMs: number;
  /** Most time a span waits in the worker before it is sent (`telemetry.traces.batch_delay_ms`). */
  batchDelayMs: number;
  samplingRatio: number;
  /** The resource attributes every span carries: the SDK resource's, so both paths agree. */
  resource: Attributes;
  /** Instrumentation scope name (the SDK path's tracer name). */
  scopeName: string;
  /** Ring size; defaults to {@link DEFAULT_SIZING}. */
  sizing?: Partial<RingSizing>;
  /** Spans per export request. Default 8192 (about 1 MiB of OTLP/protobuf). */
  maxBatchSpans?: number;
  /** Spans held by the worker while an export is in flight; more are dropped. Default 65536. */
  maxQueueSpans?: number;
  /**
   * Attempts per export request, the first included. A connection error, a timeout or HTTP
   * 429/502/503/504 is retried after a backoff (or the collector's `Retry-After`); after the last
   * attempt, or on any other refusal, the request's spans are dropped and counted. Default 3.
   */
  maxAttempts?: number;
  /** Backoff between attempts. Default 250 ms doubling to at most 2 s, with jitter. */
  retryBackoff?: BackoffPolicy;
  /**
   * How often the worker reads the ring, and the trading thread publishes finished ticks that
   * wait for a step of them to fill. Default 5 ms (an idle read is two atomic loads).
   */
  pollMs?: number;
  /** Outcome of every export (the export monitor). Never throws into the worker's messages. */
  onExport?: (result: { ok: boolean; error?: string }) => void;
  /** A second tick loop in the same process gets SDK spans from this tracer (the ring has one writer). */
  fallbackTracer: Tracer;
  /**
   * The ring of finished client-call span trees ({@link WorkerTickTracing.spanWriter}), exported
   * under this instrumentation scope. Only with `http/protobuf`; default: no call ring.
   */
  calls?: { scopeName: string; scopeVersion: string; sizing?: Partial<RingSizing> };
}

/**
 * The call ring: a unified call and its attempts per record (binance's first `loadMarkets`
 * sends several requests at once), bytes for a few signed URLs; 1 MiB, about 2,500 calls of one
 * attempt.
 */
export const CALL_RING_SIZING: RingSizing = { bytes: 1 << 20, maxSpans: 16, stringBytes: 4096 };

/** Worker tick tracing as the runtime holds it. */
export interface WorkerTickTracing {
  /** For the tick loop (`OrchestratorOptions.tickTracing`); the first call starts the worker. */
  readonly factory: TickTracerFactory;
  /** Ticks not traced because the ring was full, since start. */
  droppedTicks(): number;
  /** Spans dropped: over a record's span capacity, over the worker's queue, or in a failed export. */
  droppedSpans(): number;
  /**
   * The writer of finished client-call span trees (the ccxt instrumentation's), on the thread
   * that calls this; the first call starts the worker. Undefined when the options have no
   * `calls`, or once the worker stopped or failed (callers then fall back to SDK spans).
   */
  spanWriter(): RingSpanWriter | undefined;
  /** The worker's own counters and busy time; undefined before it started. */
  stats(): Promise<ExporterStats | undefined>;
  /** Sends everything published so far. Never rejects. */
  forceFlush(): Promise<void>;
  /** Flushes and stops the worker. Idempotent; never rejects. */
  shutdown(): Promise<void>;
}

/**
 * The worker entry beside this file: the compiled `.js`, or the `.ts` source (tests, benchmarks)
 * through tsx's require hook, since a worker's own entry file does not go through loader hooks
 * registered with `--import`.
 */
function workerEntry(): { entry: string; eval: boolean } {
  const ext = extname(__filename);
  const file = join(__dirname, `exporter-worker${ext}`);
  return ext === ".ts"
    ? { entry: `require("tsx/cjs"); require(${JSON.stringify(file)});`, eval: true }
    : { entry: file, eval: false };
}

/**
 * Tick tracing off the trading thread (`telemetry.tick_tracing: worker`, the default). Nothing
 * starts until the tick loop asks for its tracer or a caller for the {@link
 * WorkerTickTracing.spanWriter} (the ccxt instrumentation, at its first call): then the rings
 * are allocated and the exporter worker started (a thread that is unref'd, so it never keeps
 * the process alive).
 */
export function createWorkerTickTracing(options: WorkerTickTracingOptions): WorkerTickTracing {
  const sizing: RingSizing = { ...DEFAULT_SIZING, ...options.sizing };
  const callSizing: RingSizing | undefined =
    options.calls && options.protocol === "http/protobuf"
      ? { ...CALL_RING_SIZING, ...options.calls.sizing }
      : undefined;
  let ring: TickRing | undefined;
  let callRing: TickRing | undefined;
  let interns: InternTable | undefined;
  let tickTracer: RingTickTracer | undefined;
  let tickTracerTaken = false;
  /** Publishes the tick tracer's finished ticks that wait for a step to fill (see RingTickTracer.publish). */
  let publishTimer: NodeJS.Timeout | undefined;
  const pollMs = options.pollMs ?? 5;
  let writer: RingSpanWriter | undefined;
  let worker: Worker | undefined;
  let exited = false;
  let nextId = 1;
  const waiting = new Map<number, (message: FromWorker) => void>();
  let stopping: Promise<void> | undefined;

  const ask = (message: ToWorker): Promise<FromWorker | undefined> => {
    const current = worker;
    if (!current || exited) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      waiting.set(message.id, resolve);
      current.postMessage(message);
    });
  };

  const start = (): { created: TickRing; interns: InternTable } => {
    if (ring && interns) return { created: ring, interns };
    const created = new TickRing(sizing);
    const calls = callSizing ? new TickRing(callSizing) : undefined;
    const channel = new MessageChannel();
    const { entry, eval: evaluate } = workerEntry();
    const data: ExporterWorkerData = {
      buffer: created.buffer,
      sizing,
      interns: channel.port2,
      url: options.url,
      protocol: options.protocol,
      headers: options.headers ?? {},
      timeoutMs: options.timeoutMs,
      batchDelayMs: options.batchDelayMs,
      maxBatchSpans: options.maxBatchSpans ?? 8192,
      maxQueueSpans: options.maxQueueSpans ?? 65_536,
      maxAttempts: options.maxAttempts ?? 3,
      retryBackoff: options.retryBackoff ?? { initialDelayMs: 250, maxDelayMs: 2_000 },
      pollMs,
      resource: options.resource,
      scopeName: options.scopeName,
    };
    if (calls && options.calls)
      data.calls = {
        buffer: calls.buffer,
        sizing: calls.sizing,
        scopeName: options.calls.scopeName,
        scopeVersion: options.calls.scopeVersion,
      };
    const started = new Worker(entry, {
      eval: evaluate,
      workerData: data,
      transferList: [channel.port2],
      // Not the parent's execArgv: a worker inherits `--require ticktrace/tracing` by default,
      // and would start a second runtime (SDK, health server) inside the exporter thread.
      execArgv: [],
    });
    started.unref();
    started.on("message", (message: FromWorker) => {
      if (message.type === "export") {
        try {
          options.onExport?.(
            message.error === undefined ? { ok: message.ok } : { ok: message.ok, error: message.error },
          );
        } catch {
          // the monitor must not break the exporter's messages
        }
        return;
      }
      const resolve = waiting.get(message.id);
      waiting.delete(message.id);
      resolve?.(message);
    });
    started.on("error", (error) => {
      // Ticks go on untraced (the ring fills and they are counted as dropped); the export
      // monitor reports the failure like a failed export, so health shows it.
      diag.error(`tick-trace exporter worker failed: ${String(error)}`);
      try {
        options.onExport?.({ ok: false, error: `the tick-trace exporter thread stopped: ${String(error)}` });
      } catch {
        // the monitor must not throw into the worker's events
      }
    });
    started.on("exit", () => {
      exited = true;
      for (const resolve of waiting.values()) resolve({ type: "flushed", id: 0 });
      waiting.clear();
    });
    worker = started;
    const table = new InternTable((message) => channel.port1.postMessage(message));
    channel.port1.unref();
    ring = created;
    callRing = calls;
    interns = table;
    return { created, interns: table };
  };

  return {
    factory: ({ clock }: { clock: Clock }): TickTracer => {
      if (tickTracerTaken || stopping) return new SdkTickTracer(options.fallbackTracer, clock);
      tickTracerTaken = true;
      const started = start();
      const created = new RingTickTracer({
        ring: started.created,
        interns: started.interns,
        clock,
        samplingRatio: options.samplingRatio,
      });
      tickTracer = created;
      publishTimer = setInterval(() => created.publish(), pollMs);
      publishTimer.unref();
      return created;
    },
    spanWriter() {
      if (!callSizing || stopping || exited) return undefined;
      if (writer) return writer;
      const started = start();
      if (!callRing) return undefined;
      writer = new RingSpanWriter({
        ring: callRing,
        interns: started.interns,
        clock: systemClock,
        samplingRatio: options.samplingRatio,
      });
      return writer;
    },
    droppedTicks: () => (ring ? Atomics.load(ring.control, CONTROL_DROPPED_TICKS) : 0),
    // A call tree the call ring had no room for counts its spans here (see RingSpanWriter.begin).
    droppedSpans: () =>
      (ring ? Atomics.load(ring.control, CONTROL_DROPPED_SPANS) : 0) +
      (callRing ? Atomics.load(callRing.control, CONTROL_DROPPED_SPANS) : 0),
    async stats() {
      const reply = await ask({ type: "stats", id: nextId++ });
      return reply?.type === "stats" ? reply.stats : undefined;
    },
    async forceFlush() {
      tickTracer?.publish();
      await ask({ type: "flush", id: nextId++ });
    },
    shutdown() {
      stopping ??= (async () => {
        clearInterval(publishTimer);
        tickTracer?.publish();
        await ask({ type: "flush", id: nextId++ });
        if (worker && !exited) await worker.terminate().catch(() => undefined);
      })();
      return stopping;
    },
  };
}
