import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createLogger } from "../../common/logger.ts";
import { createSettingsCache, type SettingsCache } from "../../src/features/settings/cache.ts";
import { LocalSnapshot } from "../../src/features/settings/local-snapshot.ts";
import { DEFAULT_READ_TIMING } from "../../src/features/settings/reader.ts";
import { createSettingsRepository, type SettingsRepository } from "../../src/features/settings/repository.ts";
import { settingsOver } from "./support/settings-service.ts";
import {
  type CountingDatabase,
  call,
  callerWith,
  countingDatabase,
  DEAD_HTTP,
  isolatedPrefix,
  jsonInit,
  testRedis,
  uniqueKey,
} from "./support/settings.ts";

/**
 * The isolate's local snapshot in front of the Redis snapshot: reads from memory at steady state, one
 * revalidation per TTL off the request path, read-your-writes on the writing instance, and the
 * cross-instance bound (TTL + one revalidation) proved with two separately built instances over the
 * same Redis and Postgres, on an injected clock.
 */

const TTL_MS = 1_000;
const GRACE_MS = 1_500;
const log = createLogger("error");
const create = { ifNoneMatch: { any: true, strong: [], all: [] } };
const ifMatch = (v: number) => ({ ifMatch: { any: false, strong: [v], all: [v] } });
const actor = crypto.randomUUID();

let pg: CountingDatabase;
beforeEach(async () => {
  pg = await countingDatabase();
});
afterEach(async () => {
  await pg.close();
});

/** Counts every call to the cache, and can make each one fail or hang from a moment on. */
function instrumented(cache: SettingsCache) {
  const calls: string[] = [];
  let mode: "up" | "down" | "hang" = "up";
  const wrapped = new Proxy(cache, {
    get(target, prop: keyof SettingsCache) {
      const method = target[prop] as (...args: unknown[]) => Promise<unknown>;
      return (...args: unknown[]) => {
        calls.push(String(prop));
        if (mode === "down") return Promise.reject(new Error("redis down"));
        if (mode === "hang") return new Promise(() => {});
        return method.apply(target, args);
      };
    },
  });
  return {
    cache: wrapped,
    calls,
    set: (m: typeof mode) => {
      mode = m;
    },
  };
}

interface InstanceOptions {
  prefix: string;
  now: () => number;
  repo?: SettingsRepository;
  redisUrl?: string;
}

/** One "instance": its own service, cache client and local snapshot, over the shared Redis and Postgres. */
function instance(options: InstanceOptions) {
  const redis = instrumented(
    createSettingsCache(testRedis(options.redisUrl), {
      prefix: options.prefix,
      lockMs: 5_000,
      snapshotTtlMs: 60_000,
      maxSnapshotBytes: 4 * 1024 * 1024,
    }),
  );
  let tasks: Promise<unknown>[] = [];
  const local = new LocalSnapshot({ ttlMs: TTL_MS, graceMs: GRACE_MS });
  const service = settingsOver({
    repo: options.repo ?? createSettingsRepository(pg.db),
    cache: redis.cache,
    local,
    events: { publish: async () => {} },
    background: { waitUntil: (work) => void tasks.push(work) },
    log,
    databaseTimeoutMs: 5_000,
    now: options.now,
  });
  const settled = async () => {
    const pending = tasks;
    tasks = [];
    await Promise.allSettled(pending);
    return pending.length;
  };
  return { service, redis, local, settled, pendingTasks: () => tasks.length };
}

function clockAt(start = 1_700_000_000_000) {
  const state = { t: start };
  return {
    now: () => state.t,
    advance: (ms: number) => {
      state.t += ms;
    },
    state,
  };
}

