import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The stack tier runs the servers built from Go modules: `npm run test:stack`.
    exclude: ["test/stack/**", "node_modules/**"],
    // Modules the preload's path requires on first use, for tests that run the sources.
    setupFiles: ["test/support/lazy-modules.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Integration tests start real processes (Prometheus, Alertmanager, PostgreSQL, the demo);
    // two workers match the 2-core CI machine.
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    reporters: ["default"],
  },
});
