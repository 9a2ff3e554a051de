/**
 * Generates the route-dependent part of /openapi.json (`components`, `paths`, `webhooks`) from the
 * route definitions, on Node with the real @hono/zod-openapi, into
 * public/_templates/openapi-routes.json (gitignored, a Workers Static Asset). The Worker neither
 * ships the generator nor bundles the document: scripts/bundle/zod-openapi.ts reads this file once
 * per isolate through the ASSETS binding and serves it after the request's own fields, the same
 * bytes Node generates. The platform never serves the template itself: wrangler.toml routes
 * /_templates/* to the Worker first (run_worker_first), which has no such route.
 * `npm test`, `dev`, `bench` and `deploy` run this first (scripts/bundle-build.ts, their npm
 * pre-scripts); test/node/openapi-prebuilt.test.ts fails when the file is stale.
 *
 *   npm run openapi:build
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { createApp } from "../src/app.ts";
import type { AppEnv } from "../src/core/app-env.ts";
import { documentConfig } from "../src/features/docs/routes.ts";

/** The template's path under the assets directory, as the Worker asks the ASSETS binding for it. */
export const TEMPLATE_ASSET = "/_templates/openapi-routes.json";
export const PREBUILT_PATH = fileURLToPath(new URL(`../public${TEMPLATE_ASSET}`, import.meta.url));

/** The whole document as Node generates it at run time for `origin` (what Node, Deno and Bun serve). */
export function generateDocument(origin: string): Record<string, unknown> {
  const app = createApp() as unknown as OpenAPIHono<AppEnv>;
  const config = documentConfig(origin) as Parameters<typeof app.getOpenAPI31Document>[0];
  return { ...app.getOpenAPI31Document(config) };
}

/** The file's text: the generated document minus the fields documentConfig sets per request. */
export function prebuiltText(): string {
  const config = documentConfig("http://prebuilt.invalid");
  const parts = Object.fromEntries(
    Object.entries(generateDocument(config.servers[0]!.url)).filter(([k]) => !(k in config)),
  );
  return `${JSON.stringify(parts, null, 2)}\n`;
}

export async function buildOpenApi(): Promise<boolean> {
  const text = prebuiltText();
  const current = await readFile(PREBUILT_PATH, "utf8").catch(() => null);
  if (current === text) return false;
  await mkdir(dirname(PREBUILT_PATH), { recursive: true });
  await writeFile(PREBUILT_PATH, text);
  return true;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const changed = await buildOpenApi();
  console.log(`openapi:build: ${PREBUILT_PATH}${changed ? " (updated)" : " (unchanged)"}`);
}
