// A CommonJS ccxt bot. Run: node --require ticktrace/tracing bot.cjs
const ccxt = require("ccxt");
const { exchangeOptions } = require("./exchange-options.cjs");

async function main() {
  const exchange = new ccxt.pro.binance(exchangeOptions());
  if (process.env.EXCHANGE_URL) await exchange.loadHttpProxyAgent(); // ccxt needs it for plain ws://

  const balance = await exchange.fetchBalance();
  console.log("USDT free:", balance.USDT?.free);
  for (;;) {
    const ticker = await exchange.watchTicker("BTC/USDT"); // websocket
    const book = await exchange.fetchOrderBook("BTC/USDT", 5); // REST
    console.log(ticker.symbol, ticker.last, "best bid", book.bids[0]?.[0]);
    await exchange.sleep(1000);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
