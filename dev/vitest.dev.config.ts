// Temporary stand-alone config for the Node-side dev tooling tests, until the root vitest.config.ts
// defines the `node` project (test/dev/**, test/node/**, environment node). Run with:
//   npx vitest run --root . --config dev/vitest.dev.config.ts
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    name: "node",
    include: ["test/dev/**/*.test.ts"],
    environment: "node",
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
