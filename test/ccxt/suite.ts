import { Agent } from "node:http";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { API_KEY, API_SECRET, FakeBinance } from "./fake-binance.js";
import { createHarness, valueOf, type CcxtExchange, type Harness } from "./helpers.js";

/**
 * The instrumentation's behaviour against one installed ccxt release (`moduleName`: `ccxt`, or
 * an older release installed under an npm alias), shared by the test file of each release.
 */
export function ccxtSuite(moduleName: string): void {
  // ccxt 4.4 sends through node:https with its own agent; plain http to the fake needs an http one
  const releaseOptions: Record<string, unknown> =
    moduleName === "ccxt" ? {} : { agent: new Agent({ keepAlive: true }) };
  /**
   * The real ccxt package (binance, REST and ccxt.pro websocket) against a fake Binance spot on
   * 127.0.0.1, with the instrumentation enabled before ccxt is loaded, as under the preload.
   */
  // One instrumentation per process, as under the preload: ccxt is patched once, when first loaded.
  let h: Harness;
  beforeAll(() => {
    h = createHarness({ wsSilenceMs: 400, moduleName });
  });
  afterAll(async () => {
    await h.stop();
  });

  describe("ccxt instrumentation against a fake Binance", () => {
    let fake: FakeBinance;
    let ex: CcxtExchange;

    beforeAll(async () => {
      fake = new FakeBinance();
      await fake.start();
      ex = new h.ccxt.binance(fake.exchangeOptions(releaseOptions));
      await ex.loadMarkets();
    });

    afterAll(async () => {
      await ex.close();
      await fake.stop();
    });

    beforeEach(() => h.resetSpans());

    const children = (parent: ReadableSpan) =>
      h.spans().filter((s) => s.parentSpanContext?.spanId === parent.spanContext().spanId);
    const callSpan = (operation: string) => {
      const span = h.spans().find((s) => s.name === `binance ${operation}`);
      if (!span)
        throw new Error(
          `no span for ${operation}: ${h
            .spans()
            .map((s) => s.name)
            .join(", ")}`,
        );
      return span;
    };
    const secretsIn = (text: string) => {
      const signatures = fake.requests
        .map((r) => /signature=([0-9a-f]+)/.exec(`${r.query}&${r.body}`)?.[1])
        .filter((s): s is string => s !== undefined);
      return [API_KEY, API_SECRET, ...signatures].filter((secret) => text.includes(secret));
    };

    it("a unified call is one client span with one child span per HTTP attempt, and one observation", async () => {
      const before = valueOf(await h.points("trading_exchange_request_duration_seconds"), {
        operation: "fetchTicker",
        outcome: "ok",
      });
      const ticker = await ex.fetchTicker("BTC/USDT");
      expect(ticker.last).toBe(40000);
      const call = callSpan("fetchTicker");
      expect(call.kind).toBe(SpanKind.CLIENT);
      expect(call.parentSpanContext).toBeUndefined();
      expect(call.attributes).toMatchObject({
        "exchange.name": "binance",
        "exchange.operation": "fetchTicker",
        "exchange.symbol": "BTC/USDT",
      });
      const [attempt, ...more] = children(call);
      expect(more).toEqual([]);
      expect(attempt!.name).toBe("GET");
      expect(attempt!.kind).toBe(SpanKind.CLIENT);
      expect(attempt!.attributes).toMatchObject({
        "http.request.method": "GET",
        "server.address": "127.0.0.1",
        "http.response.status_code": 200,
        "url.full": `${fake.baseUrl}/api/v3/ticker/24hr?symbol=BTCUSDT`,
      });
      const durations = await h.points("trading_exchange_request_duration_seconds");
      expect(valueOf(durations, { exchange: "binance", operation: "fetchTicker", outcome: "ok" })).toBe(
        before + 1,
      );
      const http = await h.points("trading_exchange_http_duration_seconds");
      expect(valueOf(http, { exchange: "binance", method: "GET", status_code: "200" })).toBeGreaterThan(0);
      const waits = await h.points("trading_exchange_ratelimit_wait_seconds");
      expect(valueOf(waits, { exchange: "binance", operation: "fetchTicker" })).toBeGreaterThan(0);
    });

    it("the first call on a fresh exchange has loadMarkets as a child span, not a second observation", async () => {
      const loads = valueOf(await h.points("trading_exchange_request_duration_seconds"), {
        operation: "loadMarkets",
      });
      const fresh = new h.ccxt.binance(fake.exchangeOptions(releaseOptions));
      await fresh.fetchOrderBook("BTC/USDT");
      const call = callSpan("fetchOrderBook");
      expect(children(call).map((s) => s.name)).toContain("binance loadMarkets");
      const durations = await h.points("trading_exchange_request_duration_seconds");
      expect(valueOf(durations, { operation: "fetchOrderBook" })).toBe(1);
      expect(valueOf(durations, { operation: "loadMarkets" })).toBe(loads);
      await fresh.close();
    });

    it("regression: concurrent requests of one call (binance's margin pairs in loadMarkets) each get their own status", async () => {
      // Attempts inside a call enter no context of their own: handleRestResponse finds its
      // attempt among the call's in-flight ones by URL. The request sent first is answered
      // last here, and with another status, so taking the oldest in-flight attempt would swap them.
      fake.next("/sapi/v1/margin/allPairs", { kind: "delay", ms: 150 });
      fake.next("/sapi/v1/margin/isolated/allPairs", {
        kind: "status",
        status: 400,
        body: { code: -1121, msg: "Invalid symbol." },
      });
      const fresh = new h.ccxt.binance(fake.exchangeOptions(releaseOptions));
      await expect(fresh.loadMarkets()).rejects.toThrow();
      // the delayed attempt ends after the call failed
      await new Promise((resolve) => setTimeout(resolve, 300));
      const attempts = h
        .spans()
        .filter((s) => String(s.attributes["url.full"]).includes("/sapi/v1/margin/"))
        .map((s) => [
          String(s.attributes["url.full"]).replace(fake.baseUrl, "").split("?")[0],
          s.attributes["http.response.status_code"],
        ]);
      expect(attempts).toEqual(
        expect.arrayContaining([
          ["/sapi/v1/margin/allPairs", 200],
          ["/sapi/v1/margin/isolated/allPairs", 400],
        ]),
      );
      expect(attempts).toHaveLength(2);
      await fresh.close();
    });

    it("signed requests reach the exchange signed, and no key, secret or signature is in any span", async () => {
      const balance = await ex.fetchBalance();
      expect(balance.BTC!.free).toBe(1);
      const order = await ex.createOrder("BTC/USDT", "limit", "buy", 0.001, 39000);
      expect(order.id).toMatch(/^\d+$/);
      for (const path of ["/api/v3/account", "/api/v3/order"]) {
        const request = fake.hits(path).at(-1)!;
        expect(request.apiKey).toBe(API_KEY);
        expect(request.signatureValid).toBe(true);
      }
      const account = children(callSpan("fetchBalance"))[0]!;
      expect(String(account.attributes["url.full"])).toMatch(
        /\/api\/v3\/account\?timestamp=\d+.*&signature=REDACTED$/,
      );
      expect(secretsIn(JSON.stringify(h.spans().map((s) => [s.name, s.attributes, s.events])))).toEqual([]);
    });

    it("429 with Retry-After: DDoSProtection counted as an error and a rate-limit hit, and the rate-limit event", async () => {
      const hits = valueOf(await h.points("trading_exchange_rate_limit_hits_total"), {
        operation: "fetchTicker",
      });
      fake.next("/api/v3/ticker/24hr", { kind: "status", status: 429, retryAfter: "7" });
      await expect(ex.fetchTicker("BTC/USDT")).rejects.toMatchObject({ name: "DDoSProtection" });
      const attempt = children(callSpan("fetchTicker"))[0]!;
      expect(attempt.attributes).toMatchObject({
        "http.response.status_code": 429,
        "error.type": "DDoSProtection",
      });
      expect(attempt.status.code).toBe(SpanStatusCode.ERROR);
      expect(callSpan("fetchTicker").attributes["error.type"]).toBe("DDoSProtection");
      expect(
        valueOf(await h.points("trading_exchange_rate_limit_hits_total"), { operation: "fetchTicker" }),
      ).toBe(hits + 1);
      const errors = await h.points("trading_exchange_errors_total");
      expect(
        valueOf(errors, { operation: "fetchTicker", error_type: "DDoSProtection" }),
      ).toBeGreaterThanOrEqual(1);
      expect(valueOf(await h.points("trading_exchange_http_duration_seconds"), { status_code: "429" })).toBe(
        1,
      );
      expect(h.events).toContainEqual([
        "rateLimited",
        { exchange: "binance", operation: "fetchTicker", retryAfterMs: 7000 },
      ]);
    });

    it("418 (banned for ignoring 429s) is a rate-limit hit too", async () => {
      fake.next("/api/v3/depth", { kind: "status", status: 418, retryAfter: "120" });
      await expect(ex.fetchOrderBook("BTC/USDT")).rejects.toMatchObject({ name: "DDoSProtection" });
      expect(
        valueOf(await h.points("trading_exchange_rate_limit_hits_total"), { operation: "fetchOrderBook" }),
      ).toBe(1);
      expect(valueOf(await h.points("trading_exchange_http_duration_seconds"), { status_code: "418" })).toBe(
        1,
      );
      expect(h.events).toContainEqual([
        "rateLimited",
        { exchange: "binance", operation: "fetchOrderBook", retryAfterMs: 120_000 },
      ]);
    });

    it("RateLimitExceeded (Binance code -1003 in a 400) is a rate-limit hit, not only DDoSProtection", async () => {
      fake.next("/api/v3/account", {
        kind: "status",
        status: 400,
        body: { code: -1003, msg: "Too many requests; current limit is 6000 request weight per 1 MINUTE." },
      });
      await expect(ex.fetchBalance()).rejects.toMatchObject({ name: "RateLimitExceeded" });
      const errors = await h.points("trading_exchange_errors_total");
      expect(valueOf(errors, { operation: "fetchBalance", error_type: "RateLimitExceeded" })).toBe(1);
      expect(
        valueOf(await h.points("trading_exchange_rate_limit_hits_total"), { operation: "fetchBalance" }),
      ).toBe(1);
    });

    it("a 503 retried by ccxt: two attempt spans under one call, the failed try counted, the call ok", async () => {
      ex.options.maxRetriesOnFailure = 1;
      try {
        fake.next("/api/v3/ticker/24hr", { kind: "status", status: 503, body: "Service Unavailable" });
        const ticker = await ex.fetchTicker("BTC/USDT");
        expect(ticker.last).toBe(40000);
      } finally {
        ex.options.maxRetriesOnFailure = 0;
      }
      const call = callSpan("fetchTicker");
      expect(call.status.code).not.toBe(SpanStatusCode.ERROR);
      expect(call.attributes["exchange.http.attempts"]).toBe(2);
      const attempts = children(call);
      expect(attempts.map((s) => s.attributes["http.response.status_code"])).toEqual([503, 200]);
      expect(attempts[1]!.attributes["http.request.resend_count"]).toBe(1);
      const errors = await h.points("trading_exchange_errors_total");
      expect(attempts[0]!.attributes["error.type"]).toBe("ExchangeNotAvailable");
      expect(valueOf(errors, { operation: "fetchTicker", error_type: "ExchangeNotAvailable" })).toBe(1);
      expect(valueOf(await h.points("trading_exchange_http_duration_seconds"), { status_code: "503" })).toBe(
        1,
      );
    });

    it("a timeout: RequestTimeout, an attempt with no status code", async () => {
      const fast = new h.ccxt.binance(fake.exchangeOptions({ timeout: 200, ...releaseOptions }));
      await fast.loadMarkets();
      h.resetSpans();
      fake.next("/api/v3/depth", { kind: "delay", ms: 600 });
      await expect(fast.fetchOrderBook("BTC/USDT")).rejects.toMatchObject({ name: "RequestTimeout" });
      const attempt = children(callSpan("fetchOrderBook"))[0]!;
      expect(attempt.attributes["http.response.status_code"]).toBeUndefined();
      expect(attempt.attributes["error.type"]).toBe("RequestTimeout");
      const errors = await h.points("trading_exchange_errors_total");
      expect(valueOf(errors, { operation: "fetchOrderBook", error_type: "RequestTimeout" })).toBe(1);
      const http = await h.points("trading_exchange_http_duration_seconds");
      const noStatus = http.find(
        (p) => p.attributes.method === "GET" && p.attributes.status_code === undefined,
      );
      expect(noStatus?.value).toBe(1);
      expect(noStatus!.sum).toBeGreaterThanOrEqual(0.2);
      await fast.close();
    });

    it("a signed call that times out: the error the bot gets names the URL without its signature", async () => {
      const fast = new h.ccxt.binance(fake.exchangeOptions({ timeout: 200, ...releaseOptions }));
      await fast.loadMarkets();
      fake.next("/api/v3/account", { kind: "delay", ms: 600 });
      const error: unknown = await fast.fetchBalance().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(h.ccxt.RequestTimeout);
      const { message, stack } = error as Error;
      // ccxt's own message carries the signed URL; the signature was really sent.
      expect(message).toMatch(/\/api\/v3\/account\?timestamp=\d+.*&signature=REDACTED/);
      expect(
        fake.requests.some((r) => r.path === "/api/v3/account" && /signature=[0-9a-f]{64}/.test(r.query)),
      ).toBe(true);
      expect(secretsIn(`${message}\n${stack ?? ""}`)).toEqual([]);
      await fast.close();
    });

    it("a rejected order: InvalidOrder on createOrder, the call observed with outcome error", async () => {
      fake.rejectOrders = true;
      try {
        await expect(ex.createOrder("BTC/USDT", "limit", "buy", 0.001, 39000)).rejects.toMatchObject({
          name: "InvalidOrder",
        });
      } finally {
        fake.rejectOrders = false;
      }
      const errors = await h.points("trading_exchange_errors_total");
      expect(valueOf(errors, { operation: "createOrder", error_type: "InvalidOrder" })).toBe(1);
      const durations = await h.points("trading_exchange_request_duration_seconds");
      expect(valueOf(durations, { operation: "createOrder", outcome: "error" })).toBe(1);
    });

    it("an error raised before any request (an unknown symbol) is counted once", async () => {
      await expect(ex.fetchTicker("NOPE/USDT")).rejects.toMatchObject({ name: "BadSymbol" });
      const errors = await h.points("trading_exchange_errors_total");
      expect(valueOf(errors, { operation: "fetchTicker", error_type: "BadSymbol" })).toBe(1);
    });

    it("regression: an instrumented exchange keeps its class (`constructor`, `instanceof`, `new ex.constructor()`)", () => {
      // `"constructor" in exchange.has` is true through Object.prototype: the class itself was
      // wrapped as a unified method, so `new ex.constructor(...)` threw and instanceof failed.
      const Binance = h.ccxt.binance as unknown as new (options: object) => CcxtExchange;
      expect(ex.constructor).toBe(Binance);
      expect(ex).toBeInstanceOf(Binance);
      const again = new (ex.constructor as new (options: object) => CcxtExchange)(
        fake.exchangeOptions(releaseOptions),
      );
      expect(again).toBeInstanceOf(Binance);
      for (const name of ["constructor", "toString", "valueOf", "hasOwnProperty"]) {
        let proto: object | null = Object.getPrototypeOf(ex) as object | null;
        while (proto && proto !== Object.prototype) {
          const value = (proto as Record<string, unknown>)[name];
          if (Object.prototype.hasOwnProperty.call(proto, name))
            expect((value as Record<symbol, unknown>)[Symbol.for("ticktrace.ccxt.original")]).toBeUndefined();
          proto = Object.getPrototypeOf(proto) as object | null;
        }
      }
    });

    it("label values stay bounded: no symbol, URL or order id in any metric label", async () => {
      for (const name of [
        "trading_exchange_request_duration_seconds",
        "trading_exchange_http_duration_seconds",
        "trading_exchange_errors_total",
        "trading_exchange_rate_limit_hits_total",
        "trading_exchange_ratelimit_wait_seconds",
      ]) {
        for (const point of await h.points(name)) {
          for (const [key, value] of Object.entries(point.attributes)) {
            expect(String(value)).not.toMatch(/[/:?]/);
            if (key !== "status_code") expect(String(value)).not.toMatch(/^\d+$/);
          }
        }
      }
    });
  });

  describe("ccxt.pro websocket telemetry against a fake Binance stream", () => {
    let fake: FakeBinance;
    let ws: CcxtExchange;
    let stopLoop = false;
    let received = 0;
    let loop: Promise<void>;

    beforeAll(async () => {
      fake = new FakeBinance();
      await fake.start();
      ws = new h.ccxt.pro.binance(fake.exchangeOptions(releaseOptions));
      // ccxt needs its http agent loaded before a plain ws:// url
      await ws.loadHttpProxyAgent();
      loop = (async () => {
        while (!stopLoop) {
          try {
            await ws.watchTicker("BTC/USDT");
            received++;
          } catch {
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
        }
      })();
      await until(() => received >= 5, "first ticker messages");
    });

    afterAll(async () => {
      stopLoop = true;
      await ws.close();
      await loop;
      await fake.stop();
    });

    it("counts messages per channel, their lag, the connection and its state", async () => {
      // 4.5 subscribes to the mini ticker, 4.4 to the full one
      expect(fake.subscriptions[0]).toEqual([
        moduleName === "ccxt" ? "btcusdt@miniTicker" : "btcusdt@ticker",
      ]);
      const messages = await h.points("trading_exchange_ws_messages_total");
      expect(valueOf(messages, { exchange: "binance", channel: "ticker" })).toBeGreaterThanOrEqual(5);
      const lag = (await h.points("trading_exchange_ws_message_lag_seconds")).find(
        (p) => p.attributes.channel === "ticker",
      );
      expect(lag!.value).toBeGreaterThanOrEqual(5);
      // the fake stamps each event 5 ms before it sends it
      expect(lag!.sum! / lag!.value).toBeGreaterThanOrEqual(0.004);
      expect(valueOf(await h.points("trading_exchange_ws_connects_total"), { exchange: "binance" })).toBe(1);
      expect(valueOf(await h.points("trading_exchange_connected"), { exchange: "binance" })).toBe(1);
      expect(h.health.stateOf("exchange.binance")).toBe("up");
      // no span per message
      expect(h.spans().filter((s) => s.name.includes("watch"))).toEqual([]);
    });

    it("a stream that stops sending: exchange down and the disconnect event; back up when messages resume", async () => {
      fake.wsSilent = true;
      await until(() => h.events.some(([event]) => event === "exchangeDisconnected"), "silence detected");
      expect(h.events.find(([event]) => event === "exchangeDisconnected")).toEqual([
        "exchangeDisconnected",
        {
          exchange: "binance",
          reason: "websocket silent: no ticker message for 0.4s (telemetry.ccxt.ws_silence_ms)",
        },
      ]);
      expect(h.health.stateOf("exchange.binance")).toBe("down");
      const age = await h.points("trading_exchange_ws_last_message_age_seconds");
      expect(valueOf(age, { exchange: "binance", channel: "ticker" })).toBeGreaterThanOrEqual(0.4);
      fake.wsSilent = false;
      await until(() => h.events.some(([event]) => event === "exchangeReconnected"), "stream resumed");
      expect(h.health.stateOf("exchange.binance")).toBe("up");
      const reconnected = h.events.find(([event]) => event === "exchangeReconnected")![1];
      expect(reconnected.downtimeMs).toBeGreaterThan(0);
    });

    it("a dropped connection: disconnected, then ccxt reconnects and it is counted as a reconnect", async () => {
      h.events.length = 0;
      fake.dropSockets();
      await until(() => h.events.some(([event]) => event === "exchangeReconnected"), "reconnect");
      expect(h.events[0]).toEqual([
        "exchangeDisconnected",
        { exchange: "binance", reason: "websocket closed (code 1006)" },
      ]);
      expect(valueOf(await h.points("trading_exchange_ws_connects_total"), { exchange: "binance" })).toBe(2);
      expect(valueOf(await h.points("trading_exchange_reconnects_total"), { exchange: "binance" })).toBe(1);
      expect(valueOf(await h.points("trading_exchange_connected"), { exchange: "binance" })).toBe(1);
      expect(h.health.stateOf("exchange.binance")).toBe("up");
      const before = received;
      await until(() => received > before + 3, "messages after the reconnect");
    });
  });
}

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
