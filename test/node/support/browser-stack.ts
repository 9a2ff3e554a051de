// For the browser tests of the SDK: the service as a real Node runtime process (runtimes/node.ts)
// on the local stack (a fresh Postgres database, Redis through the Upstash bridge, a local S3
// bucket), a static page on another origin that loads the SDK, and Debian's Chromium.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { type Browser, chromium } from "playwright-core";
import { freePort } from "../../../dev/free-port.ts";
import { startLocalStack } from "../../../dev/local-stack.ts";
import { createTestDatabase } from "../../../dev/test-database.ts";
import { migrateDatabase } from "../../../scripts/migrate.ts";
import { testJwtKeys } from "../../support/keys.ts";
import { deleteKeysWithPrefix } from "../../support/redis-cleanup.ts";
import { stopGroup, waitForHealth } from "./rooms-stack.ts";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const POSTGRES_ADMIN_URL = process.env.TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
export const CHROMIUM = "/usr/bin/chromium";
/** The flags the project's guide asks for: no sandbox (root in CI), no GPU, nothing phoning home. */
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export interface Cleanup {
  add(fn: () => Promise<unknown>): void;
  run(): Promise<void>;
}

export function cleanupList(label: string): Cleanup {
  const fns: Array<() => Promise<unknown>> = [];
  return {
    add: (fn) => void fns.push(fn),
    async run() {
      for (const fn of fns.reverse()) await fn().catch((e: unknown) => console.error(`${label} cleanup:`, e));
      fns.length = 0;
    },
  };
}

/** The service under runtimes/node.ts on a free port; `vars` are added to the stack's. */
export async function startService(
  cleanup: Cleanup,
  vars: Record<string, string>,
): Promise<{ baseUrl: string; s3PublicBaseUrl: string }> {
  const workDir = await mkdtemp(join(tmpdir(), "browser-sdk-"));
  cleanup.add(() => rm(workDir, { recursive: true, force: true }));
  const database = await createTestDatabase(POSTGRES_ADMIN_URL);
  cleanup.add(() => database.drop());
  await migrateDatabase(database.url);
  const stack = await startLocalStack({ databaseUrl: database.url, dataDir: workDir, bucket: "browser-sdk" });
  cleanup.add(() => stack.close());
  const prefix = `test:browser-sdk:${Date.now().toString(36)}:`;
  const { UPSTASH_REDIS_REST_URL: redisUrl, UPSTASH_REDIS_REST_TOKEN: redisToken } = stack.vars;
  // Runs before the stack closes (cleanups run in reverse): the machine's Redis outlives the run.
  if (redisUrl && redisToken) cleanup.add(() => deleteKeysWithPrefix(redisUrl, redisToken, prefix));

  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const env = {
    ...stack.vars,
    REDIS_KEY_PREFIX: prefix,
    JWT_KEYS: JSON.stringify(testJwtKeys),
    PUBLIC_API_URL: baseUrl,
    LOG_LEVEL: "warn",
    PORT: String(port),
    HOST: "127.0.0.1",
    ...vars,
  };
  const child = spawn(process.execPath, [join(ROOT, "runtimes/node.ts")], {
    cwd: ROOT,
    stdio: ["ignore", "inherit", "inherit"],
    detached: true,
    env: { ...process.env, ...env },
  });
  cleanup.add(() => stopGroup(child));
  await waitForHealth(`${baseUrl}/healthz`, child, 60_000);
  return { baseUrl, s3PublicBaseUrl: stack.vars.S3_PUBLIC_BASE_URL ?? "" };
}

/**
 * A static origin: `/` is a page that imports the SDK (client/index.ts bundled for browsers by
 * esbuild) and puts it on `window.sdk`. Listens on 127.0.0.1; the same port is reachable as
 * `localhost`, which a browser treats as another origin.
 */
export async function startPageServer(cleanup: Cleanup): Promise<{ port: number; origin: string }> {
  const bundle = await build({
    entryPoints: [join(ROOT, "client/index.ts")],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    write: false,
    logLevel: "warning",
  });
  const sdk = bundle.outputFiles[0]?.text ?? "";
  const page = `<!doctype html><meta charset="utf-8"><title>sdk test</title>
<script type="module">import * as sdk from "/sdk.js"; window.sdk = sdk;</script>`;
  const server: Server = createServer((req, res) => {
    if (req.url === "/sdk.js") {
      res.writeHead(200, { "Content-Type": "text/javascript; charset=utf-8" }).end(sdk);
    } else if (req.url === "/" || req.url?.startsWith("/?")) {
      res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end(page);
    } else {
      res.writeHead(404).end();
    }
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  cleanup.add(() => new Promise((resolve) => server.close(() => resolve(undefined))));
  return { port, origin: `http://127.0.0.1:${port}` };
}

export async function launchChromium(cleanup: Cleanup): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run installs it when missing)`);
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  cleanup.add(() => browser.close());
  return browser;
}
