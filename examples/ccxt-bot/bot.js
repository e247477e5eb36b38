// An ES-module ccxt bot. Run: node --import ticktrace/tracing bot.js
import ccxt from "ccxt";
import { exchangeOptions } from "./exchange-options.cjs";

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
