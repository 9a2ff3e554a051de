import { Redis } from "@upstash/redis";

/** Deletes every key under `prefix` through the Upstash bridge (SCAN, never KEYS). */
export async function deleteKeysWithPrefix(url: string, token: string, prefix: string): Promise<void> {
  const redis = new Redis({ url, token, enableTelemetry: false });
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, { match: `${prefix}*`, count: 500 });
    cursor = String(next);
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== "0");
}
