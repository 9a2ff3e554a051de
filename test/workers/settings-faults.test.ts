import { describe, expect, it } from "vitest";
import { createSettingsCache } from "../../src/features/settings/cache.ts";
import {
  callerWith,
  callWithEnv,
  DEAD_HTTP,
  DEAD_WS,
  isolatedPrefix,
  jsonInit,
  testRedis,
  uniqueKey,
} from "./support/settings.ts";

/**
 * The HTTP behaviour of settings while Redis, Postgres or both are unreachable, through the whole
 * app. Every call carries a Redis key prefix of this file's own, so nothing here disturbs the cache
 * other test files read.
 */

const prefix = isolatedPrefix("faults");
const admin = await callerWith(["admin"]);
const up = { REDIS_KEY_PREFIX: prefix };
const redisDown = { ...up, UPSTASH_REDIS_REST_URL: DEAD_HTTP };
const postgresDown = { ...up, DATABASE_WS_PROXY: DEAD_WS };
const bothDown = { ...redisDown, ...postgresDown };

const read = (key: string, env: Record<string, unknown>) => callWithEnv(`/v1/settings/${key}`, env);
const write = (key: string, value: unknown, headers: Record<string, string>, env: Record<string, unknown>) =>
  callWithEnv(
    `/v1/settings/${key}`,
    env,
    jsonInit("PUT", { value, visibility: "public" }, { ...admin.headers, ...headers }),
  );
const historyOf = async (key: string) => {
  const res = await callWithEnv(`/v1/settings/${key}/history`, up, { headers: admin.headers });
  return ((await res.json()) as { items: { version: number }[] }).items.map((i) => i.version);
};
const body = async (res: Response) => (await res.json()) as { version: number; value: unknown };

describe("settings with Redis unreachable", () => {
  it("commits writes and reads them from Postgres, saying so", async () => {
    const key = uniqueKey("redis-down");
    const created = await write(key, "a", { "If-None-Match": "*" }, redisDown);
    expect(created.status).toBe(201);
    const updated = await write(key, "b", { "If-Match": '"1"' }, redisDown);
    expect(updated.status).toBe(200);
    const res = await read(key, redisDown);
    expect(res.status).toBe(200);
    expect(res.headers.get("X-Settings-Source")).toBe("database");
    expect(await body(res)).toMatchObject({ version: 2, value: "b" });
    const list = await callWithEnv("/v1/settings", redisDown);
    expect(list.headers.get("X-Settings-Source")).toBe("database");
    expect(await historyOf(key)).toEqual([2, 1]);
  });
});

describe("settings with Postgres unreachable", () => {
  it("refuses writes with 503 and Retry-After, leaving nothing half-written", async () => {
    const key = uniqueKey("pg-down-write");
    expect((await write(key, "kept", { "If-None-Match": "*" }, up)).status).toBe(201);
    const started = Date.now();
    const refused = await write(key, "lost", { "If-Match": '"1"' }, postgresDown);
    expect(refused.status).toBe(503);
    expect(refused.headers.get("Retry-After")).toMatch(/^\d+$/);
    expect(refused.headers.get("Content-Type")).toContain("application/problem+json");
    expect(Date.now() - started).toBeLessThan(5_000);
    const del = await callWithEnv(`/v1/settings/${key}`, postgresDown, {
      method: "DELETE",
      headers: { ...admin.headers, "If-Match": '"1"' },
    });
    expect(del.status).toBe(503);
    expect(await historyOf(key)).toEqual([1]);
    expect(await body(await read(key, up))).toMatchObject({ version: 1, value: "kept" });
  });

  it("answers a current snapshot from the cache without noticing, and an outdated one marked stale-cache", async () => {
    const key = uniqueKey("pg-down-read");
    await write(key, "cached", { "If-None-Match": "*" }, up);
    const fresh = await read(key, postgresDown);
    expect(fresh.status).toBe(200);
    expect(fresh.headers.get("X-Settings-Source")).toBe("cache");

    // A commit elsewhere replaced the cache generation, and its refill has not happened yet.
    await createSettingsCache(testRedis(), {
      prefix,
      lockMs: 1_000,
      snapshotTtlMs: 60_000,
      maxSnapshotBytes: 1 << 22,
    }).invalidate();
    const stale = await read(key, postgresDown);
    expect(stale.status).toBe(200);
    expect(stale.headers.get("X-Settings-Source")).toBe("stale-cache");
    expect(await body(stale)).toMatchObject({ version: 1, value: "cached" });
    const list = await callWithEnv("/v1/settings", postgresDown);
    expect(list.headers.get("X-Settings-Source")).toBe("stale-cache");

    // Once Postgres is back (and the short "Postgres is down" pause has passed), reads refill the cache.
    let source = "";
    const deadline = Date.now() + 8_000;
    while (Date.now() < deadline) {
      const res = await read(key, up);
      source = res.headers.get("X-Settings-Source") ?? "";
      if (source !== "stale-cache") break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(source).toBe("database");
    expect((await read(key, up)).headers.get("X-Settings-Source")).toBe("cache");
  });
});

describe("settings with Redis and Postgres both unreachable", () => {
  it("answers reads and writes with 503 and Retry-After, promptly", async () => {
    const key = uniqueKey("both-down");
    const started = Date.now();
    const res = await read(key, bothDown);
    expect(res.status).toBe(503);
    expect(res.headers.get("Retry-After")).toMatch(/^\d+$/);
    const list = await callWithEnv("/v1/settings", bothDown);
    expect(list.status).toBe(503);
    const put = await write(key, 1, { "If-None-Match": "*" }, bothDown);
    expect(put.status).toBe(503);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
