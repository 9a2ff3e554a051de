// N linked instances (real runtimes/node.ts, deno.ts or bun.ts processes) on the machine's Redis
// (REDIS_URL, under a key prefix of their own), in front of one local stack with a fresh Postgres
// database: the fleet a load balancer without sticky sessions would spread clients over.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "../../../dev/free-port.ts";
import { startLocalStack } from "../../../dev/local-stack.ts";
import { createTestDatabase } from "../../../dev/test-database.ts";
import { openLinkRedis } from "../../../runtimes/linked/redis-link.ts";
import { migrateDatabase } from "../../../scripts/migrate.ts";
import { parseConfig } from "../../../src/core/config.ts";
import { createLogger } from "../../../common/logger.ts";
import { issueAccessToken } from "../../../src/features/auth/access-token.ts";
import { testJwtKeys } from "../../support/keys.ts";
import { stopGroup, waitForHealth } from "./rooms-stack.ts";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const POSTGRES_ADMIN_URL = process.env.TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

export type LinkedRuntime = "node" | "deno" | "bun";

export interface LinkedInstance {
  runtime: LinkedRuntime;
  baseUrl: string;
  wsBase: string;
  child: ChildProcess;
  /** SIGKILL: no shutdown hook runs, as when the machine dies. */
  kill(): Promise<void>;
}

export interface LinkedFleet {
  instances: LinkedInstance[];
  prefix: string;
  tokenFor(user: { userId: string; sessionId?: string }): Promise<string>;
  close(): Promise<void>;
}

function commandFor(runtime: LinkedRuntime): [string, string[]] {
  const bin = (name: string) => join(ROOT, "node_modules/.bin", name);
  switch (runtime) {
    case "node":
      return [process.execPath, [join(ROOT, "runtimes/node.ts")]];
    case "deno":
      return [
        bin("deno"),
        ["run", "--allow-net", "--allow-env", "--allow-read", "--allow-sys=osRelease", join(ROOT, "runtimes/deno.ts")],
      ];
    case "bun":
      return [bin("bun"), [join(ROOT, "runtimes/bun.ts")]];
  }
}

/** `perInstance[i]` overrides variables of instance i (e.g. its REDIS_URL through a proxy). */
export async function startLinkedFleet(
  runtimes: LinkedRuntime[],
  extraVars: Record<string, string> = {},
  perInstance: Array<Record<string, string>> = [],
): Promise<LinkedFleet> {
  const cleanups: Array<() => Promise<unknown>> = [];
  const close = async () => {
    for (const fn of cleanups.reverse()) await fn().catch((e: unknown) => console.error("linked fleet cleanup:", e));
  };
  const prefix = `test:linked-fleet:${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}:`;
  try {
    const workDir = await mkdtemp(join(tmpdir(), "linked-fleet-"));
    cleanups.push(() => rm(workDir, { recursive: true, force: true }));
    const database = await createTestDatabase(POSTGRES_ADMIN_URL);
    cleanups.push(() => database.drop());
    await migrateDatabase(database.url);
    const stack = await startLocalStack({ databaseUrl: database.url, dataDir: workDir, bucket: "linked-fleet" });
    cleanups.push(() => stack.close());
    cleanups.push(() => deleteLinkKeys(prefix));

    const vars: Record<string, string> = {
      ...stack.vars,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      JWT_KEYS: JSON.stringify(testJwtKeys),
      LOG_LEVEL: "warn",
      HOST: "127.0.0.1",
      ...extraVars,
    };
    const instances: LinkedInstance[] = [];
    for (const [index, runtime] of runtimes.entries()) {
      const port = await freePort();
      const [cmd, args] = commandFor(runtime);
      const child = spawn(cmd, args, {
        cwd: ROOT,
        stdio: ["ignore", "inherit", "inherit"],
        detached: true,
        env: { ...process.env, ...vars, ...perInstance[index], PORT: String(port), DENO_NO_UPDATE_CHECK: "1" },
      });
      cleanups.push(() => stopGroup(child));
      const baseUrl = `http://127.0.0.1:${port}`;
      instances.push({
        runtime,
        baseUrl,
        wsBase: baseUrl.replace(/^http/, "ws"),
        child,
        kill: () => {
          if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
          const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
          process.kill(-(child.pid as number), "SIGKILL");
          return exited;
        },
      });
    }
    await Promise.all(instances.map((i) => waitForHealth(`${i.baseUrl}/healthz`, i.child, 120_000)));
    const config = parseConfig(vars);
    return {
      instances,
      prefix,
      tokenFor: async ({ userId, sessionId = crypto.randomUUID() }) =>
        (await issueAccessToken({ userId, sessionId, roles: ["user"] }, config)).token,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Removes every key of the fleet (SCAN, never KEYS: the Redis is shared). */
async function deleteLinkKeys(prefix: string): Promise<void> {
  const redis = openLinkRedis({ url: TEST_REDIS_URL, log: createLogger("error") });
  try {
    await redis.whenReady();
    let cursor = "0";
    do {
      const [next, keys] = (await redis.command(["SCAN", cursor, "MATCH", `${prefix}*`, "COUNT", "500"])) as [
        string,
        string[],
      ];
      cursor = next;
      if (keys.length > 0) await redis.command(["DEL", ...keys]);
    } while (cursor !== "0");
  } finally {
    await redis.close();
  }
}
