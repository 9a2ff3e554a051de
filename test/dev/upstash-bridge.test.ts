// The Upstash REST bridge, exercised through the real @upstash/redis client (what the Worker uses)
// against the machine's Redis at 127.0.0.1:6379. Keys live under a per-run prefix and are deleted after.
import { createServer } from "node:net";
import { Ratelimit } from "@upstash/ratelimit";
import { Redis } from "@upstash/redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startUpstashBridge, type UpstashBridge } from "../../dev/upstash-bridge.ts";
import { stripUnknownFlags } from "../../dev/upstash-scripts.ts";

const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const prefix = `test:dev-upstash:${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}:`;
const k = (name: string): string => `${prefix}${name}`;

let bridge: UpstashBridge;
let redis: Redis;
let redisPlain: Redis;

// retry: false so a failure shows up as one error, not five retries with backoff.
const client = (opts: { token?: string; encoding?: boolean } = {}): Redis =>
  new Redis({
    url: bridge.url,
    token: opts.token ?? bridge.token,
    enableTelemetry: false,
    retry: false,
    ...(opts.encoding === false ? { responseEncoding: false } : {}),
  });

beforeAll(async () => {
  bridge = await startUpstashBridge({ redisUrl: REDIS_URL, token: "test-token", commandTimeoutMs: 2000 });
  redis = client();
  redisPlain = client({ encoding: false });
});

afterAll(async () => {
  if (!bridge) return;
  bridge.setRedisTarget(REDIS_URL);
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, { match: `${prefix}*`, count: 500 });
    if (keys.length > 0) await redis.del(...keys);
    cursor = String(next);
  } while (cursor !== "0");
  await bridge.close();
});

