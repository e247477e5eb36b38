import type { IncomingMessage } from "node:http";
import type * as NodeModule from "node:module";
import { metrics, trace } from "@opentelemetry/api";
import { logs } from "@opentelemetry/api-logs";
import { registerInstrumentations, type Instrumentation } from "@opentelemetry/instrumentation";
import type { Config } from "../config/schema.js";
import { redact } from "../errors.js";
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

/**
 * Instrumentations created only when the application first requires a module they patch (the
 * module names of their definitions; test/telemetry/deferred-instrumentations.test.ts keeps
 * them in step with the packages). Loading each package eagerly cost start-up for modules many
 * bots never load (pg) or load later (express for `/metrics`, winston on the first log line).
 * Not deferred: http (the health server requires it at start anyway), undici (Node's own fetch
 * reports through diagnostics channels, never `require`), the core-module ones (dns, net, fs,
 * loaded long before any bot code), and the opt-in packages whose module names are not checked.
 */
export const DEFERRED_UNTIL_REQUIRED: Readonly<Partial<Record<InstrumentationName, readonly string[]>>> = {
  express: ["express"],
  winston: ["winston"],
  pg: ["pg", "pg-pool"],
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
  const pathOnly = q === -1 ? path : path.slice(0, q);
  // Telegram puts the bot token in the path (`/bot<id>:<secret>/sendMessage`), Slack the
  // webhook's secret; the collector scrubs them too, but a span must not leave the process with them.
  const origin = request.origin ?? "";
  // With the origin, so the Slack pattern (host and path) matches; the origin itself is kept.
  const redactedPath = redact(origin + pathOnly).slice(origin.length);
  const query = q === -1 ? "" : path.slice(q);
  const redactedQuery = redactQuery(query);
  if (redactedPath === pathOnly && redactedQuery === query) return undefined;
  const out: Record<string, string> = {
    "url.full": redact(redactUrl(`${origin}${path}`)),
  };
  if (redactedPath !== pathOnly) out["url.path"] = redactedPath;
  if (redactedQuery !== query) out["url.query"] = redactedQuery;
  return out;
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

/** The instrumentations of one SDK start that wait for their module's first `require`. */
export interface DeferredInstrumentations {
  /** Names still waiting. */
  readonly waiting: readonly string[];
  /** The deferred ones created so far (their modules were required). */
  readonly created: readonly Instrumentation[];
  /**
   * From now on a first require of a waiting module creates its instrumentation and registers
   * it with the global providers, before the module loads, so the module is patched.
   */
  arm(): void;
  /** Stops waiting and disables the ones created. Idempotent. */
  disarm(): void;
}

/** The result of {@link loadInstrumentations}. */
export interface LoadedInstrumentations {
  /** Created now. */
  instrumentations: Instrumentation[];
  /** Names that are on: created now, or waiting for their module. */
  loaded: string[];
  /** One line per name that was skipped. */
  warnings: string[];
  deferred: DeferredInstrumentations;
}

/**
 * Creates the allow-listed instrumentations (`telemetry.instrumentations`). Packages that are
 * not installed are skipped with a one-line warning rather than failing start-up. Those in
 * {@link DEFERRED_UNTIL_REQUIRED} are only looked up now (installed or not) and created on
 * their module's first require once `deferred.arm()` is called.
 */
export function loadInstrumentations(
  config: Config,
  load: (pkg: string) => unknown = defaultLoad,
  options: { defer?: boolean } = {},
): LoadedInstrumentations {
  const instrumentations: Instrumentation[] = [];
  const loaded: string[] = [];
  const warnings: string[] = [];
  const waiting = new Map<string, () => Instrumentation | undefined>();
  const notInstalled = (name: string, pkg: string) =>
    `instrumentation "${name}" skipped: package ${pkg} is not installed (npm install ${pkg})`;
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
    const create = (): { instrumentation?: Instrumentation; warning?: string } => {
      let exported: unknown;
      try {
        exported = load(entry.pkg);
      } catch (error) {
        return {
          warning:
            (error as NodeJS.ErrnoException).code === "MODULE_NOT_FOUND"
              ? notInstalled(name, entry.pkg)
              : `instrumentation "${name}" skipped: ${entry.pkg} failed to load (${(error as Error).message.split("\n")[0] ?? ""})`,
        };
      }
      const Ctor = (exported as Record<string, unknown> | undefined)?.[entry.className];
      if (typeof Ctor !== "function") {
        return {
          warning: `instrumentation "${name}" skipped: ${entry.pkg} does not export ${entry.className}`,
        };
      }
      return {
        instrumentation: new (Ctor as new (options: Record<string, unknown>) => Instrumentation)(
          optionsFor(name, config),
        ),
      };
    };
    if ((options.defer ?? true) && DEFERRED_UNTIL_REQUIRED[name]) {
      // Resolving is cheap (no code runs); a missing package is reported now, as before.
      if (!isResolvable(entry.pkg)) {
        warnings.push(notInstalled(name, entry.pkg));
        continue;
      }
      waiting.set(name, () => {
        const { instrumentation, warning } = create();
        // Too late for the start-up warnings: OpenTelemetry's diagnostics say it, as the SDK would.
        if (warning) process.stderr.write(`ticktrace: ${warning}\n`);
        return instrumentation;
      });
      loaded.push(name);
      continue;
    }
    const { instrumentation, warning } = create();
    if (warning) warnings.push(warning);
    if (instrumentation) {
      instrumentations.push(instrumentation);
      loaded.push(name);
    }
  }
  return { instrumentations, loaded, warnings, deferred: deferInstrumentations(waiting) };
}

