import { z } from "zod";
import { httpUrlSchema, portSchema, positiveMsSchema, section } from "./common.js";

/** Instrumentations the preload knows; the default allow-list is the first five and `ccxt`. */
export const KNOWN_INSTRUMENTATIONS = [
  "http",
  "express",
  "winston",
  "undici",
  "pg",
  "dns",
  "net",
  "fs",
  "ioredis",
  "redis",
  "mongodb",
  "mysql2",
  "grpc",
  "ccxt",
] as const;

export const telemetrySection = section({
  /** Master switch for the OpenTelemetry SDK; `OTEL_SDK_DISABLED=true` turns it off too. */
  enabled: z.boolean().default(true),
  /** Serve Prometheus `/metrics`. */
  metrics_enabled: z.boolean().default(true),
  /** Serve `/metrics` on its own port instead of the health port. */
  metrics_port: portSchema.optional(),
  otlp: section({
    /** Collector base URL; `/v1/traces`, `/v1/metrics`, `/v1/logs` are appended. */
    endpoint: httpUrlSchema.default("http://localhost:4318"),
    /** OTLP over HTTP encoding: `http/protobuf` (the collector default) or `http/json`. */
    protocol: z.enum(["http/protobuf", "http/json"]).default("http/protobuf"),
    /** Per-export timeout. */
    timeout_ms: positiveMsSchema.default(10_000),
    /** Extra HTTP headers on every export, e.g. `Authorization: Bearer ${OTLP_TOKEN}`; never logged. */
    headers: z.record(z.string(), z.string()).default({}),
  }),
  traces: section({
    /** Export spans by OTLP (`/v1/traces`); `OTEL_TRACES_EXPORTER=none` turns it off. */
    enabled: z.boolean().default(true),
    /** Fraction of root spans (ticks) kept, 0 to 1. Children follow their parent. */
    sampling_ratio: z.number().min(0).max(1).default(1),
    /** Most time a finished span waits before it is sent in a batch; `OTEL_BSP_SCHEDULE_DELAY` wins. */
    batch_delay_ms: positiveMsSchema.default(5_000),
  }),
  logs: section({
    /** Send log records to the collector through the OpenTelemetry logs SDK. */
    enabled: z.boolean().default(true),
    /** Most time a log record waits before it is sent in a batch; `OTEL_BLRP_SCHEDULE_DELAY` wins. */
    batch_delay_ms: positiveMsSchema.default(1_000),
  }),
  metrics_push: section({
    /** Also push metrics by OTLP (the pull endpoint stays on). */
    enabled: z.boolean().default(false),
    /** How often pushed metrics are exported. */
    interval_ms: z.int().min(1_000).default(15_000),
  }),
  /** Instrumentations to load; add names from the known list to widen it. */
  instrumentations: z
    .array(z.enum(KNOWN_INSTRUMENTATIONS))
    .default(["http", "express", "winston", "undici", "pg", "ccxt"]),
  ccxt: section({
    /**
     * A ccxt websocket subscription the bot waits on with no message for this long counts as
     * disconnected: `/health` shows `exchange.<id>` down and the exchange-disconnect alert fires.
     */
    ws_silence_ms: positiveMsSchema.default(30_000),
    /**
     * When the preload registers the ES-module loader hook that lets the instrumentation see
     * `import "ccxt"`: `auto` when the entry point is an ES module or the preload came with
     * `--import`; `always` also for a CommonJS bot that loads ccxt with `import()` (the hook
     * runs on a loader thread of its own, which every such process pays at start); `never`
     * for `require("ccxt")` only.
     */
    esm_hook: z.enum(["auto", "always", "never"]).default("auto"),
  }),
  /** Node.js runtime metrics: event-loop delay and utilization, GC pauses, heap, RSS (`nodejs.*`, `v8js.*`). */
  runtime_metrics: section({
    enabled: z.boolean().default(true),
    /** Resolution of the event-loop delay histogram (`perf_hooks.monitorEventLoopDelay`). */
    event_loop_resolution_ms: z.int().min(1).max(1_000).default(10),
  }),
  /** Most distinct attribute sets kept per metric; further ones fold into an overflow series. */
  cardinality_limit: z.int().min(10).max(1_000_000).default(2_000),
  /**
   * Where tick spans are built: `worker` records ids and timestamps into shared memory and a
   * worker thread builds and exports the spans (OTLP, same endpoint and protocol); `sdk` creates
   * OpenTelemetry SDK spans on the trading thread. Same span tree either way.
   */
  tick_tracing: z.enum(["worker", "sdk"]).default("worker"),
  /**
   * Upper bound for flushing telemetry at shutdown, for a collector that is slow. A collector
   * that refuses connections ends the wait at once: the process exits without it.
   */
  shutdown_timeout_ms: positiveMsSchema.default(5_000),
});
