import { describe, expect, it } from "vitest";
import {
  caseVariants,
  redactQuery,
  redactUrl,
  redactUrlsInText,
  SENSITIVE_QUERY_PARAMS,
} from "../../src/telemetry/redact-url.js";
import { undiciRedactedAttributes } from "../../src/telemetry/instrumentations.js";

describe("URL redaction", () => {
  it("replaces the value of every sensitive query parameter, keeping the others and their order", () => {
    expect(
      redactUrl(
        "https://api.binance.com/api/v3/order?symbol=BTCUSDT&timestamp=1700000000000&recvWindow=5000&signature=9f86d081884c7d65",
      ),
    ).toBe(
      "https://api.binance.com/api/v3/order?symbol=BTCUSDT&timestamp=1700000000000&recvWindow=5000&signature=REDACTED",
    );
    expect(
      redactUrl("https://x.test/p?apiKey=abc&sig=def&api_key=g&key=h&token=i&secret=j&passphrase=k&a=1"),
    ).toBe(
      "https://x.test/p?apiKey=REDACTED&sig=REDACTED&api_key=REDACTED&key=REDACTED&token=REDACTED&secret=REDACTED&passphrase=REDACTED&a=1",
    );
  });

  it("matches names case-insensitively and percent-encoded, and covers the semantic conventions' list", () => {
    expect(redactQuery("?Signature=a&X-Amz-Signature=b&AWSAccessKeyId=c&X-Goog-Signature=d")).toBe(
      "?Signature=REDACTED&X-Amz-Signature=REDACTED&AWSAccessKeyId=REDACTED&X-Goog-Signature=REDACTED",
    );
    expect(redactQuery("api%5Fkey=a&SIGNATURE=b")).toBe("api%5Fkey=REDACTED&SIGNATURE=REDACTED");
  });

  it("redacts credentials in the authority and leaves a URL without query or credentials as it is", () => {
    expect(redactUrl("https://user:pass@x.test/p?q=1")).toBe("https://REDACTED:REDACTED@x.test/p?q=1");
    const plain = "https://api.binance.com/api/v3/ticker/24hr";
    expect(redactUrl(plain)).toBe(plain);
    expect(redactUrl("https://x.test/p?symbol=BTCUSDT#frag")).toBe("https://x.test/p?symbol=BTCUSDT#frag");
    expect(redactUrl("/relative?token=t")).toBe("/relative?token=REDACTED");
  });

  it("gives the HTTP instrumentation's exact-match list every usual spelling", () => {
    const variants = caseVariants();
    for (const name of [
      "signature",
      "Signature",
      "SIGNATURE",
      "apiKey",
      "apikey",
      "api_key",
      "sig",
      "AWSAccessKeyId",
    ])
      expect(variants).toContain(name);
    expect(SENSITIVE_QUERY_PARAMS).toEqual(
      expect.arrayContaining([
        "signature",
        "sig",
        "apikey",
        "api_key",
        "key",
        "token",
        "secret",
        "passphrase",
      ]),
    );
  });

  it("undici: overrides url.full and url.query only when something is redacted", () => {
    expect(undiciRedactedAttributes({ origin: "https://x.test", path: "/api?symbol=BTC" })).toBeUndefined();
    expect(undiciRedactedAttributes({ origin: "https://x.test", path: "/api" })).toBeUndefined();
    expect(undiciRedactedAttributes({ origin: "https://x.test", path: "/api?t=1&signature=ff" })).toEqual({
      "url.full": "https://x.test/api?t=1&signature=REDACTED",
      "url.query": "?t=1&signature=REDACTED",
    });
  });

  it("redacts a Telegram bot token and a Slack webhook secret in the path of our own fetch calls", () => {
    expect(
      undiciRedactedAttributes({
        origin: "https://api.telegram.org",
        path: "/bot123456:AAH-secret_x/sendMessage",
      }),
    ).toEqual({
      "url.full": "https://api.telegram.org/bot<redacted>/sendMessage",
      "url.path": "/bot<redacted>/sendMessage",
    });
    expect(
      undiciRedactedAttributes({ origin: "https://hooks.slack.com", path: "/services/T000/B000/XXXX?x=1" }),
    ).toEqual({
      "url.full": "https://hooks.slack.com/services/<redacted>?x=1",
      "url.path": "/services/<redacted>",
    });
  });
});

describe("redactUrlsInText", () => {
  it("redacts the signed values of every URL in free text and keeps the rest of the text", () => {
    const text =
      "binance GET https://api.binance.com/api/v3/account?timestamp=1&signature=ab12 request timed out (200 ms)\n" +
      "    at fetch (http://127.0.0.1:9/x?apiKey=k1&q=2)";
    expect(redactUrlsInText(text)).toBe(
      "binance GET https://api.binance.com/api/v3/account?timestamp=1&signature=REDACTED request timed out (200 ms)\n" +
        "    at fetch (http://127.0.0.1:9/x?apiKey=REDACTED&q=2)",
    );
  });

  it("returns text without a URL or without anything sensitive unchanged", () => {
    const plain = 'binance {"code":-2010,"msg":"insufficient balance"}';
    expect(redactUrlsInText(plain)).toBe(plain);
    const harmless = "GET https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=5 failed";
    expect(redactUrlsInText(harmless)).toBe(harmless);
  });
});
