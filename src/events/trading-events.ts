/**
 * Incident hooks: the events a trading process emits for the alert module and the monitoring
 * service to listen to. The reference process emits them; a user's own bot emits the same ones
 * to get the same alerts (see README "Connect your own bot").
 *
 * Listeners run synchronously in the emitter's call but can never break it: an exception in a
 * listener is caught and handed to `onListenerError`.
 */

export interface TradingEventMap {
  circuitBreakerTripped: {
    breaker: string;
    reason: string;
    dailyPnl: number;
    limit: number;
    traceId?: string;
  };
  circuitBreakerReset: { breaker: string };
  riskLimitBreached: {
    limit: "position" | "exposure" | "order_rate" | "daily_loss";
    severity: "WARNING" | "ERROR";
    value: number;
    threshold: number;
    symbol?: string;
    traceId?: string;
  };
  riskLimitCleared: { limit: "position" | "exposure" | "order_rate" | "daily_loss"; symbol?: string };
  exchangeDisconnected: { exchange: string; reason: string };
  exchangeReconnected: { exchange: string; downtimeMs: number };
  strategyPanic: { strategy: string; error: string; traceId?: string };
  strategyRecovered: { strategy: string };
  fill: {
    exchange: string;
    symbol: string;
    side: "buy" | "sell";
    price: number;
    quantity: number;
    notional: number;
    orderId: string;
    traceId?: string;
  };
  rateLimited: { exchange: string; operation: string; retryAfterMs: number };
  orderPlaced: { exchange: string; symbol: string; side: "buy" | "sell" };
  orderRejected: { reason: string; symbol: string; source: "risk" | "exchange" };
  workerFailed: { worker: string; error: string };
}

export type TradingEventName = keyof TradingEventMap;
export type TradingEventListener<E extends TradingEventName> = (payload: TradingEventMap[E]) => void;

export interface TradingEvents {
  on<E extends TradingEventName>(event: E, listener: TradingEventListener<E>): () => void;
  emit<E extends TradingEventName>(event: E, payload: TradingEventMap[E]): void;
}

export interface CreateTradingEventsOptions {
  /** Called when a listener throws; the emitter goes on with the next listener. */
  onListenerError?: (event: TradingEventName, error: unknown) => void;
}

export function createTradingEvents(options: CreateTradingEventsOptions = {}): TradingEvents {
  const listeners = new Map<TradingEventName, Set<(payload: never) => void>>();
  return {
    on(event, listener) {
      let set = listeners.get(event);
      if (!set) listeners.set(event, (set = new Set()));
      set.add(listener);
      return () => set.delete(listener);
    },
    emit(event, payload) {
      const set = listeners.get(event);
      if (!set) return;
      for (const listener of set) {
        try {
          (listener as (p: typeof payload) => void)(payload);
        } catch (error) {
          options.onListenerError?.(event, error);
        }
      }
    },
  };
}
