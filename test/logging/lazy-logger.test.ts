/**
 * The lazy logger the runtime starts with: nothing of winston is built before the first use,
 * and after it every call is the real logger's (same output, same `this`, settable level).
 */
import winston from "winston";
import { describe, expect, it } from "vitest";
import { createLazyLogger } from "../../src/logging/lazy-logger.js";
import type { Logger } from "../../src/logging/logger.js";
import { captureLogger } from "./capture.js";

function lazyCapture() {
  const capture = captureLogger({ level: "info", defaultMeta: { component: "app" } });
  let builds = 0;
  const logger = createLazyLogger(() => {
    builds++;
    return capture.logger;
  });
  return { logger, capture, builds: () => builds };
}

describe("lazy logger", () => {
  it("child() before first use builds nothing; the first log builds the real logger once", () => {
    const { logger, capture, builds } = lazyCapture();
    const child = logger.child({ component: "risk" });
    const grandchild = child.child({ symbol: "BTC/USDT" });
    expect(builds()).toBe(0);
    grandchild.info("limit near", { order_id: "o-1" });
    logger.warn("plain");
    expect(builds()).toBe(1);
    const entries = capture.entries();
    expect(entries.map((e) => [e.level, e.message, e.component, e.symbol, e.order_id])).toEqual([
      ["info", "limit near", "risk", "BTC/USDT", "o-1"],
      ["warn", "plain", "app", undefined, undefined],
    ]);
  });

  it("is the real logger to its users: instanceof, level, methods with the real this, stable identity", () => {
    const { logger, capture } = lazyCapture();
    expect(logger).toBeInstanceOf(winston.Logger);
    expect(logger.info).toBe(logger.info);
    logger.debug("hidden");
    logger.level = "debug";
    expect(capture.logger.level).toBe("debug");
    const { debug } = logger;
    debug("shown");
    expect(logger.isDebugEnabled()).toBe(true);
    expect(capture.entries().map((e) => e.message)).toEqual(["shown"]);
    expect(logger.transports).toEqual(capture.logger.transports);
  });

  it("a method replaced on the logger is the one called", () => {
    const { logger } = lazyCapture();
    const seen: unknown[] = [];
    const original = logger.info;
    (logger as { info: unknown }).info = (message: unknown) => seen.push(message);
    logger.info("mine");
    expect(seen).toEqual(["mine"]);
    expect(logger.info).not.toBe(original);
  });

  it("child() after first use is the real logger's child, without a wrapper", () => {
    const { logger, capture } = lazyCapture();
    logger.info("first");
    const child: Logger = logger.child({ component: "x" });
    expect(Object.getPrototypeOf(child)).toBe(capture.logger);
  });
});