describe("the local settings snapshot at steady state", () => {
  it("answers 1,000 reads from memory: no Postgres query, one generation check per TTL, none on the request path", async () => {
    const clock = clockAt();
    const prefix = isolatedPrefix("local-steady");
    const a = instance({ prefix, now: clock.now });
    const key = uniqueKey("local-steady");
    await a.service.put({ key, value: { n: 1 }, visibility: "public", preconditions: create, actor });
    a.redis.calls.length = 0;
    const queries = pg.queries();
    const sources = new Set<string>();
    // 1,000 reads over 5 TTL windows: each window's first read past the TTL hands one check to waitUntil.
    for (let i = 0; i < 1_000; i++) {
      const r = i % 2 === 0 ? await a.service.get("anonymous", key) : await a.service.list("user");
      sources.add(r.source);
      if (i % 200 === 199) {
        clock.advance(TTL_MS);
        await a.settled();
      }
    }
    expect([...sources]).toEqual(["memory"]);
    expect(pg.queries() - queries).toBe(0);
    expect(a.redis.calls).toEqual(["readGeneration", "readGeneration", "readGeneration", "readGeneration"]);
  });

  it("never makes a request wait on Redis once warm: a hanging Redis does not hold a read up", async () => {
    const clock = clockAt();
    const a = instance({ prefix: isolatedPrefix("local-hang"), now: clock.now });
    const key = uniqueKey("local-hang");
    await a.service.put({ key, value: "v", visibility: "public", preconditions: create, actor });
    await a.settled(); // the write's publish
    a.redis.set("hang");
    clock.advance(TTL_MS); // due for revalidation: it starts, and hangs, in the background
    const reads = await Promise.all(Array.from({ length: 50 }, () => a.service.get("anonymous", key)));
    expect(reads.every((r) => r.source === "memory" && r.data.value === "v")).toBe(true);
    expect(a.pendingTasks()).toBe(1); // one revalidation for the window, not one per read
  });

  it("makes one read through Redis for a burst of concurrent requests on an idle isolate, not one each", async () => {
    const clock = clockAt();
    const a = instance({ prefix: isolatedPrefix("local-burst"), now: clock.now });
    const key = uniqueKey("local-burst");
    await a.service.put({ key, value: "v", visibility: "public", preconditions: create, actor });
    await a.settled();
    clock.advance(TTL_MS + GRACE_MS); // idle past the bound: the next reads go through Redis
    a.redis.calls.length = 0;
    const reads = await Promise.all(Array.from({ length: 50 }, () => a.service.get("anonymous", key)));
    expect(reads.every((r) => r.source === "cache" && r.data.value === "v")).toBe(true);
    expect(a.redis.calls).toEqual(["probeAll"]);
    expect((await a.service.get("anonymous", key)).source).toBe("memory");
  });

  it("answers from memory for a request whose clock lags the last check (Workers freeze Date.now per request)", async () => {
    const clock = clockAt();
    const a = instance({ prefix: isolatedPrefix("local-lag"), now: clock.now });
    const key = uniqueKey("local-lag");
    await a.service.put({ key, value: "v", visibility: "public", preconditions: create, actor });
    a.redis.calls.length = 0;
    clock.advance(-50); // a concurrent request still running on the time of its own last I/O
    expect(await a.service.get("anonymous", key)).toMatchObject({ source: "memory", data: { value: "v" } });
    clock.advance(-TTL_MS); // a clock that jumped back by more than the TTL is not trusted
    expect((await a.service.get("anonymous", key)).source).toBe("cache");
    expect(a.redis.calls).toEqual(["probeAll"]);
  });

  it("shows a write through the same instance to its very next read, from memory (read-your-writes)", async () => {
    const clock = clockAt();
    const a = instance({ prefix: isolatedPrefix("local-ryw"), now: clock.now });
    const key = uniqueKey("local-ryw");
    await a.service.put({ key, value: 1, visibility: "public", preconditions: create, actor });
    expect((await a.service.get("anonymous", key)).source).toBe("memory");
    await a.service.put({ key, value: 2, preconditions: ifMatch(1), actor });
    a.redis.calls.length = 0;
    expect(await a.service.get("anonymous", key)).toMatchObject({ source: "memory", data: { version: 2, value: 2 } });
    expect(a.redis.calls).toEqual([]);
    await a.service.remove({ key, preconditions: ifMatch(2), actor });
    a.redis.calls.length = 0;
    await expect(a.service.get("anonymous", key)).rejects.toMatchObject({ status: 404 });
    expect(a.redis.calls).toEqual([]);
  });
});

