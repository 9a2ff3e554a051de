import { defineConfig } from "vitest/config";

/**
 * Three projects for the runtimes beyond Workers, all plain Node:
 * - `runtimes`: unit tests of the runtime adapters (runtimes/**), no network;
 * - `degraded`: the same service with Redis unreachable (test/contract/degraded.test.ts);
 * - `contract`: the contract suite, network only, against CONTRACT_BASE_URL. Run them through
 *   `npm run test:contract` (test/contract/run.ts starts the stack and each runtime), not directly.
 */
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "runtimes",
          environment: "node",
          include: ["runtimes/**/*.test.ts"],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: "contract",
          environment: "node",
          include: ["test/contract/contract.test.ts", "test/contract/console.test.ts"],
          testTimeout: 30_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: "degraded",
          environment: "node",
          include: ["test/contract/degraded.test.ts"],
          testTimeout: 30_000,
        },
      },
    ],
  },
});
