import { defineConfig } from "vitest/config";

/**
 * The runtime contract suite: plain Node, network only, against CONTRACT_BASE_URL. Run it through
 * `npm run test:contract` (test/contract/run.ts starts the stack and each runtime), not directly.
 */
export default defineConfig({
  test: {
    name: "contract",
    environment: "node",
    include: ["test/contract/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
});
