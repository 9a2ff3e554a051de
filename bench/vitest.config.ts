import { defineConfig } from "vitest/config";

/**
 * The harness's own unit tests (pure logic: statistics, the table, the workerd config, options).
 * `npx vitest run --config bench/vitest.config.ts`. They start no servers.
 */
export default defineConfig({
  test: {
    name: "bench",
    environment: "node",
    include: ["bench/test/**/*.test.ts"],
    testTimeout: 10_000,
  },
});
