// Your keys come from the environment, never from code or config.yaml.
// EXCHANGE_URL points the bot at another Binance-compatible server (the tests use a local fake).
exports.exchangeOptions = function exchangeOptions() {
  const options = { apiKey: process.env.BINANCE_API_KEY, secret: process.env.BINANCE_SECRET };
  const local = process.env.EXCHANGE_URL;
  if (!local) return options;
  return {
    ...options,
    urls: {
      api: {
        public: `${local}/api/v3`,
        private: `${local}/api/v3`,
        sapi: `${local}/sapi/v1`,
        ws: { spot: `${local.replace(/^http/, "ws")}/ws` },
      },
    },
    options: { fetchMarkets: { types: ["spot"] }, fetchCurrencies: false },
  };
};
