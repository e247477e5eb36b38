import { ExportResultCode, type ExportResult } from "@opentelemetry/core";

/** What the span and log exporters have in common (the batch processors use nothing else). */
export interface BatchExporter<Batch> {
  export(batch: Batch, done: (result: ExportResult) => void): void;
  shutdown(): Promise<void>;
  forceFlush?(): Promise<void>;
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
): Required<BatchExporter<Batch>> {
  let exporter: BatchExporter<Batch> | undefined;
  let shutDown = false;
  return {
    export(batch, done) {
      if (shutDown) {
        done({ code: ExportResultCode.FAILED, error: new Error("exporter is shut down") });
        return;
      }
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
