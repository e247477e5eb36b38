import type {
  Alert,
  AlertChannel,
  AlertChannelKind,
  AlertLevel,
  DeliveryContext,
} from "../alert-model/types.js";
import { TicktraceError } from "../errors.js";

/** One delivery a {@link RecordingChannel} received. */
export interface RecordedDelivery {
  alert: Alert;
  /** `firing`, `resolved`, ... as the alert module delivered it. */
  event: string;
  attempt: number;
}

/**
 * An alert channel that keeps what it is sent, with switches: `failNext` makes the next sends fail
 * as unreachable (the alert module retries them), `hang` makes sends wait until aborted.
 */
export interface RecordingChannel extends AlertChannel {
  readonly delivered: RecordedDelivery[];
  /** Sends attempted, failed ones included. */
  attempts: number;
  failNext: number;
  hang: boolean;
  /** Resolves with the first delivery that matches (default: any), or rejects after `timeoutMs` (default 5000). */
  waitFor(match?: (delivery: RecordedDelivery) => boolean, timeoutMs?: number): Promise<RecordedDelivery>;
}

/** Options of {@link createRecordingChannel}. */
export interface RecordingChannelOptions {
  /** Default `recording`. */
  name?: string;
  /** Default `INFO` (everything). */
  minLevel?: AlertLevel;
  kind?: AlertChannelKind;
}

/** A channel for tests: add it with `startRuntime(config, { channels: [channel] })` or `tt.alerts.addChannel(channel)`. */
export function createRecordingChannel(options: RecordingChannelOptions = {}): RecordingChannel {
  const name = options.name ?? "recording";
  const waiters = new Set<(delivery: RecordedDelivery) => boolean>();
  const channel: RecordingChannel = {
    name,
    minLevel: options.minLevel ?? "INFO",
    ...(options.kind ? { kind: options.kind } : {}),
    delivered: [],
    attempts: 0,
    failNext: 0,
    hang: false,
    send(alert: Alert, signal: AbortSignal, context?: DeliveryContext) {
      channel.attempts++;
      if (channel.hang) {
        return new Promise<void>((_resolve, reject) => {
          signal.addEventListener("abort", () => reject(new TicktraceError("TIMEOUT", `${name}: aborted`)));
        });
      }
      if (channel.failNext > 0) {
        channel.failNext--;
        return Promise.reject(new TicktraceError("UNREACHABLE", `${name}: failing as asked (failNext)`));
      }
      const delivery = { alert, event: context?.event ?? "firing", attempt: context?.attempt ?? 1 };
      channel.delivered.push(delivery);
      for (const waiter of waiters) if (waiter(delivery)) waiters.delete(waiter);
      return Promise.resolve();
    },
    waitFor(match = () => true, timeoutMs = 5_000) {
      const found = channel.delivered.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new TicktraceError("TIMEOUT", `${name}: no matching delivery within ${timeoutMs} ms`));
        }, timeoutMs);
        const waiter = (delivery: RecordedDelivery) => {
          if (!match(delivery)) return false;
          clearTimeout(timer);
          resolve(delivery);
          return true;
        };
        waiters.add(waiter);
      });
    },
  };
  return channel;
}