describe("upstash bridge with @upstash/redis", () => {
  it("set/get with ex, px and nx", async () => {
    expect(await redis.set(k("a"), "one")).toBe("OK");
    expect(await redis.get(k("a"))).toBe("one");
    expect(await redis.set(k("a"), "two", { nx: true })).toBeNull();
    expect(await redis.get(k("a"))).toBe("one");
    expect(await redis.set(k("ex"), "v", { ex: 100 })).toBe("OK");
    const ttl = await redis.ttl(k("ex"));
    expect(ttl).toBeGreaterThan(90);
    expect(ttl).toBeLessThanOrEqual(100);
    await redis.set(k("px"), "v", { px: 50_000 });
    expect(await redis.pttl(k("px"))).toBeGreaterThan(40_000);
    expect(await redis.get(k("missing"))).toBeNull();
  });

  it("del, incr, expire, pexpire, ttl", async () => {
    expect(await redis.incr(k("n"))).toBe(1);
    expect(await redis.incrby(k("n"), 41)).toBe(42);
    expect(await redis.expire(k("n"), 30)).toBe(1);
    expect(await redis.ttl(k("n"))).toBeGreaterThan(25);
    expect(await redis.pexpire(k("n"), 90_000)).toBe(1);
    expect(await redis.pttl(k("n"))).toBeGreaterThan(80_000);
    expect(await redis.ttl(k("nope"))).toBe(-2);
    expect(await redis.del(k("n"), k("nope"))).toBe(1);
    expect(await redis.exists(k("n"))).toBe(0);
  });

  it("mset/mget and hashes", async () => {
    expect(await redis.mset({ [k("m1")]: "x", [k("m2")]: 2 })).toBe("OK");
    expect(await redis.mget(k("m1"), k("m2"), k("m3"))).toEqual(["x", 2, null]);
    expect(await redis.hset(k("h"), { name: "ann", age: 31, tags: ["a", "b"] })).toBe(3);
    expect(await redis.hget(k("h"), "name")).toBe("ann");
    expect(await redis.hgetall(k("h"))).toEqual({ name: "ann", age: 31, tags: ["a", "b"] });
    expect(await redis.hgetall(k("no-hash"))).toBeNull();
  });

  it("objects round-trip as @upstash/redis serializes them", async () => {
    const value = { id: 7, nested: { list: [1, "two", null], ok: true }, text: "héllo" };
    await redis.set(k("obj"), value);
    expect(await redis.get(k("obj"))).toEqual(value);
    // The raw stored bytes are the JSON text.
    expect(await redis.get<string>(k("obj"))).toEqual(value);
  });

  it("binary-unsafe strings survive with base64 encoding on and off", async () => {
    const tricky = 'ünïcødé 🚀 line1\nline2\r\n\t"quoted" \\ back\u0000nul';
    for (const c of [redis, redisPlain]) {
      await c.set(k("tricky"), tricky);
      expect(await c.get(k("tricky"))).toBe(tricky);
      expect(await c.hset(k("tricky-h"), { f: tricky })).toBeGreaterThanOrEqual(0);
      expect(await c.hget(k("tricky-h"), "f")).toBe(tricky);
      expect(await c.lpush(k(`tricky-l-${c === redis ? "b64" : "plain"}`), tricky, "x")).toBe(2);
      expect(await c.lrange(k(`tricky-l-${c === redis ? "b64" : "plain"}`), 0, -1)).toEqual(["x", tricky]);
    }
  });

  it("sends base64 only when asked", async () => {
    await redis.set(k("enc"), "hello");
    const post = (headers: Record<string, string>) =>
      fetch(bridge.url, {
        method: "POST",
        headers: { authorization: `Bearer ${bridge.token}`, ...headers },
        body: JSON.stringify(["GET", k("enc")]),
      }).then((r) => r.json());
    expect(await post({})).toEqual({ result: "hello" });
    expect(await post({ "Upstash-Encoding": "base64" })).toEqual({ result: Buffer.from("hello").toString("base64") });
  });

  it("pipeline, with per-command errors", async () => {
    const results = await redis
      .pipeline()
      .set(k("p"), "v")
      .get(k("p"))
      .incr(k("p"))
      .del(k("p"))
      .exec({ keepErrors: true });
    expect(results.map((r) => r.result)).toEqual(["OK", "v", undefined, 1]);
    expect(results[2]?.error).toMatch(/ERR value is not an integer/);
  });

  it("multi-exec runs as a transaction", async () => {
    const out = await redis.multi().set(k("t"), 1).incr(k("t")).incrby(k("t"), 10).get(k("t")).exec();
    expect(out).toEqual(["OK", 2, 12, 12]);
    // A syntax error while queueing aborts the whole transaction.
    const res = await fetch(`${bridge.url}/multi-exec`, {
      method: "POST",
      headers: { authorization: `Bearer ${bridge.token}` },
      body: JSON.stringify([
        ["SET", k("t2"), "x"],
        ["SET", k("t2")],
      ]),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/wrong number of arguments/);
    expect(await redis.exists(k("t2"))).toBe(0);
  });

  it("eval, evalsha and script load (as @upstash/ratelimit uses them)", async () => {
    const script = "redis.call('SET', KEYS[1], ARGV[1]); return {redis.call('GET', KEYS[1]), 42}";
    expect(await redis.eval(script, [k("lua")], ["from-lua"])).toEqual(["from-lua", 42]);
    const sha = await redis.scriptLoad(script);
    expect(sha).toMatch(/^[0-9a-f]{40}$/);
    expect(await redis.evalsha(sha, [k("lua")], ["again"])).toEqual(["again", 42]);
    expect(await redis.scriptExists(sha)).toEqual([1]);
    await expect(redis.evalsha("0".repeat(40), [], [])).rejects.toThrow(/NOSCRIPT/);
    // The Script helper tries EVALSHA and falls back to EVAL on NOSCRIPT.
    const s = redis.createScript<number>("return 7");
    expect(await s.exec([], [])).toBe(7);
  });

  it("@upstash/ratelimit works through it (scripts via EVALSHA with EVAL fallback)", async () => {
    for (const limiter of [
      Ratelimit.slidingWindow(2, "10 s"),
      Ratelimit.fixedWindow(2, "10 s"),
      Ratelimit.tokenBucket(1, "10 s", 2),
    ]) {
      const ratelimit = new Ratelimit({ redis, limiter, prefix: k("rl"), analytics: false, ephemeralCache: false });
      const id = `user-${Math.random().toString(36).slice(2)}`;
      const results = [await ratelimit.limit(id), await ratelimit.limit(id), await ratelimit.limit(id)];
      expect(results.map((r) => r.success)).toEqual([true, true, false]);
      expect(results[2]?.remaining).toBe(0);
    }
  });

  it("accepts Upstash-only shebang flags, keeping the client-side SHA1", async () => {
    expect(stripUnknownFlags("#!lua flags=allow-key-locking\nreturn 1")).toBe("#!lua\nreturn 1");
    expect(stripUnknownFlags("#!lua flags=no-writes,allow-key-locking\nreturn 1")).toBe(
      "#!lua flags=no-writes\nreturn 1",
    );
    expect(stripUnknownFlags("#!lua flags=no-writes\nreturn 1")).toBe("#!lua flags=no-writes\nreturn 1");
    expect(stripUnknownFlags("return 1")).toBe("return 1");

    const script = `#!lua flags=allow-key-locking\nreturn redis.call('INCR', KEYS[1]) -- ${prefix}`;
    const { createHash } = await import("node:crypto");
    const clientSha = createHash("sha1").update(script).digest("hex");
    expect(await redis.eval(script, [k("flags")], [])).toBe(1);
    expect(await redis.evalsha(clientSha, [k("flags")], [])).toBe(2);
    expect(await redis.scriptLoad(script)).toBe(clientSha);
    expect(await redis.scriptExists(clientSha)).toEqual([1]);
    const [viaPipeline] = await redis
      .pipeline()
      .evalsha(clientSha, [k("flags")], [])
      .exec();
    expect(viaPipeline).toBe(3);
  });

  it("propagates Redis errors with their message", async () => {
    await redis.set(k("str"), "not a number");
    await expect(redis.incr(k("str"))).rejects.toThrow(/ERR value is not an integer or out of range/);
    const res = await fetch(bridge.url, {
      method: "POST",
      headers: { authorization: `Bearer ${bridge.token}` },
      body: JSON.stringify(["INCR", k("str")]),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: "ERR value is not an integer or out of range" });
  });

  it("refuses commands that would change connection state", async () => {
    await expect(redis.exec(["SELECT", "1"])).rejects.toThrow(/not allowed/);
  });

  it("echoes an increasing upstash-sync-token", async () => {
    const call = () =>
      fetch(bridge.url, { method: "POST", headers: { authorization: `Bearer ${bridge.token}` }, body: '["PING"]' });
    const a = Number((await call()).headers.get("upstash-sync-token"));
    const b = Number((await call()).headers.get("upstash-sync-token"));
    expect(b).toBeGreaterThan(a);
  });

  it("rejects a wrong token with 401", async () => {
    await expect(client({ token: "wrong" }).get(k("a"))).rejects.toThrow(/Unauthorized/);
    const res = await fetch(bridge.url, { method: "POST", body: '["PING"]' });
    expect(res.status).toBe(401);
  });

  it("supports REST path commands for curl", async () => {
    const auth = { authorization: `Bearer ${bridge.token}` };
    expect(
      await (
        await fetch(`${bridge.url}/set/${encodeURIComponent(k("path"))}`, {
          method: "POST",
          headers: auth,
          body: "a b/c",
        })
      ).json(),
    ).toEqual({
      result: "OK",
    });
    expect(await (await fetch(`${bridge.url}/get/${encodeURIComponent(k("path"))}`, { headers: auth })).json()).toEqual(
      { result: "a b/c" },
    );
  });

  it("fails fast, without hanging, while Redis is down, and recovers", async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, "127.0.0.1", () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolve(port));
      });
    });
    bridge.setRedisTarget(`redis://127.0.0.1:${closedPort}`);
    const started = Date.now();
    await expect(redis.get(k("a"))).rejects.toThrow(/cannot reach redis/);
    expect(Date.now() - started).toBeLessThan(1000);
    bridge.setRedisTarget(REDIS_URL);
    expect(await redis.get(k("a"))).toBe("one");
  });

  it("times out when Redis accepts but never answers", async () => {
    // A TCP server that accepts and stays silent: the worst case for a client without deadlines.
    const sockets = new Set<import("node:net").Socket>();
    const silent = createServer((s) => sockets.add(s));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
    const { port } = silent.address() as { port: number };
    try {
      bridge.setRedisTarget(`redis://127.0.0.1:${port}`);
      const started = Date.now();
      await expect(redis.get(k("a"))).rejects.toThrow(/did not answer within 2000 ms/);
      expect(Date.now() - started).toBeLessThan(4000);
    } finally {
      bridge.setRedisTarget(REDIS_URL);
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });
});
