import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

/**
 * Two projects. `workers` runs the Worker inside workerd (the real runtime) against the real
 * local stack that test/global-setup.ts starts: a fresh Postgres database on 127.0.0.1:5432
 * reached through the Neon ws bridge, Redis through the Upstash REST bridge, and a local S3 server.
 * `node` runs the dev tooling's own tests and end-to-end clients in Node.
 */
/**
 * wrangler.toml `[alias]`, exact specifiers only ("zod", not "zod/v4/core"). .bundle/ is generated
 * (gitignored) by scripts/bundle-build.ts, which `npm test` runs first (pretest).
 */
const bundleAliases = [
  {
    find: /^@hono\/zod-openapi$/,
    replacement: fileURLToPath(new URL("./scripts/bundle/zod-openapi.ts", import.meta.url)),
  },
  {
    find: /^@smithy\/core\/event-streams$/,
    replacement: fileURLToPath(new URL("./scripts/bundle/event-streams.js", import.meta.url)),
  },
  {
    find: /^@aws-sdk\/checksums\/(flexible-checksums|sha)$/,
    replacement: fileURLToPath(new URL("./scripts/bundle/checksums.js", import.meta.url)),
  },
  {
    find: /^@upstash\/core-analytics$/,
    replacement: fileURLToPath(new URL("./scripts/bundle/core-analytics.js", import.meta.url)),
  },
  { find: /^zod$/, replacement: fileURLToPath(new URL("./.bundle/zod/index.ts", import.meta.url)) },
  {
    find: /^@aws-sdk\/client-s3$/,
    replacement: fileURLToPath(new URL("./.bundle/client-s3/index.js", import.meta.url)),
  },
  {
    find: /^@aws-sdk\/xml-builder$/,
    replacement: fileURLToPath(new URL("./scripts/bundle/xml-builder.js", import.meta.url)),
  },
];

export default defineConfig({
  test: {
    projects: [
      {
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: { bindings: inject<Record<string, string>>("workerBindings") },
          })),
        ],
        // The deploy bundle's [alias] (wrangler.toml), so the Worker under test is the one that ships.
        resolve: { alias: bundleAliases },
        test: {
          name: "workers",
          include: ["src/**/*.test.ts", "durable/**/*.test.ts", "client/**/*.test.ts", "test/workers/**/*.test.ts"],
          globalSetup: ["./test/global-setup.ts"],
          testTimeout: 20_000,
          hookTimeout: 30_000,
        },
      },
      {
        test: {
          name: "bench",
          environment: "node",
          include: ["bench/test/**/*.test.ts"],
          testTimeout: 10_000,
        },
      },
      {
        test: {
          name: "node",
          environment: "node",
          include: ["test/dev/**/*.test.ts", "test/node/**/*.test.ts"],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
