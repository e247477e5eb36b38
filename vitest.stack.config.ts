import { defineConfig } from "vitest/config";

/**
 * `npm run test:stack`: the tests of test/stack, against the collector, Prometheus and
 * Alertmanager built from their Go modules (`npm run stack:build`). Each file starts its own
 * stack on loopback ports; two at a time suit the 2-core machine.
 */
export default defineConfig({
  test: {
    include: ["test/stack/**/*.test.ts"],
    // Modules the preload's path requires on first use, for tests that run the sources.
    setupFiles: ["test/support/lazy-modules.ts"],
    testTimeout: 240_000,
    hookTimeout: 120_000,
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    reporters: ["default"],
  },
});
