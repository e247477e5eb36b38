/**
 * The demo entry run by `npm start` (`node --require ./dist/tracing.js dist/main.js`): the
 * reference trading process with one of the incident scenarios.
 *
 *   npm start -- --scenario flash-crash --duration 30 --seed 7 --config config.yaml
 *
 * Thin on purpose: the runtime (from the preload, or started here) is the composition root and
 * owns alerts, monitoring, decisions and the bot, as it does for a user's bot; this file adds the
 * demo's trading side (`trading/demo.ts`), its status line and what the bot reads from it.
 */
import { parseArgs } from "node:util";
import { demoBotProviders } from "./demo/bot-providers.js";
import { exitOnConfigError, loadConfig } from "./config/load.js";
import { createQuoteDecisionAdapter } from "./demo/quote-decisions.js";
import { describeError } from "./errors.js";
import { checkOptionalPackages } from "./optional.js";
import { currentRuntime, startRuntime } from "./runtime/start.js";
import type { Runtime } from "./runtime/runtime.js";
import { formatSummary, startDemo } from "./demo/demo.js";
import { isScenario, SCENARIOS } from "./demo/scenarios.js";
import { startStatus } from "./demo/status.js";

const USAGE = `usage: npm start -- [--scenario ${SCENARIOS.join("|")}] [--duration SECONDS] [--seed N] [--config FILE]`;

function fail(message: string): never {
  process.stderr.write(`ticktrace demo: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function parseCli() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        scenario: { type: "string", default: "calm" },
        duration: { type: "string" },
        seed: { type: "string", default: "42" },
        config: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    fail(describeError(error));
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const scenario = values.scenario;
  if (!isScenario(scenario))
    fail(`unknown scenario "${scenario}" (expected one of: ${SCENARIOS.join(", ")})`);
  const duration = values.duration === undefined ? undefined : Number(values.duration);
  if (duration !== undefined && !(duration > 0))
    fail(`--duration must be a positive number of seconds, got "${String(values.duration)}"`);
  const seed = Number(values.seed);
  if (!Number.isInteger(seed)) fail(`--seed must be an integer, got "${values.seed}"`);
  return { scenario, duration, seed };
}

async function main(): Promise<void> {
  const cli = parseCli();
  let runtime: Runtime | undefined = currentRuntime();
  const preloaded = runtime !== undefined;
  if (!runtime) {
    let config;
    try {
      config = loadConfig().config;
      checkOptionalPackages(config);
    } catch (error) {
      exitOnConfigError(error);
    }
    runtime = await startRuntime(config);
  }
  const rt = runtime;

  // The runtime owns the event hub, alerts, monitoring, decisions and the bot (one composition
  // root for the demo and a user's bot); the demo adds only its trading side and what the bot reads.
  let recorder;
  try {
    recorder = rt.decisions;
  } catch (error) {
    // A store whose optional package is missing: a config error, exit 2.
    exitOnConfigError(error);
  }
  const decisionRecorder = recorder
    ? createQuoteDecisionAdapter(recorder, { strategyId: rt.config.trading.strategy.id })
    : undefined;
  const onTick = rt.monitoring?.recordTick;

  const demo = await startDemo({
    runtime: rt,
    scenario: cli.scenario,
    seed: cli.seed,
    ...(decisionRecorder ? { decisionRecorder } : {}),
    ...(onTick ? { onTick } : {}),
  });
  rt.bot.provide(demoBotProviders(demo, { strategyId: rt.config.trading.strategy.id }));

  const stopStatus = startStatus({
    read: () => {
      const totals = demo.positions.totals();
      return {
        scenario: cli.scenario,
        ticks: demo.orchestrator.ticks,
        positions: demo.positions.all().map((p) => ({ symbol: p.symbol, quantity: p.quantity })),
        pnl: totals.realized + totals.unrealized,
        dailyPnl: totals.daily,
        breakerActive: demo.risk.breakerActive,
        connected: demo.client.isConnected,
        strategyState: demo.orchestrator.strategyState,
        openAlerts: rt.alerts.active().length,
      };
    },
    ...(process.stdout.isTTY ? { tty: process.stdout } : {}),
    logger: rt.logger,
    logIntervalMs: rt.config.trading.scenario.status_interval_ms,
  });

  rt.onShutdown(async () => {
    const summary = demo.summary();
    stopStatus();
    await demo.stop();
    process.stdout.write(`${formatSummary(summary)}\n`);
  });

  const finish = (code: number) => {
    void rt.shutdown().finally(() => process.exit(code));
  };
  if (cli.duration !== undefined) {
    setTimeout(() => finish(0), cli.duration * 1000);
  }
  if (!preloaded) {
    // The preload handles signals itself; without it, this process does.
    process.once("SIGINT", () => finish(130));
    process.once("SIGTERM", () => finish(143));
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`ticktrace demo: ${describeError(error)}\n`);
  // A shared outbox is a configuration mistake (alerts.outbox.dir): exit as config errors do.
  process.exit(error instanceof Error && error.name === "OutboxLockedError" ? 2 : 1);
});
