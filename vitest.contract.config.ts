import { defineConfig } from "vitest/config";

/**
 * Two projects for the runtimes beyond Workers, both plain Node:
 * - `runtimes`: unit tests of the runtime adapters (runtimes/**), no network;
 * - `contract`: the contract suite, network only, against CONTRACT_BASE_URL. Run it through
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
          include: ["test/contract/**/*.test.ts"],
          testTimeout: 30_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
