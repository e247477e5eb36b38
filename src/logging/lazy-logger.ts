import type * as LoggerModule from "./logger.js";
import type { Logger } from "./logger.js";

let loadedLoggerModule: typeof LoggerModule | undefined;

/** The logger factory's module (and so winston), required on first use. */
export function loggerModule(): typeof LoggerModule {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  loadedLoggerModule ??= require("./logger.js") as typeof LoggerModule;
  return loadedLoggerModule;
}

/**
 * @internal Hands over the logger module. Tests that run the sources call it (through
 * test/support/lazy-modules.ts), because there `require` cannot load TypeScript.
 */
export function useLoggerModule(module: typeof LoggerModule): void {
  loadedLoggerModule = module;
}

/**
 * A logger that builds the real one on first use. The preload creates the runtime's logger this
 * way so winston (about a sixth of the preload's start-up) loads when something first logs,
 * usually just after the health server listens, not before the bot's first line.
 *
 * It behaves as the winston logger it stands for: every property read, write and method call
 * goes to the real logger, and methods run with the real logger as `this`, so winston's own code
 * pays nothing for the wrapper. `child()` before first use returns another lazy logger, so the
 * runtime's per-component loggers do not build the real one either.
 */
export function createLazyLogger(build: () => Logger): Logger {
  let real: Logger | undefined;
  const materialize = (): Logger => (real ??= build());
  /** Methods bound to the real logger, one per name, so `logger.info === logger.info` holds. */
  const bound = new Map<PropertyKey, unknown>();
  const lazyChild = (meta: object): Logger =>
    real ? real.child(meta) : createLazyLogger(() => materialize().child(meta));

  const handler: ProxyHandler<object> = {
    get(_target, prop) {
      if (prop === "child" && !real) return lazyChild;
      const logger = materialize();
      const value: unknown = Reflect.get(logger, prop, logger);
      if (typeof value !== "function") return value;
      let method = bound.get(prop);
      if (method === undefined || (method as { original?: unknown }).original !== value) {
        const fn = value as (...args: unknown[]) => unknown;
        method = Object.assign((...args: unknown[]) => fn.apply(logger, args), { original: value });
        bound.set(prop, method);
      }
      return method;
    },
    set: (_target, prop, value) => Reflect.set(materialize(), prop, value),
    has: (_target, prop) => Reflect.has(materialize(), prop),
    deleteProperty: (_target, prop) => Reflect.deleteProperty(materialize(), prop),
    defineProperty: (_target, prop, descriptor) => Reflect.defineProperty(materialize(), prop, descriptor),
    ownKeys: () => Reflect.ownKeys(materialize()),
    getOwnPropertyDescriptor(_target, prop) {
      const descriptor = Reflect.getOwnPropertyDescriptor(materialize(), prop);
      // The proxy's own target is empty: a property reported as non-configurable would break
      // the Proxy invariants, and nothing configures the logger's properties through it.
      return descriptor && { ...descriptor, configurable: true };
    },
    getPrototypeOf: () => Reflect.getPrototypeOf(materialize()),
  };
  return new Proxy({}, handler) as Logger;
}
