/**
 * The preload: `node --require ticktrace/tracing app.js` (or `--require ./dist/tracing.js`).
 * The only module with side effects on import. It reads `config.yaml`, starts the OpenTelemetry
 * SDK before the application loads anything it instruments, then the logger, health server and
 * instruments, the trading event hub and, as they are first used, alerts, monitoring, decisions
 * and the Telegram bot, and makes them available to the application through `getRuntime()`. SIGTERM,
 * SIGINT and the natural end of the process flush telemetry through the idempotent shutdown.
 *
 * A bad config prints one line and exits with status 2.
 *
 * Only the main thread is instrumented. Worker threads inherit `--require`/`--import` (the ESM
 * loader's hooks thread, the tick-trace exporter, a bot's own workers), and a second runtime
 * there would bind a second health server and contend for the alert outbox.
 */
import { isMainThread } from "node:worker_threads";
import { exitOnConfigError, loadConfig } from "./config/load.js";
import type { Config } from "./config/schema.js";
import { describeError } from "./errors.js";
import { checkOptionalPackages } from "./optional.js";
import { entryIsEsm, registerEsmHook } from "./telemetry/esm-hook.js";
import { startTelemetrySdk, type TelemetrySdk } from "./telemetry/sdk.js";
import type * as StartModule from "./runtime/start.js";

function startPreload(): void {
  let config: Config;
  try {
    const loaded = loadConfig();
    config = loaded.config;
    // `bot.enabled: true` without grammy, `decisions.store: postgres` without pg: exit 2 now, not mid-run.
    checkOptionalPackages(config, loaded.file);
  } catch (error) {
    exitOnConfigError(error);
  }

  // An ES-module bot (`"type": "module"`, `.mjs`) imports ccxt through the ESM loader, which
  // require hooks do not see: the loader hook is registered for ccxt alone, before the bot loads.
  if (config.telemetry.enabled && config.telemetry.instrumentations.includes("ccxt")) {
    const when = config.telemetry.ccxt.esm_hook;
    const esmEntry = entryIsEsm() || process.execArgv.some((arg) => arg.startsWith("--import"));
    if (when === "always" || (when === "auto" && esmEntry)) registerEsmHook(["ccxt"]);
  }

  // Instrumentations patch modules as they are first required, so the SDK starts before the
  // logger (winston) and the health server (node:http) are loaded: `start.js` is required only now.
  let sdk: TelemetrySdk;
  try {
    sdk = startTelemetrySdk(config);
  } catch (error) {
    // Telemetry must never take the bot down: report it in one line and run without it.
    process.stderr.write(
      `ticktrace: telemetry could not start (${describeError(error)}); running without it\n`,
    );
    sdk = startTelemetrySdk({ ...config, telemetry: { ...config.telemetry, enabled: false } });
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createRuntime } = require("./runtime/start.js") as typeof StartModule;
  const runtime = createRuntime(config, { sdk, registerGlobal: true });

  runtime.ready.catch((error: unknown) => {
    process.stderr.write(`ticktrace: ${describeError(error)}\n`);
    // Another process holding the alert outbox is a configuration mistake (alerts.outbox.dir):
    // exit 2 as config errors do; a port that cannot be bound exits 1.
    const code = error instanceof Error && error.name === "OutboxLockedError" ? 2 : 1;
    void runtime.shutdown().finally(() => process.exit(code));
  });

  const SIGNAL_EXIT_CODES: Readonly<Record<string, number>> = { SIGINT: 130, SIGTERM: 143 };

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => {
      // Exit only after telemetry is flushed; the shutdown is bounded by telemetry.shutdown_timeout_ms.
      void runtime.shutdown().finally(() => process.exit(SIGNAL_EXIT_CODES[signal]));
    });
  }

  process.once("beforeExit", () => {
    // The application finished: flush once, then exit with its code (an exporter still retrying
    // must not keep the process alive past telemetry.shutdown_timeout_ms).
    void runtime.shutdown().finally(() => process.exit());
  });
}

if (isMainThread) startPreload();
