import { TicktraceError } from "../errors.js";
import type { Logger } from "../logging/logger.js";
import type { MarketMaker } from "../trading/strategy/market-maker.js";
import type { ExchangeSimulator } from "../trading/venues/simulator/server.js";

/** The incidents `npm start -- --scenario NAME` can stage. */
export const SCENARIOS = [
  "calm",
  "volatile",
  "flash-crash",
  "exchange-outage",
  "rate-limit-storm",
  "strategy-panic",
  "large-fill",
] as const;

export type ScenarioName = (typeof SCENARIOS)[number];

export function isScenario(name: string): name is ScenarioName {
  return (SCENARIOS as readonly string[]).includes(name);
}

export interface ScenarioOptions {
  simulator: ExchangeSimulator;
  strategy: MarketMaker;
  symbols: readonly string[];
  /** From start to the incident. */
  incidentAfterMs: number;
  /** How long outages, storms and the volatile regime last. */
  incidentDurationMs: number;
  logger: Logger;
}

/** Size of the `large-fill` bid, in usual quotes. */
export const LARGE_FILL_MULTIPLIER = 20;
/** The flash crash: every symbol drops this much over {@link CRASH_DURATION_MS}. */
export const CRASH_PCT = -25;
export const CRASH_DURATION_MS = 4_000;

/**
 * Schedules a scenario's incident on the simulator (or the strategy's fault switches) and
 * returns a function that cancels what has not happened yet. Timers are unref'd.
 */
export function scheduleScenario(name: ScenarioName, options: ScenarioOptions): () => void {
  const { simulator, strategy, logger, incidentAfterMs, incidentDurationMs } = options;
  const log = logger.child({ component: "scenario", scenario: name });
  const timers: NodeJS.Timeout[] = [];
  const at = (ms: number, what: string, fn: () => void) => {
    const timer = setTimeout(() => {
      log.warn(`scenario: ${what}`);
      fn();
    }, ms);
    timer.unref();
    timers.push(timer);
  };
  const end = incidentAfterMs + incidentDurationMs;
  const [first] = options.symbols;
  if (first === undefined) {
    throw new TicktraceError("INVALID_ARGUMENT", `scenario ${name}: no symbols; pass the traded symbols`);
  }
  switch (name) {
    case "calm":
      break;
    case "volatile":
      at(incidentAfterMs, "volatility regime shift: volatile", () => simulator.setRegime("volatile"));
      at(end, "volatility back to calm", () => simulator.setRegime("calm"));
      break;
    case "flash-crash":
      at(incidentAfterMs, `flash crash: ${CRASH_PCT}% in ${CRASH_DURATION_MS / 1000}s`, () =>
        simulator.crash(CRASH_PCT, CRASH_DURATION_MS),
      );
      break;
    case "exchange-outage":
      at(
        incidentAfterMs,
        `exchange outage for ${incidentDurationMs / 1000}s: REST silent, stream dropped`,
        () => simulator.startOutage(incidentDurationMs),
      );
      at(end, "exchange outage over", () => undefined);
      break;
    case "rate-limit-storm":
      at(incidentAfterMs, "rate-limit storm: bursts of 429 with retry-after 1s", () =>
        simulator.startRateLimitStorm({ burstMs: 2_000, periodMs: 3_000, retryAfterSeconds: 1 }),
      );
      at(end, "rate-limit storm over", () => simulator.endRateLimitStorm());
      break;
    case "strategy-panic":
      at(incidentAfterMs, "strategy panic: the next quote throws", () =>
        strategy.panicOnNextQuote(
          "simulated strategy bug: cannot read properties of undefined (reading 'mid')",
        ),
      );
      break;
    case "large-fill":
      at(incidentAfterMs, `large fill: next ${first} bid is ${LARGE_FILL_MULTIPLIER}x the usual size`, () =>
        strategy.enlargeBids(first, LARGE_FILL_MULTIPLIER, 1_000),
      );
      at(incidentAfterMs + 500, `large fill: ${first} sweeps down 1%`, () => simulator.jump(first, -1));
      break;
  }
  return () => {
    for (const timer of timers) clearTimeout(timer);
  };
}
