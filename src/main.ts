/**
 * The demo entry run by `npm start` (`node --require ./dist/tracing.js dist/main.js`): the
 * reference trading process with one of the incident scenarios.
 *
 *   npm start -- --scenario flash-crash --duration 30 --seed 7 --config config.yaml
 *
 * The composition root: the runtime (from the preload, or started here), the demo's trading
 * side (`trading/demo.ts`), and the wiring sections for alerts, monitoring, decisions and bot.
 */
import { parseArgs } from "node:util";
import { attachTradingAlerts, createAlerting } from "./alerting/index.js";
import { exitOnConfigError, loadConfig } from "./config/index.js";
import { startTelegramBotFromConfig } from "./bot/index.js";
import { demoBotProviders } from "./demo/bot-providers.js";
import { createDecisionRecorderFromConfig, createQuoteDecisionAdapter } from "./decisions/index.js";
import { describeError } from "./errors.js";
import { startMonitoring } from "./monitoring/index.js";
import { getRuntime, startRuntime } from "./telemetry/start.js";
import type { Runtime } from "./telemetry/runtime.js";
import { createTradingEvents } from "./events/trading-events.js";
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
    fail(`--duration must be a positive number of seconds, got "${values.duration}"`);
  const seed = Number(values.seed);
  if (!Number.isInteger(seed)) fail(`--seed must be an integer, got "${values.seed}"`);
  return { scenario, duration, seed };
}

async function main(): Promise<void> {
  const cli = parseCli();
  let runtime: Runtime | undefined = getRuntime();
  const preloaded = runtime !== undefined;
  if (!runtime) {
    let config;
    try {
      config = loadConfig().config;
    } catch (error) {
      exitOnConfigError(error);
    }
    runtime = await startRuntime(config);
  }
  const rt = runtime;
  const log = rt.logger.child({ component: "main" });
  const events = createTradingEvents({
    onListenerError: (event, error) =>
      log.warn("event listener failed", { event, error: describeError(error) }),
  });

  // --- alerts ---
  // Registered first, so it shuts down last: alerts raised while stopping are still delivered.
  const alerting = createAlerting(rt.config, { logger: rt.logger, health: rt.health, metrics: rt.metrics });
  const tradingAlerts = attachTradingAlerts({
    events,
    alerter: alerting.manager,
    config: rt.config,
    health: rt.health,
  });
  rt.onShutdown(async () => {
    tradingAlerts.stop();
    await alerting.shutdown();
  });

  // --- monitoring ---
  // Rules on every tick (off the tick path), snapshots, retention, and acks from `ticktrace monitor ack`.
  const monitoring = startMonitoring(rt.config, {
    alerter: alerting.manager,
    logger: rt.logger,
    metrics: rt.metrics,
    health: rt.health,
  });
  if (monitoring) rt.onShutdown(() => monitoring.shutdown());
  const onTick = monitoring?.recordTick;

  // --- decisions & bot ---
  const recorder = createDecisionRecorderFromConfig(rt.config.decisions, {
    tracer: rt.tracer,
    metrics: rt.metrics,
    logger: rt.logger,
    health: rt.health,
  });
  // Registered before the demo's hook, so it runs after it: the last decisions are written.
  if (recorder) rt.onShutdown(() => recorder.shutdown());
  const decisionRecorder = recorder
    ? createQuoteDecisionAdapter(recorder, { strategyId: rt.config.trading.strategy.id })
    : undefined;

  const demo = await startDemo({
    runtime: rt,
    scenario: cli.scenario,
    seed: cli.seed,
    events,
    ...(decisionRecorder ? { decisionRecorder } : {}),
    ...(onTick ? { onTick } : {}),
  });

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
        openAlerts: alerting.manager.active().length,
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

  // --- decisions & bot (continued): the bot reads the running demo; it stops first at shutdown.
  const bot = startTelegramBotFromConfig(rt.config, {
    ...demoBotProviders(demo, { strategyId: rt.config.trading.strategy.id }),
    ...(recorder ? { decisions: recorder.reader } : {}),
    alerter: alerting.manager,
    health: rt.health,
    logger: rt.logger,
  });
  if (bot) rt.onShutdown(() => bot.shutdown());

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
  process.exit(1);
});
