// The Worker under `wrangler dev` on a free port, in front of the local stack (dev/local-stack.ts)
// with a fresh Postgres database, for end-to-end tests of the rooms SDK from Node.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { formatEnvFile } from "../../../dev/env-file.ts";
import { freePort } from "../../../dev/free-port.ts";
import { startLocalStack } from "../../../dev/local-stack.ts";
import { createTestDatabase } from "../../../dev/test-database.ts";
import { migrateDatabase } from "../../../scripts/migrate.ts";
import { parseConfig } from "../../../src/core/config.ts";
import { issueAccessToken } from "../../../src/features/auth/access-token.ts";
import { testJwtKeys } from "../../support/keys.ts";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const POSTGRES_ADMIN_URL = process.env.TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

export interface RoomsStack {
  /** http://127.0.0.1:<port> of wrangler dev */
  baseUrl: string;
  port: number;
  tokenFor(user: { userId: string; sessionId?: string; roles?: string[] }): Promise<string>;
  close(): Promise<void>;
}

export async function waitForHealth(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited with ${child.exitCode}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await res.body?.cancel();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`wrangler dev did not answer ${url} within ${timeoutMs} ms`);
}

export function stopGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const pid = child.pid;
  try {
    process.kill(-pid, "SIGTERM");
  } catch {
    child.kill("SIGTERM");
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // gone
    }
  }, 5_000);
  return exited.finally(() => clearTimeout(timer));
}

export async function startRoomsStack(extraVars: Record<string, string> = {}): Promise<RoomsStack> {
  const cleanups: Array<() => Promise<unknown>> = [];
  const close = async () => {
    for (const fn of cleanups.reverse()) await fn().catch((e: unknown) => console.error("rooms stack cleanup:", e));
  };
  try {
    const workDir = await mkdtemp(join(tmpdir(), "rooms-e2e-"));
    cleanups.push(() => rm(workDir, { recursive: true, force: true }));
    const database = await createTestDatabase(POSTGRES_ADMIN_URL);
    cleanups.push(() => database.drop());
    await migrateDatabase(database.url);
    const stack = await startLocalStack({ databaseUrl: database.url, dataDir: workDir, bucket: "rooms-e2e" });
    cleanups.push(() => stack.close());

    const vars: Record<string, string> = {
      ...stack.vars,
      REDIS_KEY_PREFIX: `test:rooms-e2e:${Date.now().toString(36)}:`,
      JWT_KEYS: JSON.stringify(testJwtKeys),
      LOG_LEVEL: "warn",
      ...extraVars,
    };
    const envFile = join(workDir, "wrangler.env");
    await writeFile(envFile, formatEnvFile(vars), { mode: 0o600 });

    // A free port can be taken by a parallel test file before wrangler binds it: then try new ones.
    const startWrangler = async () => {
      const port = await freePort();
      const inspectorPort = await freePort();
      const wrangler = spawn(
        process.execPath,
        [
          join(ROOT, "node_modules/wrangler/bin/wrangler.js"),
          "dev",
          "--port",
          String(port),
          "--ip",
          "127.0.0.1",
          "--inspector-port",
          String(inspectorPort),
          "--persist-to",
          join(workDir, "state"),
          "--env-file",
          envFile,
          "--log-level",
          "warn",
          "--show-interactive-dev-session=false",
        ],
        {
          cwd: ROOT,
          stdio: ["ignore", "inherit", "inherit"],
          detached: true,
          env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
        },
      );
      const baseUrl = `http://127.0.0.1:${port}`;
      try {
        await waitForHealth(`${baseUrl}/healthz`, wrangler, 120_000);
      } catch (error) {
        await stopGroup(wrangler);
        throw error;
      }
      return { wrangler, port, baseUrl };
    };
    let started: Awaited<ReturnType<typeof startWrangler>> | undefined;
    for (let attempt = 1; !started; attempt++) {
      try {
        started = await startWrangler();
      } catch (error) {
        if (attempt >= 3) throw error;
      }
    }
    const { wrangler, port, baseUrl } = started;
    cleanups.push(() => stopGroup(wrangler));

    const config = parseConfig(vars);
    return {
      baseUrl,
      port,
      tokenFor: async ({ userId, sessionId = crypto.randomUUID(), roles = ["user"] }) =>
        (await issueAccessToken({ userId, sessionId, roles }, config)).token,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
