// A trading bot with ticktrace, in CommonJS. Run it with the preload:
//   node --require ticktrace/tracing bot.cjs
const { getRuntime } = require("ticktrace");

const tt = getRuntime();
const log = tt.logger.child({ component: "bot" });
const orders = tt.metrics.ordersPlaced.bind({
  exchange: "paper",
  symbol: "BTC/USDT",
  side: "buy",
  type: "limit",
});
let dailyPnl = 0;
let halted = false; // the breaker stops trading; the bot keeps running and serving /metrics

function tick() {
  if (halted) return;
  orders.add(1); // shows as trading_orders_placed_total on /metrics
  dailyPnl -= 400;
  tt.metrics.pnlDaily.record(dailyPnl, { strategy: "quickstart" });
  if (dailyPnl <= -1500) {
    // The configured channels (log, JSONL, Telegram...) deliver this as a CRITICAL alert.
    tt.events.circuitBreakerTripped({
      breaker: "daily_loss",
      reason: "daily loss limit reached",
      dailyPnl,
      limit: 1500,
    });
    halted = true;
  }
}

const timer = setInterval(tick, 200);
tt.onShutdown(() => clearInterval(timer));
tt.ready.then(() => log.info(`quickstart bot running; metrics at ${tt.healthUrl}/metrics`));
