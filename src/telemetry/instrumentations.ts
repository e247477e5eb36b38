import type { IncomingMessage } from "node:http";
import type { Instrumentation } from "@opentelemetry/instrumentation";
import type { Config } from "../config/schema.js";
import type { KNOWN_INSTRUMENTATIONS } from "../config/sections/telemetry.js";
import { hasOptionalPackage } from "../optional.js";
import { CcxtInstrumentation } from "./ccxt/instrumentation.js";
import { insideCcxtAttempt } from "./ccxt/patch.js";
import { caseVariants, redactQuery, redactUrl } from "./redact-url.js";

export type InstrumentationName = (typeof KNOWN_INSTRUMENTATIONS)[number];

/** Package and exported class of each instrumentation the config may name. */
export const INSTRUMENTATION_PACKAGES: Readonly<
  Record<InstrumentationName, { pkg: string; className: string }>
> = {
  http: { pkg: "@opentelemetry/instrumentation-http", className: "HttpInstrumentation" },
  express: { pkg: "@opentelemetry/instrumentation-express", className: "ExpressInstrumentation" },
  winston: { pkg: "@opentelemetry/instrumentation-winston", className: "WinstonInstrumentation" },
  undici: { pkg: "@opentelemetry/instrumentation-undici", className: "UndiciInstrumentation" },
  pg: { pkg: "@opentelemetry/instrumentation-pg", className: "PgInstrumentation" },
  dns: { pkg: "@opentelemetry/instrumentation-dns", className: "DnsInstrumentation" },
  net: { pkg: "@opentelemetry/instrumentation-net", className: "NetInstrumentation" },
  fs: { pkg: "@opentelemetry/instrumentation-fs", className: "FsInstrumentation" },
  ioredis: { pkg: "@opentelemetry/instrumentation-ioredis", className: "IORedisInstrumentation" },
  redis: { pkg: "@opentelemetry/instrumentation-redis", className: "RedisInstrumentation" },
  mongodb: { pkg: "@opentelemetry/instrumentation-mongodb", className: "MongoDBInstrumentation" },
  mysql2: { pkg: "@opentelemetry/instrumentation-mysql2", className: "MySQL2Instrumentation" },
  grpc: { pkg: "@opentelemetry/instrumentation-grpc", className: "GrpcInstrumentation" },
  // ticktrace's own (src/telemetry/ccxt); created directly, not loaded by package name
  ccxt: { pkg: "ticktrace", className: "CcxtInstrumentation" },
};

/** What the undici instrumentation sees of a request. */
interface UndiciRequestLike {
  origin?: string;
  path?: string;
}

/**
 * Redacted `url.full` / `url.query` for an undici request whose URL carries a sensitive query
 * parameter; the instrumentation lets these override the attributes it computed. Undefined
 * (nothing to override) for the common request without a query.
 */
export function undiciRedactedAttributes(request: UndiciRequestLike): Record<string, string> | undefined {
  const path = request.path ?? "";
  const q = path.indexOf("?");
  if (q === -1) return undefined;
  const query = path.slice(q);
  const redacted = redactQuery(query);
  if (redacted === query) return undefined;
  return {
    "url.full": redactUrl(`${request.origin ?? ""}${path}`),
    "url.query": redacted,
  };
}

/** Routes whose requests are not traced: scrapes and probes would otherwise flood the trace store. */
export const UNTRACED_PATHS: readonly string[] = ["/health", "/metrics"];

/** Whether an incoming request is a health probe or a metrics scrape. */
export function isUntracedRequest(url: string | undefined): boolean {
  const path = (url ?? "").split("?")[0] ?? "";
  return UNTRACED_PATHS.some((prefix) => path === prefix || path.startsWith(`${prefix}/`));
}

/** Options each instrumentation is created with. */
function optionsFor(name: InstrumentationName, config: Config): Record<string, unknown> {
  switch (name) {
    case "http": {
      // Exact names for the HTTP instrumentation's matcher: each sensitive name in its usual spellings.
      const redacted = caseVariants();
      return {
        ignoreIncomingRequestHook: (request: IncomingMessage) => isUntracedRequest(request.url),
        // a ccxt attempt already has its own span (with the exchange's attributes)
        ignoreOutgoingRequestHook: () => insideCcxtAttempt(),
        redactedQueryParams: redacted,
        redactedQueryParamsServer: redacted,
      };
    }
    case "undici":
      return {
        ignoreRequestHook: () => insideCcxtAttempt(),
        startSpanHook: (request: UndiciRequestLike) => undiciRedactedAttributes(request),
      };
    case "ccxt":
      return {};
    case "winston":
      // Log records reach the collector through this instrumentation's transport only, once;
      // the logger factory adds the transport itself only where this patch did not.
      return { disableLogSending: !config.telemetry.logs.enabled };
    case "fs":
      return { requireParentSpan: true };
    default:
      return {};
  }
}

/**
 * Creates the allow-listed instrumentations (`telemetry.instrumentations`). Packages that are
 * not installed are skipped with a one-line warning rather than failing start-up.
 */
export function loadInstrumentations(
  config: Config,
  load: (pkg: string) => unknown = defaultLoad,
): { instrumentations: Instrumentation[]; loaded: string[]; warnings: string[] } {
  const instrumentations: Instrumentation[] = [];
  const loaded: string[] = [];
  const warnings: string[] = [];
  for (const name of new Set(config.telemetry.instrumentations)) {
    const entry = INSTRUMENTATION_PACKAGES[name];
    // pg and its instrumentation are optional packages: a bot without pg has nothing to instrument.
    if (name === "pg" && !hasOptionalPackage("pg")) continue;
    if (name === "ccxt") {
      // Ours, and cheap: nothing of ccxt is loaded until the bot requires it.
      instrumentations.push(new CcxtInstrumentation());
      loaded.push(name);
      continue;
    }
    let exported: unknown;
    try {
      exported = load(entry.pkg);
    } catch (error) {
      const notInstalled = (error as NodeJS.ErrnoException).code === "MODULE_NOT_FOUND";
      warnings.push(
        notInstalled
          ? `instrumentation "${name}" skipped: package ${entry.pkg} is not installed (npm install ${entry.pkg})`
          : `instrumentation "${name}" skipped: ${entry.pkg} failed to load (${(error as Error).message.split("\n")[0] ?? ""})`,
      );
      continue;
    }
    const Ctor = (exported as Record<string, unknown> | undefined)?.[entry.className];
    if (typeof Ctor !== "function") {
      warnings.push(`instrumentation "${name}" skipped: ${entry.pkg} does not export ${entry.className}`);
      continue;
    }
    instrumentations.push(
      new (Ctor as new (options: Record<string, unknown>) => Instrumentation)(optionsFor(name, config)),
    );
    loaded.push(name);
  }
  return { instrumentations, loaded, warnings };
}

function defaultLoad(pkg: string): unknown {
  // Instrumentation packages are optional: load by name at run time so a missing one is a warning.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(pkg);
}
