import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { Pool } from "@neondatabase/serverless";
import { drizzle } from "drizzle-orm/neon-serverless";
import { createPostgres, type Database } from "../../../src/adapters/postgres.ts";
import { createRedis, type Redis } from "../../../src/adapters/redis.ts";
import { createApp } from "../../../src/app.ts";
import { configFor } from "../../../src/core/config.ts";
import * as schema from "../../../src/db/schema.ts";
import { issueAccessToken } from "../../../src/features/auth/access-token.ts";

/**
 * Helpers for the settings tests: callers with a role (tokens minted directly; settings keep no
 * foreign key to users), calls through the real Worker or through an app whose env points a
 * dependency at a dead port, and a Postgres handle that counts every SQL statement it sends.
 */

/** A port nothing listens on: connecting fails at once, as with a stopped service. */
export const DEAD_HTTP = "http://127.0.0.1:9";
export const DEAD_WS = "ws://127.0.0.1:9/v1";

export interface Caller {
  userId: string;
  headers: { Authorization: string };
}

export async function callerWith(roles: string[]): Promise<Caller> {
  const userId = crypto.randomUUID();
  const { token } = await issueAccessToken({ userId, roles, sessionId: crypto.randomUUID() }, configFor(env));
  return { userId, headers: { Authorization: `Bearer ${token}` } };
}

/** A key no other test uses. */
export const uniqueKey = (label: string): string => `test.${label}.${crypto.randomUUID().slice(0, 8)}`;

export const call = (path: string, init?: RequestInit): Promise<Response> =>
  exports.default.fetch(new Request(`http://edge.test${path}`, init));

const app = createApp();

/** Calls the app with env overrides (e.g. a dependency at a dead port), waiting for background work. */
export async function callWithEnv(
  path: string,
  overrides: Record<string, unknown>,
  init?: RequestInit,
): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(`http://edge.test${path}`, init), { ...env, ...overrides }, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

export const jsonInit = (method: string, body: unknown, headers: Record<string, string>): RequestInit => ({
  method,
  headers: { "Content-Type": "application/json", ...headers },
  body: JSON.stringify(body),
});

export interface CountingDatabase {
  db: Database;
  /** SQL statements sent so far (BEGIN/COMMIT of a transaction not included). */
  queries(): number;
  close(): Promise<void>;
}

/** Drizzle over its own pool with a logger that counts statements: the proof of "no query on a hit". */
export async function countingDatabase(): Promise<CountingDatabase> {
  const config = configFor(env);
  // createPostgres points the Neon driver at the test's ws bridge; its own pool is not used.
  await createPostgres({ url: config.DATABASE_URL, wsProxy: config.DATABASE_WS_PROXY, timeoutMs: 5_000 }).close();
  const pool = new Pool({
    connectionString: config.DATABASE_URL,
    connectionTimeoutMillis: 5_000,
    query_timeout: 5_000,
    max: 4,
  });
  pool.on("error", () => {});
  let count = 0;
  const db = drizzle({ client: pool, schema, logger: { logQuery: () => void count++ } });
  return { db, queries: () => count, close: () => pool.end() };
}

export function testRedis(url = configFor(env).UPSTASH_REDIS_REST_URL): Redis {
  const config = configFor(env);
  return createRedis({ url: url ?? DEAD_HTTP, token: config.UPSTASH_REDIS_REST_TOKEN ?? "none", timeoutMs: 1_500 });
}

/** The run's Redis prefix plus a label, so a test's cache cannot see another's. */
export const isolatedPrefix = (label: string): string =>
  `${configFor(env).REDIS_KEY_PREFIX}${label}-${crypto.randomUUID().slice(0, 8)}:`;

export const runPrefix = (): string => configFor(env).REDIS_KEY_PREFIX;
