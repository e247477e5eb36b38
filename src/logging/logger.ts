import { trace } from "@opentelemetry/api";
import { OpenTelemetryTransportV3 } from "@opentelemetry/winston-transport";
import winston from "winston";

export type Logger = winston.Logger;

/** Ids a log entry carries as fields when they apply, so logs can be searched by them. */
export interface LogFields {
  component?: string;
  user_id?: string;
  order_id?: string;
  position_id?: string;
  strategy_id?: string;
  exchange?: string;
  symbol?: string;
  [key: string]: unknown;
}

export interface CreateLoggerOptions {
  level?: "error" | "warn" | "info" | "debug";
  /** `json` for production (one object per line), `pretty` for a terminal. */
  format?: "json" | "pretty";
  /** Fields on every entry; `component` defaults to "app". */
  defaultMeta?: LogFields;
  /**
   * ANSI colours in the `pretty` format. Default: only when the console transport writes to a
   * terminal (stdout is a TTY), so a log redirected to a file stays plain text; `NO_COLOR` turns
   * them off and `FORCE_COLOR` (not `0`) on. Off by default with custom `transports`.
   */
  color?: boolean;
  /** Replaces the console transport (tests pass a stream transport). */
  transports?: winston.transport[];
  /** Service name added to every entry. */
  service?: string;
  /**
   * Also send every entry to the OpenTelemetry logs SDK (and so to the collector), exactly once:
   * when the winston instrumentation already attached its transport, no second one is added.
   */
  otel?: boolean;
}

/**
 * Adds `trace_id` and `span_id` of the active span, so a log line leads to its trace in Tempo.
 * Done here (not only by the winston instrumentation) so it also holds in tests and in
 * processes started without the preload.
 */
const traceContext = winston.format((info) => {
  const span = trace.getActiveSpan();
  if (span) {
    const context = span.spanContext();
    if (trace.isSpanContextValid(context)) {
      info.trace_id = context.traceId;
      info.span_id = context.spanId;
    }
  }
  return info;
});

/**
 * Fields every entry carries unless the entry (or a child logger) sets them. winston's own
 * `defaultMeta` would override a child's `component`, so defaults are applied here instead.
 */
const defaults = winston.format((info, opts: unknown) => {
  const meta = opts as Record<string, unknown>;
  for (const [key, value] of Object.entries(meta)) if (info[key] === undefined) info[key] = value;
  return info;
});

/** Drops undefined fields so JSON lines stay compact and stable. */
const compact = winston.format((info) => {
  for (const key of Object.keys(info)) if (info[key] === undefined) Reflect.deleteProperty(info, key);
  return info;
});

const prettyLine = winston.format.printf((info) => {
  const { timestamp, level, message, component, ...rest } = info as Record<string, unknown>;
  const extras = Object.entries(rest)
    .filter(([key]) => typeof key === "string" && key !== "service")
    .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`)
    .join(" ");
  return `${String(timestamp)} ${String(level)} [${typeof component === "string" ? component : "app"}] ${typeof message === "string" ? message : JSON.stringify(message)}${extras ? ` ${extras}` : ""}`;
});

/**
 * The logger factory. Every entry has `component`; use `logger.child({ component: "risk" })`
 * for a part of the process and pass ids as fields, never inside the message text.
 */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const format = options.format ?? "json";
  const color = options.color ?? (options.transports === undefined && consoleIsColorTerminal());
  const logger = winston.createLogger({
    level: options.level ?? "info",
    format: winston.format.combine(
      defaults({
        component: "app",
        ...(options.service ? { service: options.service } : {}),
        ...options.defaultMeta,
      }),
      winston.format.timestamp(),
      traceContext(),
      compact(),
      format === "json"
        ? winston.format.json()
        : color
          ? winston.format.combine(winston.format.colorize(), prettyLine)
          : prettyLine,
    ),
    transports: options.transports ?? [new winston.transports.Console({ stderrLevels: [] })],
  });
  if (options.otel && !hasOtelTransport(logger)) logger.add(new OpenTelemetryTransportV3());
  return logger;
}

/** Whether the console (stdout) wants colours: `FORCE_COLOR`, else a TTY without `NO_COLOR`. */
function consoleIsColorTerminal(env: NodeJS.ProcessEnv = process.env): boolean {
  const force = env.FORCE_COLOR;
  if (force !== undefined && force !== "") return force !== "0" && force !== "false";
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  return process.stdout.isTTY;
}

/** Whether the logger already sends to the OpenTelemetry logs SDK (the winston instrumentation adds this transport). */
export function hasOtelTransport(logger: Logger): boolean {
  return logger.transports.some(
    (transport) =>
      transport instanceof OpenTelemetryTransportV3 ||
      transport.constructor.name === "OpenTelemetryTransportV3",
  );
}

/** A logger that writes nothing; for tests and for library code given no logger. */
export function createSilentLogger(): Logger {
  return winston.createLogger({
    silent: true,
    transports: [new winston.transports.Console({ silent: true })],
  });
}
