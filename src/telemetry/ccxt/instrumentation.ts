import type { Tracer } from "@opentelemetry/api";
import {
  InstrumentationBase,
  InstrumentationNodeModuleDefinition,
  type InstrumentationConfig,
} from "@opentelemetry/instrumentation";
import { patchExchange, unpatchExchange, type PatchTarget } from "./patch.js";
import type { RingSpanWriter } from "../tick-trace/ring-span-writer.js";
import type { ExchangeRecorder } from "./recorder.js";

/** The ccxt releases the instrumentation is tested against (see docs/ccxt.md). */
export const SUPPORTED_CCXT_VERSIONS = [">=4.4.0 <5"];

/** Instrumentation scope name of the ccxt spans. */
export const CCXT_INSTRUMENTATION_NAME = "ticktrace-instrumentation-ccxt";
/** Instrumentation scope version of the ccxt spans. */
export const CCXT_INSTRUMENTATION_VERSION = "0.1.0";

interface ExchangeClass {
  prototype: object;
}

function exchangeClassOf(exports: unknown): ExchangeClass | undefined {
  const candidates = [exports, (exports as { default?: unknown } | undefined)?.default];
  for (const candidate of candidates) {
    const Exchange = (candidate as { Exchange?: unknown } | undefined)?.Exchange;
    if (typeof Exchange === "function") return Exchange;
  }
  return undefined;
}

/**
 * The instrumentation base reads and parses `package.json` on every file required from inside
 * the hooked package, before it looks at the file's name. ccxt is some 400 files with a 26 kB
 * `package.json`, so loading it under the preload read that file 400 times (about 100 ms of the
 * bot's start-up in a CPU profile). The version of a package directory does not change while
 * the process runs: read it once per directory. `_extractPackageVersion` is the base class's
 * own (private in its types), so this is done defensively: if it is not there, nothing changes.
 */
function memoizePackageVersion(instrumentation: object): void {
  const target = instrumentation as { _extractPackageVersion?: unknown };
  const original = target._extractPackageVersion;
  if (typeof original !== "function") return;
  const versions = new Map<string, string | undefined>();
  target._extractPackageVersion = (baseDir: string): string | undefined => {
    if (!versions.has(baseDir))
      versions.set(baseDir, (original as (dir: string) => string | undefined).call(instrumentation, baseDir));
    return versions.get(baseDir);
  };
}

/**
 * OpenTelemetry instrumentation of ccxt (npm `ccxt`, REST and `ccxt.pro` websockets), CommonJS
 * and ESM. It patches the `Exchange` base class once when the bot loads ccxt: every exchange
 * inherits the patches, and each exchange class's unified methods are wrapped when its first
 * instance is constructed.
 *
 * Spans are recorded as soon as the instrumentation is enabled; metrics, `/health` and alert
 * events once the runtime {@link attach}es its recorder (the preload does this at start-up).
 */
export class CcxtInstrumentation extends InstrumentationBase {
  private recorder: ExchangeRecorder | undefined;
  private spanSink: (() => RingSpanWriter | undefined) | undefined;
  private readonly target: PatchTarget;

  constructor(config: InstrumentationConfig = {}) {
    super(CCXT_INSTRUMENTATION_NAME, CCXT_INSTRUMENTATION_VERSION, config);
    memoizePackageVersion(this);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the patches read the live tracer and recorder
    const self = this;
    this.target = {
      get tracer(): Tracer {
        return self.tracer;
      },
      get recorder() {
        return self.recorder;
      },
      get spans() {
        return self.spanSink?.();
      },
    };
  }

  /** Where metrics, health and events go from now on (the runtime's recorder). */
  attach(recorder: ExchangeRecorder | undefined): void {
    this.recorder = recorder;
  }

  /**
   * Where the spans of unified calls go from now on: `writer` gives the tick-trace exporter
   * worker's writer of finished call span trees while that worker runs, and undefined when it
   * does not (stopped, failed, or `http/json` export): then, and without a sink, calls get SDK
   * spans from this instrumentation's tracer, with the same tree. Asked at every call's start.
   */
  attachSpanSink(writer: (() => RingSpanWriter | undefined) | undefined): void {
    this.spanSink = writer;
  }

  protected override init() {
    return new InstrumentationNodeModuleDefinition(
      "ccxt",
      SUPPORTED_CCXT_VERSIONS,
      (exports: unknown) => {
        const Exchange = exchangeClassOf(exports);
        if (Exchange) patchExchange(Exchange, this.target);
        else this._diag.warn("ccxt loaded but it exports no Exchange class; not instrumented");
        return exports;
      },
      (exports: unknown) => {
        const Exchange = exchangeClassOf(exports);
        if (Exchange) unpatchExchange(Exchange);
      },
    );
  }
}
