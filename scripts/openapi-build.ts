/**
 * Generates the route-dependent part of /openapi.json (`components`, `paths`, `webhooks`) from the
 * route definitions, on Node with the real @hono/zod-openapi, into
 * src/features/docs/openapi.prebuilt.json. The Worker bundle serves that file instead of shipping
 * the generator (scripts/bundle/zod-openapi.ts); the document is the same byte for byte.
 * `npm test`, `dev`, `bench` and `deploy` run this first (their npm pre-scripts);
 * test/node/openapi-prebuilt.test.ts fails when the committed file is stale.
 *
 *   npm run openapi:build
 */
import { readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { createApp } from "../src/app.ts";
import type { AppEnv } from "../src/core/app-env.ts";
import { documentConfig } from "../src/features/docs/routes.ts";

export const PREBUILT_PATH = fileURLToPath(new URL("../src/features/docs/openapi.prebuilt.json", import.meta.url));

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
  await writeFile(PREBUILT_PATH, text);
  return true;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const changed = await buildOpenApi();
  console.log(`openapi:build: ${PREBUILT_PATH}${changed ? " (updated)" : " (unchanged)"}`);
}
