// Issue #14's newcomer path: `npm run dev`, stop, `npm run dev` again in the same checkout, with
// another project's keys already in the same Redis. Each start's first sign-up must work.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { devRedisKeyPrefix } from "../../dev/data-dir.ts";
import { RedisPool } from "../../dev/redis-resp.ts";
import { deleteKeys, startDevStack } from "../../dev/stack-process.ts";

const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

async function keysUnder(prefix: string): Promise<number> {
  const redis = new RedisPool(REDIS_URL);
  try {
    let cursor = "0";
    let count = 0;
    do {
      const [reply] = await redis.exec([["SCAN", cursor, "MATCH", `${prefix}*`, "COUNT", "500"]]);
      const [next, keys] = reply as [string, string[]];
      cursor = String(next);
      count += keys.length;
    } while (cursor !== "0");
    return count;
  } finally {
    redis.close();
  }
}

async function signUp(baseUrl: string, email: string): Promise<Response> {
  return fetch(`${baseUrl}/v1/auth/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password: "correct horse battery staple", name: "New" }),
    signal: AbortSignal.timeout(20_000),
  });
}

describe("npm run dev for a newcomer", () => {
  const folders: string[] = [];
  const folder = async (name: string) => {
    const dir = await mkdtemp(join(tmpdir(), `edge-dev-${name}-`));
    folders.push(dir);
    return dir;
  };

  afterAll(async () => {
    for (const dir of folders) {
      await deleteKeys(devRedisKeyPrefix(dir)).catch(() => {});
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it("signs up first time on every start, stop and restart included, beside another project's keys in the same Redis", async () => {
    // Production's auth rate limits on both stacks, so a shared bucket would show as a 429.
    const env = { AUTH_RATE_LIMIT_FACTOR: "1" };
    // Another project on this machine has used the same Redis: its sign-up bucket for this address is spent.
    const otherDir = await folder("other");
    const other = await startDevStack({ dataDir: otherDir, env });
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await signUp(other.baseUrl, `other${i}@example.test`);
      statuses.push(res.status);
      await res.body?.cancel();
    }
    await other.close({ keepRedisKeys: true });
    expect(statuses.at(-1)).toBe(429);
    const otherPrefix = devRedisKeyPrefix(otherDir);
    expect(await keysUnder(otherPrefix)).toBeGreaterThan(0);

    const ours = await folder("ours");
    expect(devRedisKeyPrefix(ours)).not.toBe(otherPrefix);
    for (const run of [1, 2]) {
      const stack = await startDevStack({ dataDir: ours, env });
      try {
        const res = await signUp(stack.baseUrl, `newcomer${run}@example.test`);
        expect(res.status, `${await res.clone().text()}\n${stack.output()}`).toBe(201);
        expect(stack.output()).toContain(`Redis keys: ${devRedisKeyPrefix(ours)}*`);
        await res.body?.cancel();
      } finally {
        // Stopped as Ctrl-C stops it: its keys and data stay for the next start.
        await stack.close({ keepRedisKeys: true });
      }
    }
    expect(await keysUnder(otherPrefix)).toBeGreaterThan(0);
  }, 400_000);
});
