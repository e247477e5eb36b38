import { randomBytes } from "node:crypto";
import { trace, type Tracer } from "@opentelemetry/api";
import { systemClock, type Clock, type TimerHandle } from "../clock.js";
import { describeError, TicktraceError } from "../errors.js";
import type { HealthRegistry } from "../health/registry.js";
import { createSilentLogger, type Logger } from "../logging/logger.js";
import type { TradingMetrics } from "../telemetry/metrics.js";
import { SessionTelemetry } from "./telemetry.js";
import {
  SESSION_ID_PATTERN,
  type DecisionInput,
  type DecisionReader,
  type DecisionStore,
  type ModelUsageInput,
  type SessionEvent,
  type SessionRecord,
  type SessionStatus,
  type ToolCallInput,
} from "./types.js";

export interface DecisionRecorderOptions {
  store: DecisionStore;
  /** Default: the global tracer `ticktrace`. */
  tracer?: Tracer;
  /** The catalogue instruments (`runtime.metrics`); without them no AI/LLM metrics are recorded. */
  metrics?: TradingMetrics;
  logger?: Logger;
  clock?: Clock;
  /** When given, the store's state is reported as component `decisions` (group `storage`). */
  health?: HealthRegistry;
  /** Tool results longer than this are truncated in storage; their full length is kept. Default 4000. */
  maxToolResultChars?: number;
  /** Thinking steps longer than this are truncated in storage. Default 20000. */
  maxStepChars?: number;
  /** How often buffered events are written. Default 1000. */
  flushIntervalMs?: number;
  /** Events kept in memory while the store is failing; the oldest are dropped beyond it. Default 10000. */
  maxBufferedEvents?: number;
  /** Sessions started longer ago than this are deleted by the retention cleanup. Default 30. */
  retentionDays?: number;
  /** How often the retention cleanup runs. Default one hour. */
  retentionIntervalMs?: number;
}

export interface StartSessionInput {
  /** The agent's name (`market_maker`, `portfolio_manager`); names the root span. */
  agent: string;
  strategyId: string;
  symbol?: string;
  /** Your own session id (1-48 of `A-Za-z0-9_.:-`); default a short generated one. */
  id?: string;
}

/**
 * One decision cycle being recorded. Every method is synchronous, cheap and never throws:
 * events are buffered and written in the background. Calls after `end()` are ignored.
 */
export interface DecisionSession {
  readonly id: string;
  /** The session's trace id (the root span `invoke_agent <agent>`); undefined when tracing is off. */
  readonly traceId: string | undefined;
  readonly ended: boolean;
  /** A thinking step: one numbered line of reasoning. */
  step(text: string): void;
  toolCall(input: ToolCallInput): void;
  modelUsage(input: ModelUsageInput): void;
  decision(input: DecisionInput): void;
  /** Ends the session (default `completed`); `error` says why when it `failed`. */
  end(status?: Exclude<SessionStatus, "running">, error?: string): void;
}

export interface RecorderStats {
  /** Events waiting to be written. */
  buffered: number;
  written: number;
  /** Events dropped because the buffer was full while the store was failing. */
  dropped: number;
  writeFailures: number;
  lastError?: string;
}

export interface DecisionRecorder {
  startSession(input: StartSessionInput): DecisionSession;
  /** The store's read side, for the bot. */
  readonly reader: DecisionReader;
  /** Starts the flush and retention timers (idempotent). */
  start(): void;
  /** Writes what is buffered now. Resolves (never rejects) when done or failed. */
  flush(): Promise<void>;
  /** Deletes sessions older than the retention; returns how many went (0 on failure). */
  runRetention(): Promise<number>;
  stats(): RecorderStats;
  /** Idempotent: stops the timers, writes what is buffered, closes the store. */
  shutdown(): Promise<void>;
}

const DAY_MS = 86_400_000;

