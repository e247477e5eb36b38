/**
 * The runtime as a user's bot and its tests use it without the preload: `startRuntime(config)`,
 * then `getRuntime().events` raises alerts through the configured channels (here the JSONL log
 * and a recording channel from `ticktrace/testing`), bad payloads from JavaScript are reported
 * and repaired, never thrown, and the parts load only when used.
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../src/config/load.js";
import { requireOptional } from "../../src/optional.js";
import { createEventHub } from "../../src/runtime/event-hub.js";
import type { Runtime } from "../../src/runtime/runtime.js";
import { getRuntime, startRuntimeWith } from "../../src/runtime/start.js";
import { createRecordingChannel } from "../../src/testing/recording-channel.js";
import { captureLogger } from "../logging/capture.js";
import { tempDir } from "../telemetry/helpers.js";
import { sourceModules } from "./source-modules.js";

const runtimes: Runtime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((runtime) => runtime.shutdown()));
});

async function start(overrides: Record<string, unknown> = {}) {
  const dir = tempDir("runtime");
  const channel = createRecordingChannel();
  const { logger, entries } = captureLogger();
  const config = parseConfig(
    {
      health: { port: 0 },
      telemetry: { enabled: false },
      alerts: { jsonl: { dir: join(dir, "alerts") }, outbox: { dir: join(dir, "outbox") } },
      monitoring: { enabled: false },
      decisions: { enabled: false },
      ...overrides,
    },
    { file: "test.yaml" },
  );
  const runtime = await startRuntimeWith(config, { logger, channels: [channel], modules: sourceModules });
  runtimes.push(runtime);
  return { runtime, channel, entries, dir };
}

describe("the runtime's event hub", () => {
  it("getRuntime().events.circuitBreakerTripped reaches the configured channels (JSONL and a custom one)", async () => {
    const { channel, dir } = await start();
    const tt = getRuntime();
    tt.events.circuitBreakerTripped({
      breaker: "daily_loss",
      reason: "limit hit",
      dailyPnl: -1600,
      limit: 1500,
    });
    const delivered = await channel.waitFor((d) => d.alert.rule === "circuit_breaker_tripped");
    expect(delivered.alert).toMatchObject({
      level: "CRITICAL",
      labels: { breaker: "daily_loss" },
      message: "Breaker daily_loss tripped: limit hit. Daily PnL -1,600 against a limit of 1,500.",
    });
    expect(tt.alerts.channelNames()).toEqual(["log", "jsonl", "recording"]);
    await tt.shutdown();
    const files = readdirSync(join(dir, "alerts"));
    const lines = files.flatMap((file) =>
      readFileSync(join(dir, "alerts", file), "utf8")
        .trim()
        .split("\n"),
    );
    expect(lines.map((line) => JSON.parse(line) as { rule: string; event: string })).toContainEqual(
      expect.objectContaining({ rule: "circuit_breaker_tripped", event: "firing" }),
    );
  });

  it("a bad payload from JavaScript: one log line naming the event and the fields, the alert still raised, nothing thrown", async () => {
    const { runtime, channel, entries } = await start();
    const untyped = runtime.events as unknown as Record<string, (payload: unknown) => void>;
    expect(() => untyped.circuitBreakerTripped!({ breaker: "daily_loss", dailyPnl: "-1600" })).not.toThrow();
    const delivered = await channel.waitFor((d) => d.alert.rule === "circuit_breaker_tripped");
    expect(delivered.alert.message).toBe(
      "Breaker daily_loss tripped: unknown. Daily PnL -1,600 against a limit of NaN.",
    );
    const warnings = entries().filter(
      (entry) => entry.level === "warn" && entry.event === "circuitBreakerTripped",
    );
    expect(warnings.map((entry) => entry.message)).toEqual([
      'event circuitBreakerTripped: reason must be a string (got undefined); dailyPnl must be a number (got "-1600"); limit must be a number (got undefined)',
    ]);
    expect(() => untyped.fill!(undefined)).not.toThrow();
    expect(() => runtime.events.emit("noSuchEvent" as "fill", {} as never)).not.toThrow();
    expect(entries().map((entry) => entry.message)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^event fill: the payload must be an object \(got undefined\); exchange must be a string/,
        ),
        expect.stringMatching(/^event noSuchEvent: unknown event \(expected one of circuitBreakerTripped, /),
      ]),
    );
  });

  it("a listener that throws is logged and the next one still runs", () => {
    const problems: string[] = [];
    const hub = createEventHub({
      onInvalidPayload: (event, problem) => problems.push(`${event}: ${problem}`),
      onListenerError: (event, error) => problems.push(`${event} listener: ${String(error)}`),
    });
    const seen: string[] = [];
    hub.on("workerFailed", () => {
      throw new Error("boom");
    });
    hub.on("workerFailed", (e) => seen.push(e.worker));
    hub.workerFailed({ worker: "feed", error: "stalled" });
    expect(seen).toEqual(["feed"]);
    expect(problems).toEqual(["workerFailed listener: Error: boom"]);
  });

  it("a valid payload is passed on as it is (no copy), an optional field of the wrong type is dropped", () => {
    const got: unknown[] = [];
    const hub = createEventHub({ onInvalidPayload: () => undefined, onListenerError: () => undefined });
    hub.on("strategyPanic", (e) => got.push(e));
    const payload = { strategy: "mm-1", error: "NaN quote" };
    hub.strategyPanic(payload);
    hub.strategyPanic({ strategy: "mm-1", error: "x", traceId: 42 } as never);
    expect(got[0]).toBe(payload);
    expect(got[1]).toEqual({ strategy: "mm-1", error: "x" });
  });
});

describe("the runtime's parts", () => {
  it("the alert module starts with the runtime (outbox lock taken, nothing raised); addChannel then refuses with the fix", async () => {
    const { runtime, dir } = await start();
    // Started once the servers listened: the outbox and its lock exist before any alert.
    expect(existsSync(join(dir, "outbox", "lock"))).toBe(true);
    expect(runtime.alerts.active()).toEqual([]);
    expect(runtime.alerts.channelNames()).toEqual(["log", "jsonl", "recording"]);
    expect(() => runtime.alerts.addChannel(createRecordingChannel({ name: "late" }))).toThrow(
      'alerts.addChannel("late"): the alert module has already started; add channels on the first lines of the program (before the runtime is ready), or pass them to startRuntime as the channels option',
    );
  });

  it("startRuntime refuses a second registered runtime, naming the fix", async () => {
    await start();
    const { logger } = captureLogger();
    await expect(
      startRuntimeWith(parseConfig({ health: { port: 0 }, telemetry: { enabled: false } }, { file: "t" }), {
        logger,
      }),
    ).rejects.toThrow(
      "startRuntime: a ticktrace runtime is already running in this process (the preload starts one); use getRuntime(), or pass registerGlobal: false for a second one",
    );
  });

  it("monitoring and decisions are undefined when off; the recorder is created on first use when on", async () => {
    const { runtime } = await start({ decisions: { enabled: true, sqlite_path: ":memory:" } });
    expect(runtime.monitoring).toBeUndefined();
    const recorder = runtime.decisions;
    expect(recorder).toBeDefined();
    expect(runtime.decisions).toBe(recorder);
  });

  it("an optional package that is missing is a config error naming the key, the package and the fix", () => {
    expect(() =>
      requireOptional("ticktrace-no-such-package", {
        key: "decisions.store",
        because: 'is "sqlite"',
        orElse: "set decisions.enabled: false",
        file: "config.yaml",
      }),
    ).toThrow(
      new ConfigError(
        "config.yaml",
        "decisions.store",
        'is "sqlite", which needs the optional package ticktrace-no-such-package; install it (npm install ticktrace-no-such-package) or set decisions.enabled: false',
      ),
    );
  });
});
