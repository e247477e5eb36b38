// A trading bot with ticktrace, in TypeScript. Build it with tsc, then run it with the preload:
//   node --require ticktrace/tracing dist/bot.js
import { getRuntime, type Runtime, type TradingEventMap } from "ticktrace";

const tt: Runtime = getRuntime();
const log = tt.logger.child({ component: "bot" });
const orders = tt.metrics.ordersPlaced.bind({
  exchange: "paper",
  symbol: "BTC/USDT",
  side: "buy",
  type: "limit",
});
let dailyPnl = 0;
let halted = false; // the breaker stops trading; the bot keeps running and serving /metrics

const timer = setInterval(() => {
  if (halted) return;
  orders.add(1); // shows as trading_orders_placed_total on /metrics
  dailyPnl -= 400;
  tt.metrics.pnlDaily.record(dailyPnl, { strategy: "quickstart" });
  if (dailyPnl <= -1500) {
    const trip: TradingEventMap["circuitBreakerTripped"] = {
      breaker: "daily_loss",
      reason: "daily loss limit reached",
      dailyPnl,
      limit: 1500,
    };
    // The configured channels (log, JSONL, Telegram...) deliver this as a CRITICAL alert.
    tt.events.circuitBreakerTripped(trip);
    halted = true;
  }
}, 200);
tt.onShutdown(() => clearInterval(timer));
void tt.ready.then(() => log.info(`quickstart bot running; metrics at ${tt.healthUrl}/metrics`));
