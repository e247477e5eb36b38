import { ExportResultCode, type ExportResult } from "@opentelemetry/core";
import { probeCollector } from "./collector-probe.js";

/** What the span and log exporters have in common (the batch processors use nothing else). */
export interface BatchExporter<Batch> {
  export(batch: Batch, done: (result: ExportResult) => void): void;
  shutdown(): Promise<void>;
  forceFlush?(): Promise<void>;
}

/** Options of {@link createLazyExporter}. */
export interface LazyExporterOptions {
  /** The collector's URL: when given, a batch is sent only while its address takes connections. */
  endpoint?: string;
}

/** `host:port` of a URL, for an error message like Node's own. */
function hostOf(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || (parsed.protocol === "https:" ? "443" : "80")}`;
  } catch {
    return url;
  }
}

/**
 * An exporter that is created by `create` on its first export rather than up front. The OTLP
 * exporter packages and their protobuf/JSON transformers are a large part of what the preload
 * loads, and nothing is exported before the first batch delay has passed, so loading them then
 * takes that cost off the application's start-up. Shutting down an exporter that never
 * exported creates nothing. A `create` that throws fails that export (the batch processor
 * reports it like any other failure) and is tried again on the next one.
 */
export function createLazyExporter<Batch>(
  create: () => BatchExporter<Batch>,
  options: LazyExporterOptions = {},
): Required<BatchExporter<Batch>> {
  let exporter: BatchExporter<Batch> | undefined;
  let shutDown = false;
  const send = (batch: Batch, done: (result: ExportResult) => void) => {
    try {
      exporter ??= create();
    } catch (error) {
      done({
        code: ExportResultCode.FAILED,
        error: error instanceof Error ? error : new Error(String(error)),
      });
      return;
    }
    exporter.export(batch, done);
  };
  return {
    export(batch, done) {
      if (shutDown) {
        done({ code: ExportResultCode.FAILED, error: new Error("exporter is shut down") });
        return;
      }
      const endpoint = options.endpoint;
      if (endpoint === undefined) {
        send(batch, done);
        return;
      }
      // The OTLP exporters retry a refused connection for about 8 s on timers that keep the
      // process alive, so a bot whose work had ended stayed up that long with the collector
      // down. A refused batch fails at once instead (dropped and counted, as it would be after
      // the retries); one TCP connection, unref'd, costs far less than the batch.
      void probeCollector(endpoint).then((result) => {
        if (result !== "refused") {
          send(batch, done);
          return;
        }
        done({
          code: ExportResultCode.FAILED,
          error: Object.assign(new Error(`connect ECONNREFUSED ${hostOf(endpoint)}`), {
            code: "ECONNREFUSED",
          }),
        });
      });
    },
    shutdown() {
      shutDown = true;
      return exporter ? exporter.shutdown() : Promise.resolve();
    },
    forceFlush() {
      return exporter?.forceFlush?.() ?? Promise.resolve();
    },
  };
}