function isResolvable(pkg: string): boolean {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

/** Pending first-require triggers of every armed SDK start, by module name. */
const triggers = new Map<string, Set<() => void>>();
let requireWrapped = false;

/** The package a `require` id names (`@scope/pkg/sub` -> `@scope/pkg`), or of a path into node_modules. */
function packageOf(id: string): string | undefined {
  let rest = id;
  if (id.startsWith(".") || id.startsWith("/") || /^[A-Za-z]:[\\/]/.test(id)) {
    const at = id.replace(/\\/g, "/").lastIndexOf("node_modules/");
    if (at === -1) return undefined;
    rest = id.replace(/\\/g, "/").slice(at + "node_modules/".length);
  }
  const parts = rest.split("/");
  return rest.startsWith("@") ? `${parts[0] ?? ""}/${parts[1] ?? ""}` : parts[0];
}

/**
 * Wraps `Module.prototype.require` once per process. The trigger runs before the module loads,
 * so the instrumentation it creates is registered with OpenTelemetry's require hook in time:
 * that hook looks for instrumentations after the module's code ran, whichever of the two
 * wrappers is outermost.
 */
function wrapRequire(): void {
  if (requireWrapped) return;
  requireWrapped = true;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Module = require("node:module") as typeof NodeModule & {
    prototype: { require: (this: unknown, id: string) => unknown };
  };
  // Called through apply, with the this of each call.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const original = Module.prototype.require;
  Module.prototype.require = function require(this: unknown, id: string) {
    if (triggers.size > 0 && typeof id === "string") {
      const pkg = packageOf(id);
      const pending = pkg === undefined ? undefined : triggers.get(pkg);
      if (pkg !== undefined && pending) {
        triggers.delete(pkg);
        for (const trigger of pending) trigger();
      }
    }
    // eslint-disable-next-line prefer-rest-params
    return original.apply(this, arguments as unknown as [string]);
  };
}

function deferInstrumentations(
  waiting: Map<string, () => Instrumentation | undefined>,
): DeferredInstrumentations {
  const created: Instrumentation[] = [];
  const registered: (() => void)[] = [];
  let disarmed = false;
  return {
    get waiting() {
      return [...waiting.keys()];
    },
    created,
    arm() {
      if (waiting.size === 0 || disarmed) return;
      wrapRequire();
      for (const [name, create] of waiting) {
        let done = false;
        const trigger = () => {
          if (done || disarmed) return;
          done = true;
          waiting.delete(name);
          const instrumentation = create();
          if (!instrumentation) return;
          created.push(instrumentation);
          // The providers the SDK registered before arming (or the API's no-ops once it stopped).
          registerInstrumentations({
            instrumentations: [instrumentation],
            tracerProvider: trace.getTracerProvider(),
            meterProvider: metrics.getMeterProvider(),
            loggerProvider: logs.getLoggerProvider(),
          });
        };
        for (const moduleName of DEFERRED_UNTIL_REQUIRED[name as InstrumentationName] ?? []) {
          let set = triggers.get(moduleName);
          if (!set) triggers.set(moduleName, (set = new Set()));
          set.add(trigger);
          registered.push(() => {
            const current = triggers.get(moduleName);
            current?.delete(trigger);
            if (current?.size === 0) triggers.delete(moduleName);
          });
        }
      }
    },
    disarm() {
      if (disarmed) return;
      disarmed = true;
      for (const unregister of registered) unregister();
      for (const instrumentation of created) instrumentation.disable();
    },
  };
}

function defaultLoad(pkg: string): unknown {
  // Instrumentation packages are optional: load by name at run time so a missing one is a warning.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(pkg);
}
