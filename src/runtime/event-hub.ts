import type {
  TradingEventListener,
  TradingEventMap,
  TradingEventName,
  TradingEvents,
} from "../events/trading-events.js";

/**
 * The runtime's trading event hub: {@link TradingEvents} (`on`, `emit`) plus one method per event,
 * so a bot writes `tt.events.circuitBreakerTripped({ ... })`.
 *
 * Every payload is checked at the hub, because a bot in plain JavaScript has no compiler to do
 * it. A bad payload is reported once per call (one log line naming the event and the fields) and
 * repaired (a missing text becomes `"unknown"`, a missing number `NaN`), so the alert it stands for
 * is still raised. Nothing here throws into the caller: a listener that throws is reported too.
 */
export type TradingEventHub = TradingEvents & {
  readonly [E in TradingEventName]: (payload: TradingEventMap[E]) => void;
};

/** Options of {@link createEventHub}. */
export interface EventHubOptions {
  /** Called with one line per bad payload, e.g. `event circuitBreakerTripped: dailyPnl must be a number (got undefined)`. */
  onInvalidPayload: (event: string, problem: string) => void;
  /** Called when a listener throws; the hub goes on with the next listener. */
  onListenerError: (event: TradingEventName, error: unknown) => void;
  /** Called before the first event is delivered, again on the next one if it threw (the runtime attaches the alert module here). */
  beforeFirstEmit?: () => void;
}

type FieldKind = "string" | "number" | readonly string[];
interface FieldSpec {
  kind: FieldKind;
  optional?: true;
}
const str: FieldSpec = { kind: "string" };
const num: FieldSpec = { kind: "number" };
const optStr: FieldSpec = { kind: "string", optional: true };
const oneOf = (...values: string[]): FieldSpec => ({ kind: values });
const LIMITS = oneOf("position", "exposure", "order_rate", "daily_loss");
const SIDES = oneOf("buy", "sell");

/** The contract of {@link TradingEventMap}, kept as data so it can be checked at run time. */
const SPECS: { readonly [E in TradingEventName]: Readonly<Record<keyof TradingEventMap[E], FieldSpec>> } = {
  circuitBreakerTripped: { breaker: str, reason: str, dailyPnl: num, limit: num, traceId: optStr },
  circuitBreakerReset: { breaker: str },
  riskLimitBreached: {
    limit: LIMITS,
    // An unknown severity is raised as ERROR: a breach reported badly is still worth a look.
    severity: oneOf("ERROR", "WARNING"),
    value: num,
    threshold: num,
    symbol: optStr,
    traceId: optStr,
  },
  riskLimitCleared: { limit: LIMITS, symbol: optStr },
  exchangeDisconnected: { exchange: str, reason: str },
  exchangeReconnected: { exchange: str, downtimeMs: num },
  strategyPanic: { strategy: str, error: str, traceId: optStr },
  strategyRecovered: { strategy: str },
  fill: {
    exchange: str,
    symbol: str,
    side: SIDES,
    price: num,
    quantity: num,
    notional: num,
    orderId: str,
    traceId: optStr,
  },
  rateLimited: { exchange: str, operation: str, retryAfterMs: num },
  orderPlaced: { exchange: str, symbol: str, side: SIDES },
  orderRejected: { reason: str, symbol: str, source: oneOf("risk", "exchange") },
  workerFailed: { worker: str, error: str },
};

/** The names of the trading events, in contract order. */
export const TRADING_EVENT_NAMES = Object.keys(SPECS) as readonly TradingEventName[];

const isEventName = (name: unknown): name is TradingEventName =>
  typeof name === "string" && Object.hasOwn(SPECS, name);

function describeValue(value: unknown): string {
  if (typeof value === "string")
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (value === null || value === undefined || typeof value === "number" || typeof value === "boolean")
    return String(value);
  return typeof value;
}

/**
 * Checks a payload against the contract. Returns the payload itself when it is valid (the common
 * case costs one pass and no allocation), else a repaired copy and the problems found.
 */
function check(
  event: TradingEventName,
  payload: unknown,
): { payload: Record<string, unknown>; problems: string[] | undefined } {
  const spec = SPECS[event] as Readonly<Record<string, FieldSpec>>;
  const input =
    typeof payload === "object" && payload !== null ? (payload as Record<string, unknown>) : undefined;
  let problems: string[] | undefined;
  let repaired: Record<string, unknown> | undefined;
  if (!input) {
    problems = [`the payload must be an object (got ${describeValue(payload)})`];
    repaired = {};
  }
  for (const [field, { kind, optional }] of Object.entries(spec)) {
    const value = input?.[field];
    if (value === undefined && optional) continue;
    let fix: unknown;
    let expected: string | undefined;
    if (kind === "string") {
      if (typeof value !== "string") {
        expected = "a string";
        fix = typeof value === "number" || typeof value === "boolean" ? String(value) : "unknown";
      }
    } else if (kind === "number") {
      if (typeof value !== "number") {
        expected = "a number";
        fix = typeof value === "string" && value.trim() !== "" ? Number(value) : Number.NaN;
      }
    } else if (typeof value !== "string" || !kind.includes(value)) {
      expected = `one of ${kind.join(", ")}`;
      fix = kind[0];
    }
    if (expected === undefined) continue;
    if (optional) {
      fix = undefined;
    }
    (problems ??= []).push(`${field} must be ${expected} (got ${describeValue(value)})`);
    repaired ??= { ...input };
    if (fix === undefined) Reflect.deleteProperty(repaired, field);
    else repaired[field] = fix;
  }
  // Without an object as input, `repaired` was set above.
  return { payload: repaired ?? input ?? {}, problems };
}

/** Builds the hub. Pure: no timers, no I/O. */
export function createEventHub(options: EventHubOptions): TradingEventHub {
  const listeners = new Map<TradingEventName, Set<(payload: never) => void>>();
  let first = true;

  function emit(event: TradingEventName, payload: unknown): void {
    if (!isEventName(event)) {
      options.onInvalidPayload(
        String(event),
        `unknown event (expected one of ${TRADING_EVENT_NAMES.join(", ")})`,
      );
      return;
    }
    const checked = check(event, payload);
    if (checked.problems) options.onInvalidPayload(event, checked.problems.join("; "));
    if (first) {
      // Until it succeeds: a setup that failed once (a full disk) is tried again on the next event.
      try {
        options.beforeFirstEmit?.();
        first = false;
      } catch (error) {
        options.onListenerError(event, error);
      }
    }
    const set = listeners.get(event);
    if (!set) return;
    for (const listener of set) {
      try {
        (listener as (p: unknown) => void)(checked.payload);
      } catch (error) {
        options.onListenerError(event, error);
      }
    }
  }

  const hub: Record<string, unknown> = {
    on<E extends TradingEventName>(event: E, listener: TradingEventListener<E>): () => void {
      let set = listeners.get(event);
      if (!set) listeners.set(event, (set = new Set()));
      set.add(listener);
      return () => set.delete(listener);
    },
    emit,
  };
  for (const name of TRADING_EVENT_NAMES) hub[name] = (payload: unknown) => emit(name, payload);
  return Object.freeze(hub) as unknown as TradingEventHub;
}
