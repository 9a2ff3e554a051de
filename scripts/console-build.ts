/**
 * Builds the web console and the offline docs page into public/ (gitignored), the directory that
 * Workers Static Assets serves (wrangler.toml `[assets]`) and that runtimes/static-assets.ts serves
 * on Node, Deno and Bun: public/console/{index.html, app.js, docs.js, console.css}. The sources are
 * console/; the SDK is bundled in from client/, so nothing is fetched from a CDN at run time.
 * `npm test`, `npm run dev` and `npm run deploy` run this first (their npm pre-scripts).
 *
 *   npm run console:build
 */
import { copyFile, mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const CONSOLE_OUT = join(ROOT, "public/console");

export async function buildConsole(): Promise<void> {
  await rm(CONSOLE_OUT, { recursive: true, force: true });
  await mkdir(CONSOLE_OUT, { recursive: true });
  await build({
    entryPoints: { app: join(ROOT, "console/main.tsx"), docs: join(ROOT, "console/docs.tsx") },
    outdir: CONSOLE_OUT,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    jsx: "automatic",
    jsxImportSource: "hono/jsx/dom",
    logLevel: "warning",
  });
  await copyFile(join(ROOT, "console/index.html"), join(CONSOLE_OUT, "index.html"));
  await copyFile(join(ROOT, "console/console.css"), join(CONSOLE_OUT, "console.css"));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await buildConsole();
  console.log(`console:build: ${CONSOLE_OUT}`);
}