/** Clamps to [0, 1]; NaN becomes 0. */
const unit = (value: number): number => (Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : 0);
const count = (value: number): number => (Number.isFinite(value) && value > 0 ? Math.round(value) : 0);
const costOf = (value: number | undefined): number =>
  value !== undefined && Number.isFinite(value) && value > 0 ? value : 0;

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) {
    throw new TicktraceError("INVALID_ARGUMENT", `${name} must be greater than 0 (got ${value})`);
  }
  return value;
}

/** A short, time-ordered id that is easy to type after `/reasoning`: `mhx3k2a1-9f3a2c`. */
export function newSessionId(clock: Clock = systemClock): string {
  return `${clock.now().toString(36)}-${randomBytes(3).toString("hex")}`;
}

interface OpenSession {
  record: SessionRecord;
  telemetry: SessionTelemetry;
  nextSeq: number;
}

/**
 * Records agent decision sessions: into the store (in batches, off the caller's path), as
 * OpenTelemetry traces and as the AI/LLM metrics. A failing store is logged, counted and reported
 * to health; it never reaches the code that records.
 *
 * ```ts
 * const recorder = createDecisionRecorder({ store: createSqliteDecisionStore({ path: "data/decisions.sqlite" }), metrics });
 * recorder.start();
 * const session = recorder.startSession({ agent: "portfolio_manager", strategyId: "mm-btc" });
 * session.step("Spread is wide and volatility low: quote both sides.");
 * session.toolCall({ name: "check_risk", args: { symbol: "BTC/USDT" }, result: { ok: true } });
 * session.decision({ action: "quote", regime: "ranging", confidence: 0.8, approved: true, riskScore: 0.2 });
 * session.end();
 * ```
 */
