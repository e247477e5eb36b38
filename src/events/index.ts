/**
 * The trading event contract: the incidents a trading process emits (breaker, risk limits,
 * exchange connectivity, strategy faults, fills, ...) and the hub that carries them. Shared
 * vocabulary: the trading parts emit these, the alert module listens to them.
 */
export {
  createTradingEvents,
  type CreateTradingEventsOptions,
  type TradingEventListener,
  type TradingEventMap,
  type TradingEventName,
  type TradingEvents,
} from "./trading-events.js";
