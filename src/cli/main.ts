#!/usr/bin/env node
/**
 * The `ticktrace` command (the package's `bin`). Argument parsing and output only: the logic
 * lives in `src/monitoring/`, `src/alert-log/` and `src/config/`.
 */
import { ConfigError } from "../config/index.js";
import { TicktraceError } from "../errors.js";
import { MONITOR_USAGE, runMonitor } from "./monitor.js";
import type { CliIo } from "./output.js";

export const USAGE = `Usage: ticktrace <command> [options]

Commands:
  monitor <tail|status|health|metrics|ack>   Watch a running trading process (ticktrace monitor --help)

Options:
  -h, --help      This help
  -v, --version   Print the version

Run the instrumented process with: node --require ticktrace/tracing your-bot.js
`;

export interface RunCliOptions {
  io: CliIo;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  signal?: AbortSignal;
}

/**
 * Runs the CLI; returns the exit code. Known errors become one line on stderr (no stack):
 * exit 1 for runtime problems (missing directory, unknown alert id), 2 for usage and config errors.
 */
export async function runCli(argv: readonly string[], options: RunCliOptions): Promise<number> {
  const { io } = options;
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === "-h" || command === "--help" || command === "help") {
      io.stdout(USAGE);
      return command === undefined ? 2 : 0;
    }
    if (command === "-v" || command === "--version") {
      io.stdout(`${version()}\n`);
      return 0;
    }
    if (command === "monitor") {
      return await runMonitor(rest, {
        io,
        env: options.env ?? process.env,
        cwd: options.cwd ?? process.cwd(),
        ...(options.signal ? { signal: options.signal } : {}),
      });
    }
    io.stderr(`ticktrace: unknown command "${command}" (try ticktrace --help)\n`);
    return 2;
  } catch (error) {
    if (error instanceof ConfigError) {
      io.stderr(`ticktrace: config error: ${error.message}\n`);
      return 2;
    }
    if (error instanceof TicktraceError) {
      io.stderr(`ticktrace: ${error.message}\n`);
      return error.code === "INVALID_ARGUMENT" ? 2 : 1;
    }
    io.stderr(`ticktrace: unexpected error: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

function version(): string {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require("../../package.json") as { version: string }).version;
  } catch {
    return "unknown";
  }
}

export { MONITOR_USAGE };

if (require.main === module) {
  const controller = new AbortController();
  process.once("SIGINT", () => controller.abort());
  process.once("SIGTERM", () => controller.abort());
  // Broken pipes (`... | head`) end the command quietly.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(0);
  });
  void runCli(process.argv.slice(2), {
    io: { stdout: (text) => process.stdout.write(text), stderr: (text) => process.stderr.write(text) },
    signal: controller.signal,
  }).then((code) => {
    process.exitCode = code;
  });
}