export function createDecisionRecorder(options: DecisionRecorderOptions): DecisionRecorder {
  const store = options.store;
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createSilentLogger();
  const tracer = options.tracer ?? trace.getTracer("ticktrace");
  const maxToolResultChars = positive("maxToolResultChars", options.maxToolResultChars, 4_000);
  const maxStepChars = positive("maxStepChars", options.maxStepChars, 20_000);
  const flushIntervalMs = positive("flushIntervalMs", options.flushIntervalMs, 1_000);
  const maxBufferedEvents = positive("maxBufferedEvents", options.maxBufferedEvents, 10_000);
  const retentionMs = positive("retentionDays", options.retentionDays, 30) * DAY_MS;
  const retentionIntervalMs = positive("retentionIntervalMs", options.retentionIntervalMs, 3_600_000);

  const open = new Map<string, OpenSession>();
  /** Sessions whose row changed since the last successful write. */
  const dirty = new Map<string, SessionRecord>();
  let buffer: SessionEvent[] = [];
  const stats: RecorderStats = { buffered: 0, written: 0, dropped: 0, writeFailures: 0 };
  let initialized = false;
  let failing = false;
  let flushing: Promise<void> | undefined;
  let flushTimer: TimerHandle | undefined;
  let retentionTimer: TimerHandle | undefined;
  let started = false;
  let stopped: Promise<void> | undefined;

  options.health?.register("decisions", { group: "storage" }, { state: "up", detail: `${store.kind} store` });

  const push = (entry: OpenSession, event: SessionEvent): void => {
    buffer.push(event);
    if (buffer.length > maxBufferedEvents) {
      const excess = buffer.length - maxBufferedEvents;
      buffer = buffer.slice(excess);
      stats.dropped += excess;
    }
    entry.record.eventCount += 1;
    dirty.set(entry.record.id, entry.record);
  };

  /** Runs a session method so that nothing it does can throw into the trading code. */
  const guard = (what: string, fn: () => void): void => {
    try {
      fn();
    } catch (error) {
      logger.warn("decision recorder: recording failed", {
        component: "decisions",
        operation: what,
        error: describeError(error),
      });
    }
  };

  function startSession(input: StartSessionInput): DecisionSession {
    if (input.id !== undefined && !SESSION_ID_PATTERN.test(input.id)) {
      throw new TicktraceError(
        "INVALID_ARGUMENT",
        `startSession: id must be 1-48 characters of A-Za-z0-9_.:- (got ${JSON.stringify(input.id.slice(0, 60))})`,
      );
    }
    const record: SessionRecord = {
      id: input.id ?? newSessionId(clock),
      agent: input.agent,
      strategyId: input.strategyId,
      status: "running",
      startedAtMs: clock.now(),
      inputTokens: 0,
      outputTokens: 0,
      costUsd: 0,
      eventCount: 0,
    };
    if (input.symbol !== undefined) record.symbol = input.symbol;
    const telemetry = new SessionTelemetry(tracer, options.metrics, record);
    const traceId = telemetry.traceId;
    if (traceId !== undefined) record.traceId = traceId;
    const entry: OpenSession = { record, telemetry, nextSeq: 1 };
    open.set(record.id, entry);
    dirty.set(record.id, record);
    const base = () => ({ sessionId: record.id, seq: entry.nextSeq++, timeMs: clock.now() });
    const live = (what: string, fn: () => void) => {
      if (record.status !== "running") {
        logger.debug("decision recorder: event after end ignored", {
          component: "decisions",
          session_id: record.id,
          operation: what,
        });
        return;
      }
      guard(what, fn);
    };

    return {
      id: record.id,
      traceId,
      get ended() {
        return record.status !== "running";
      },
      // `unknown`: a plain-JS caller may pass any value, and it is stored as its string.
      step: (text: unknown) =>
        live("step", () => {
          const full = String(text);
          const stored =
            full.length > maxStepChars ? `${full.slice(0, maxStepChars)}… (${full.length} chars)` : full;
          const event: SessionEvent = { ...base(), kind: "step", text: stored };
          telemetry.step(event.seq, full);
          push(entry, event);
        }),
      toolCall: (call) =>
        live("toolCall", () => {
          const full =
            call.result === undefined
              ? ""
              : typeof call.result === "string"
                ? call.result
                : safeJson(call.result);
          const truncated = full.length > maxToolResultChars;
          const event: SessionEvent = {
            ...base(),
            kind: "tool_call",
            name: call.name,
            args: call.args ?? {},
            result: truncated ? full.slice(0, maxToolResultChars) : full,
            resultChars: full.length,
            truncated,
            ...(call.error !== undefined ? { error: call.error } : {}),
            ...(call.durationMs !== undefined ? { durationMs: call.durationMs } : {}),
          };
          telemetry.toolCall(event);
          push(entry, event);
        }),
      modelUsage: (usage) =>
        live("modelUsage", () => {
          const event: SessionEvent = {
            ...base(),
            kind: "model_usage",
            provider: usage.provider,
            model: usage.model,
            operation: usage.operation ?? "chat",
            inputTokens: count(usage.inputTokens),
            outputTokens: count(usage.outputTokens),
            costUsd: costOf(usage.costUsd),
            ...(usage.durationMs !== undefined ? { durationMs: usage.durationMs } : {}),
            ...(usage.finishReason !== undefined ? { finishReason: usage.finishReason } : {}),
          };
          record.inputTokens += event.inputTokens;
          record.outputTokens += event.outputTokens;
          record.costUsd += event.costUsd;
          telemetry.modelUsage(event);
          push(entry, event);
        }),
      decision: (input) =>
        live("decision", () => {
          const decision: DecisionInput = {
            ...input,
            confidence: unit(input.confidence),
            ...(input.riskScore !== undefined ? { riskScore: unit(input.riskScore) } : {}),
          };
          if (decision.symbol === undefined && record.symbol !== undefined) decision.symbol = record.symbol;
          record.decision = decision;
          if (decision.symbol !== undefined) record.symbol = decision.symbol;
          telemetry.decision(decision);
          push(entry, { ...base(), kind: "decision", ...decision });
        }),
      end: (status = "completed", error) =>
        live("end", () => {
          record.status = status;
          record.endedAtMs = clock.now();
          if (error !== undefined) record.error = error;
          telemetry.end(record);
          open.delete(record.id);
          dirty.set(record.id, record);
        }),
    };
  }

  async function writeOnce(): Promise<void> {
    if (buffer.length === 0 && dirty.size === 0) return;
    const events = buffer;
    const sessions = [...dirty.values()].map((s) => ({ ...s }));
    buffer = [];
    dirty.clear();
    try {
      if (!initialized) {
        await store.init();
        initialized = true;
      }
      await store.write({ sessions, events });
      stats.written += events.length;
      if (failing) {
        failing = false;
        logger.info("decision store recovered", { component: "decisions", store: store.kind });
      }
      options.health?.report("decisions", { state: "up", detail: `${store.kind} store` });
    } catch (error) {
      stats.writeFailures += 1;
      stats.lastError = describeError(error);
      // Put the batch back in front of anything recorded meanwhile, within the buffer bound.
      const merged = [...events, ...buffer];
      const excess = Math.max(0, merged.length - maxBufferedEvents);
      stats.dropped += excess;
      buffer = merged.slice(excess);
      for (const session of sessions)
        if (!dirty.has(session.id)) dirty.set(session.id, open.get(session.id)?.record ?? session);
      if (!failing) {
        failing = true;
        logger.warn("decision store write failed; events stay buffered and are retried", {
          component: "decisions",
          store: store.kind,
          error: stats.lastError,
        });
      }
      options.health?.report("decisions", { state: "degraded", detail: `write failed: ${stats.lastError}` });
    }
  }

  function flush(): Promise<void> {
    // One write at a time; a flush asked for during a write runs after it.
    const next = (flushing ?? Promise.resolve()).then(writeOnce);
    flushing = next;
    void next.finally(() => {
      if (flushing === next) flushing = undefined;
    });
    return next;
  }

  const scheduleFlush = () => {
    flushTimer = clock.setTimeout(() => {
      // Background loop: flush never rejects; the next round is armed when this one is done.
      void flush().then(() => {
        if (!stopped) scheduleFlush();
      });
    }, flushIntervalMs);
  };

  async function runRetention(): Promise<number> {
    try {
      if (!initialized) {
        await store.init();
        initialized = true;
      }
      const removed = await store.deleteOlderThan(clock.now() - retentionMs);
      if (removed > 0)
        logger.info("decision sessions past retention deleted", {
          component: "decisions",
          sessions: removed,
        });
      return removed;
    } catch (error) {
      logger.warn("decision retention cleanup failed", {
        component: "decisions",
        error: describeError(error),
      });
      return 0;
    }
  }

  const scheduleRetention = (delayMs: number) => {
    retentionTimer = clock.setTimeout(() => {
      void runRetention().then(() => {
        if (!stopped) scheduleRetention(retentionIntervalMs);
      });
    }, delayMs);
  };

  return {
    startSession,
    reader: store,
    start() {
      if (started || stopped) return;
      started = true;
      scheduleFlush();
      // First cleanup soon after start (not in the start-up path), then every interval.
      scheduleRetention(Math.min(retentionIntervalMs, 10_000));
    },
    flush,
    runRetention,
    stats: () => ({ ...stats, buffered: buffer.length }),
    shutdown() {
      stopped ??= (async () => {
        if (flushTimer) clock.clearTimeout(flushTimer);
        if (retentionTimer) clock.clearTimeout(retentionTimer);
        await flush();
        await store.close().catch(() => undefined);
      })();
      return stopped;
    },
  };
}

function safeJson(value: unknown): string {
  try {
    // undefined for undefined, a function or a symbol, whatever lib.d.ts says
    const json: unknown = JSON.stringify(value);
    return typeof json === "string" ? json : String(value);
  } catch {
    return String(value);
  }
}
