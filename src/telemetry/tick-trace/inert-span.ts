import type { Span, SpanContext } from "@opentelemetry/api";

/**
 * The span half of an object that is its own span context and is recorded into the tick-trace
 * ring rather than through the span API: a tick's root, a ccxt call on the ring path.
 * Instrumentations see a non-recording span (they parent onto its ids and add nothing to it);
 * what the span records is written into the ring when it ends, by its owner.
 */
export abstract class InertSpan implements Span, SpanContext {
  abstract readonly traceId: string;
  abstract readonly spanId: string;
  abstract readonly traceFlags: number;
  readonly isRemote = false;

  spanContext(): SpanContext {
    return this;
  }
  setAttribute(): this {
    return this;
  }
  setAttributes(): this {
    return this;
  }
  addEvent(): this {
    return this;
  }
  addLink(): this {
    return this;
  }
  addLinks(): this {
    return this;
  }
  setStatus(): this {
    return this;
  }
  updateName(): this {
    return this;
  }
  end(): void {
    // recorded into the ring by the owner, not here
  }
  isRecording(): boolean {
    return false;
  }
  recordException(): void {
    // errors are written into the ring by the owner
  }
}
