// Your own strategy in ticktrace's reference trading loop, trading against the exchange simulator.
// Build it with tsc, then run it with the preload:
//   node --require ticktrace/tracing dist/bot.js
import { createTrader, getRuntime, type Quotes, type Strategy } from "ticktrace";
import { ExchangeSimulator } from "ticktrace/testing";

const SYMBOL = "BTC/USDT";
const HALF_SPREAD = 0.001; // 10 bps either side of the mid
const SIZE = 0.01; // base quantity per order

/** Quotes both sides around the mid, and shades them against the position it holds. */
const strategy: Strategy = {
  id: "my-strategy",
  quote(_symbol, bestBid, bestAsk, position): Quotes {
    const mid = (bestBid + bestAsk) / 2;
    const shade = mid * 0.0005 * Math.sign(position); // long: quote lower, to sell more than buy
    return {
      bid: { side: "buy", price: mid * (1 - HALF_SPREAD) - shade, quantity: SIZE },
      ask: { side: "sell", price: mid * (1 + HALF_SPREAD) - shade, quantity: SIZE },
    };
  },
};

async function main(): Promise<void> {
  const tt = getRuntime();
  // The simulator is a real HTTP and WebSocket exchange on 127.0.0.1; point `venue` at yours.
  const simulator = new ExchangeSimulator({
    symbols: [SYMBOL],
    seed: 7,
    tickIntervalMs: 100,
    volatilityBps: 3,
    latencyP50Ms: 2,
    latencyP99Ms: 10,
    errorRate: 0,
    rateLimitPerSecond: 50,
    feeRate: 0.0002,
    startingQuote: 100_000,
  });
  await simulator.start();
  tt.onShutdown(() => simulator.shutdown()); // hooks run last registered first: after the trader

  const trader = createTrader({
    runtime: tt,
    strategy,
    exchange: "simex",
    symbols: [SYMBOL],
    startingEquity: 100_000,
    venue: { url: simulator.url, streamUrl: simulator.streamUrl },
    risk: {
      dailyLossLimit: 1_500,
      maxPositionNotional: 20_000,
      maxExposureRatio: 0.5,
      maxOrdersPerSecond: 20,
    },
  });
  trader.start(); // its shutdown runs at the runtime's shutdown (SIGTERM, Ctrl-C)
  await tt.ready;
  tt.logger.info(`own-strategy bot trading; metrics at ${tt.healthUrl}/metrics`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