describe("the cross-instance staleness bound: TTL + one revalidation", () => {
  it("serves a write on instance A from instance B within the bound, and never later", async () => {
    const clock = clockAt();
    const prefix = isolatedPrefix("local-bound");
    const a = instance({ prefix, now: clock.now });
    const b = instance({ prefix, now: clock.now });
    const key = uniqueKey("local-bound");
    await a.service.put({ key, value: "old", visibility: "public", preconditions: create, actor });
    expect((await b.service.get("anonymous", key)).data.value).toBe("old"); // B warm, validated at t0
    const t0 = clock.state.t;

    clock.advance(400);
    await a.service.put({ key, value: "new", preconditions: ifMatch(1), actor }); // written at t0 + 400
    expect((await a.service.get("anonymous", key)).data.value).toBe("new");

    // Within the TTL B may still serve its copy: that is the bound's first term.
    clock.state.t = t0 + TTL_MS - 1;
    expect(await b.service.get("anonymous", key)).toMatchObject({ source: "memory", data: { value: "old" } });
    // At the TTL, B still answers from memory and hands one revalidation to the background...
    clock.state.t = t0 + TTL_MS;
    expect(await b.service.get("anonymous", key)).toMatchObject({ source: "memory", data: { value: "old" } });
    expect(await b.settled()).toBe(1);
    // ...which found the new generation: from the next read on, B serves the write.
    expect(await b.service.get("anonymous", key)).toMatchObject({ source: "memory", data: { value: "new" } });
  });

  it("goes through Redis once TTL + grace has passed without a revalidation (an idle isolate)", async () => {
    const clock = clockAt();
    const prefix = isolatedPrefix("local-idle");
    const a = instance({ prefix, now: clock.now });
    const b = instance({ prefix, now: clock.now });
    const key = uniqueKey("local-idle");
    await a.service.put({ key, value: "old", visibility: "public", preconditions: create, actor });
    await b.service.get("anonymous", key);
    const t0 = clock.state.t;
    await a.service.put({ key, value: "new", preconditions: ifMatch(1), actor });
    // No read on B in [TTL, TTL + grace): nothing revalidated. The first read after the bound is current.
    clock.state.t = t0 + TTL_MS + GRACE_MS;
    expect(await b.service.get("anonymous", key)).toMatchObject({ source: "cache", data: { value: "new" } });
    expect(b.pendingTasks()).toBe(0);
    expect(await b.service.get("anonymous", key)).toMatchObject({ source: "memory", data: { value: "new" } });
  });

  it("never serves a copy past the bound while its revalidation hangs", async () => {
    const clock = clockAt();
    const prefix = isolatedPrefix("local-slow");
    const a = instance({ prefix, now: clock.now });
    const b = instance({ prefix, now: clock.now });
    const key = uniqueKey("local-slow");
    await a.service.put({ key, value: "old", visibility: "public", preconditions: create, actor });
    await b.service.get("anonymous", key);
    const t0 = clock.state.t;
    await a.service.put({ key, value: "new", preconditions: ifMatch(1), actor });
    b.redis.set("hang");
    clock.state.t = t0 + TTL_MS;
    expect((await b.service.get("anonymous", key)).data.value).toBe("old"); // revalidation started, hanging
    clock.state.t = t0 + TTL_MS + GRACE_MS - 1;
    expect((await b.service.get("anonymous", key)).data.value).toBe("old");
    b.redis.set("up");
    clock.state.t = t0 + TTL_MS + GRACE_MS;
    expect(await b.service.get("anonymous", key)).toMatchObject({ source: "cache", data: { value: "new" } });
  });

  it("holds with a real clock: B shows A's write within TTL + one revalidation", async () => {
    const prefix = isolatedPrefix("local-real");
    const ttl = 200;
    const build = () => {
      const redis = createSettingsCache(testRedis(), {
        prefix,
        lockMs: 5_000,
        snapshotTtlMs: 60_000,
        maxSnapshotBytes: 1 << 22,
      });
      const tasks: Promise<unknown>[] = [];
      const service = settingsOver({
        repo: createSettingsRepository(pg.db),
        cache: redis,
        local: new LocalSnapshot({ ttlMs: ttl, graceMs: GRACE_MS }),
        events: { publish: async () => {} },
        background: { waitUntil: (work) => void tasks.push(work) },
        log,
        databaseTimeoutMs: 5_000,
      });
      return { service, settled: () => Promise.allSettled(tasks.splice(0)) };
    };
    const a = build();
    const b = build();
    const key = uniqueKey("local-real");
    await a.service.put({ key, value: 0, visibility: "public", preconditions: create, actor });
    await b.service.get("anonymous", key);
    const written = performance.now();
    await a.service.put({ key, value: 1, preconditions: ifMatch(1), actor });
    const committed = performance.now();
    let seenAt = Number.POSITIVE_INFINITY;
    // Each read either answers or hands a revalidation to the background; awaiting it is the event.
    while (performance.now() - written < ttl + GRACE_MS + 1_000) {
      const r = await b.service.get("anonymous", key);
      if (r.data.value === 1) {
        seenAt = performance.now();
        break;
      }
      await b.settled();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(seenAt - committed).toBeLessThanOrEqual(ttl + GRACE_MS);
  });
});

describe("the local snapshot under faults (today's behaviour after at most TTL + grace)", () => {
  it("keeps answering from memory while a refill waits on a slow Postgres", async () => {
    const clock = clockAt();
    let release: () => void = () => {};
    let entered: () => void = () => {};
    const refillWaiting = new Promise<void>((resolve) => {
      entered = resolve;
    });
    let slow = false;
    const real = createSettingsRepository(pg.db);
    const repo: SettingsRepository = {
      ...real,
      listAll: async () => {
        if (slow) {
          await new Promise<void>((resolve) => {
            release = resolve;
            entered();
          });
        }
        return real.listAll();
      },
    };
    const a = instance({ prefix: isolatedPrefix("local-slow-pg"), now: clock.now, repo });
    const key = uniqueKey("local-slow-pg");
    await a.service.put({ key, value: "v", visibility: "public", preconditions: create, actor });
    await a.settled();
    // Steady reads up to the Redis snapshot's freshness window: each window's check is one GET.
    for (let t = TTL_MS; t < DEFAULT_READ_TIMING.freshMs; t += TTL_MS) {
      clock.advance(TTL_MS);
      await a.service.get("anonymous", key);
      await a.settled();
    }
    slow = true;
    // Past the window: the revalidation confirms the generation, then refills (stuck on Postgres).
    clock.advance(TTL_MS);
    const before = a.local.entry?.validatedAt;
    expect((await a.service.get("anonymous", key)).source).toBe("memory");
    for (let i = 0; i < 200 && a.local.entry?.validatedAt === before; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(a.local.entry?.validatedAt).toBe(clock.state.t);
    // The refill is stuck on Postgres; reads within the new window still answer from memory.
    clock.advance(TTL_MS + GRACE_MS - 1);
    const reads = await Promise.all(Array.from({ length: 20 }, () => a.service.get("anonymous", key)));
    expect(reads.every((r) => r.source === "memory")).toBe(true);
    await refillWaiting;
    release();
    await a.settled();
    expect(a.local.entry?.builtAt).toBeGreaterThanOrEqual(clock.state.t - TTL_MS - GRACE_MS);
  });

  it("Redis down: memory within the bound, then Postgres (current), as without the local copy", async () => {
    const clock = clockAt();
    const a = instance({ prefix: isolatedPrefix("local-redis-down"), now: clock.now });
    const key = uniqueKey("local-redis-down");
    await a.service.put({ key, value: "v1", visibility: "public", preconditions: create, actor });
    a.redis.set("down");
    clock.advance(TTL_MS);
    expect((await a.service.get("anonymous", key)).source).toBe("memory");
    await a.settled(); // the revalidation fails, logged
    clock.advance(GRACE_MS);
    expect(await a.service.get("anonymous", key)).toMatchObject({ source: "database", data: { value: "v1" } });
    expect((await a.service.list("anonymous")).source).toBe("database");
    // A write while Redis is down drops this instance's copy: its reads stay current from Postgres.
    const written = await a.service.put({ key, value: "v2", preconditions: ifMatch(1), actor });
    expect(written.setting.version).toBe(2);
    expect(a.local.entry).toBeNull();
    expect(await a.service.get("anonymous", key)).toMatchObject({ source: "database", data: { value: "v2" } });
  });

  it("Postgres down: memory, then the Redis snapshot (current: cache; outdated: stale-cache)", async () => {
    const clock = clockAt();
    const prefix = isolatedPrefix("local-pg-down");
    const writer = instance({ prefix, now: clock.now });
    const key = uniqueKey("local-pg-down");
    await writer.service.put({ key, value: "kept", visibility: "public", preconditions: create, actor });
    const real = createSettingsRepository(pg.db);
    const down: SettingsRepository = {
      ...real,
      listAll: () => Promise.reject(new Error("connection refused")),
      get: () => Promise.reject(new Error("connection refused")),
    };
    const b = instance({ prefix, now: clock.now, repo: down });
    expect(await b.service.get("anonymous", key)).toMatchObject({ source: "cache", data: { value: "kept" } });
    expect((await b.service.get("anonymous", key)).source).toBe("memory");
    // A commit elsewhere replaced the generation; its refill never came. Past the bound B says stale-cache.
    await writer.redis.cache.invalidate();
    clock.advance(TTL_MS + GRACE_MS);
    expect(await b.service.get("anonymous", key)).toMatchObject({ source: "stale-cache", data: { value: "kept" } });
    await expect(b.service.put({ key, value: "x", preconditions: ifMatch(1), actor })).rejects.toMatchObject({
      status: 503,
    });
  });

  it("both down: memory within the bound, then 503", async () => {
    const clock = clockAt();
    let postgresDown = false;
    const real = createSettingsRepository(pg.db);
    const switchable: SettingsRepository = {
      ...real,
      listAll: () => (postgresDown ? Promise.reject(new Error("connection refused")) : real.listAll()),
    };
    const a = instance({ prefix: isolatedPrefix("local-both-down"), now: clock.now, repo: switchable });
    const key = uniqueKey("local-both-down");
    await a.service.put({ key, value: "v", visibility: "public", preconditions: create, actor });
    a.redis.set("down");
    postgresDown = true;
    clock.advance(TTL_MS + GRACE_MS - 1);
    expect(await a.service.get("anonymous", key)).toMatchObject({ source: "memory", data: { value: "v" } });
    await a.settled();
    clock.advance(1);
    await expect(a.service.get("anonymous", key)).rejects.toMatchObject({ status: 503 });
    await expect(a.service.list("anonymous")).rejects.toMatchObject({ status: 503 });
  });

  it("keeps the Redis freshness window for a write that could not reach Redis: no copy outlives it", async () => {
    const clock = clockAt();
    const prefix = isolatedPrefix("local-fresh");
    const reader = instance({ prefix, now: clock.now });
    const cut = instance({ prefix, now: clock.now, redisUrl: DEAD_HTTP });
    const key = uniqueKey("local-fresh");
    await reader.service.put({ key, value: "old", visibility: "public", preconditions: create, actor });
    await cut.service.put({ key, value: "new", preconditions: ifMatch(1), actor });
    // The generation never moved, so B's checks pass; but once the Redis snapshot is past its
    // freshness window the revalidation reads it in full, which refills from Postgres.
    for (let t = 0; t < DEFAULT_READ_TIMING.freshMs; t += TTL_MS) {
      clock.advance(TTL_MS);
      await reader.service.get("anonymous", key);
      await reader.settled();
    }
    expect((await reader.service.get("anonymous", key)).data.value).toBe("new");
  });
});

describe("the local snapshot through the Worker", () => {
  it("answers a repeated read from memory and a write's next read with the write", async () => {
    const admin = await callerWith(["admin"]);
    const key = uniqueKey("local-http");
    const put = await call(
      `/v1/settings/${key}`,
      jsonInit("PUT", { value: "a", visibility: "public" }, { ...admin.headers, "If-None-Match": "*" }),
    );
    expect(put.status).toBe(201);
    const first = await call(`/v1/settings/${key}`);
    expect(first.headers.get("X-Settings-Source")).toBe("memory");
    expect(await first.json()).toMatchObject({ value: "a", version: 1 });
    const update = await call(
      `/v1/settings/${key}`,
      jsonInit("PUT", { value: "b" }, { ...admin.headers, "If-Match": '"1"' }),
    );
    expect(update.status).toBe(200);
    const next = await call(`/v1/settings/${key}`);
    expect(next.headers.get("X-Settings-Source")).toBe("memory");
    expect(await next.json()).toMatchObject({ value: "b", version: 2 });
  });
});
