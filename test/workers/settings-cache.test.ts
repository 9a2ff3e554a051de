import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import type { Deps } from "../../src/core/deps.ts";
import { createLogger } from "../../common/logger.ts";
import { ProblemError } from "../../src/core/problem.ts";
import { createSettingsCache } from "../../src/features/settings/cache.ts";
import type { SettingsEvents } from "../../src/features/settings/events.ts";
import type { SettingChanged } from "../../src/features/settings/model.ts";
import { DEFAULT_READ_TIMING, type ReadTiming } from "../../src/features/settings/reader.ts";
import { createSettingsRepository, type SettingsRepository } from "../../src/features/settings/repository.ts";
import { settingsOver } from "./support/settings-service.ts";
import { readSettingValue } from "../../src/features/settings/typed-setting.ts";
import {
  type CountingDatabase,
  countingDatabase,
  DEAD_HTTP,
  isolatedPrefix,
  testRedis,
  uniqueKey,
} from "./support/settings.ts";

/**
 * The settings service against the real Postgres and Redis, with the parts a test must control
 * injected: a statement-counting database, a clock, a cache key prefix of its own, and a recording
 * realtime publisher.
 */

const FRESH_MS = DEFAULT_READ_TIMING.freshMs;
const log = createLogger("error");
const noEvents: SettingsEvents = { publish: async () => {} };
const create = { ifNoneMatch: { any: true, strong: [], all: [] } };
const ifMatch = (v: number) => ({ ifMatch: { any: false, strong: [v], all: [v] } });

let pg: CountingDatabase;
beforeEach(async () => {
  pg = await countingDatabase();
});
afterEach(async () => {
  await pg.close();
});

interface Harness {
  prefix?: string;
  redisUrl?: string;
  now?: () => number;
  events?: SettingsEvents;
  repo?: SettingsRepository;
  publishTimeoutMs?: number;
  timing?: Partial<ReadTiming>;
}

function harness(options: Harness = {}) {
  const prefix = options.prefix ?? isolatedPrefix("svc");
  const cache = createSettingsCache(testRedis(options.redisUrl), {
    prefix,
    lockMs: 5_000,
    snapshotTtlMs: 60_000,
    maxSnapshotBytes: 4 * 1024 * 1024,
  });
  const tasks: Promise<unknown>[] = [];
  const service = settingsOver({
    repo: options.repo ?? createSettingsRepository(pg.db),
    cache,
    events: options.events ?? noEvents,
    background: { waitUntil: (work) => void tasks.push(work) },
    log,
    databaseTimeoutMs: 5_000,
    publishTimeoutMs: options.publishTimeoutMs,
    now: options.now,
    timing: options.timing,
  });
  return { service, cache, prefix, settled: () => Promise.allSettled(tasks) };
}

const actor = crypto.randomUUID();

describe("settings reads at steady state", () => {
  it("answers 1,000 reads from the cache with 0 Postgres queries", async () => {
    const now = () => 1_700_000_000_000;
    const { service } = harness({ now });
    const key = uniqueKey("steady");
    await service.put({ key, value: { n: 1 }, visibility: "public", preconditions: create, actor });
    const before = pg.queries();
    const sources = new Set<string>();
    const started = performance.now();
    for (let batch = 0; batch < 20; batch++) {
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? service.get("anonymous", key) : service.list("user"))),
      );
      for (const r of results) sources.add(r.source);
    }
    const ms = performance.now() - started;
    expect(pg.queries() - before).toBe(0);
    expect([...sources]).toEqual(["cache"]);
    console.log(
      `settings steady state: 1000 reads (50 concurrent), 0 Postgres queries, ${Math.round(1_000_000 / ms)} reads/s`,
    );
  });

  it("lets one of 25 concurrent misses read Postgres, once, while the rest wait for its snapshot", async () => {
    // Waiters give up after waitForFillMs; a generous budget keeps a loaded CI box from turning a
    // slow refill into extra queries, which is the only way this count could change.
    const { service, cache } = harness({ timing: { waitForFillMs: 15_000 } });
    const key = uniqueKey("stampede");
    await service.put({ key, value: "x", visibility: "public", preconditions: create, actor });
    await cache.invalidate();
    const before = pg.queries();
    const results = await Promise.all(Array.from({ length: 25 }, () => service.get("anonymous", key)));
    expect(pg.queries() - before).toBe(1);
    expect(results.filter((r) => r.source === "database")).toHaveLength(1);
    expect(results.every((r) => r.data.value === "x")).toBe(true);
  });

  it("costs exactly one Postgres query per miss, and none per hit", async () => {
    const { service, cache } = harness();
    const key = uniqueKey("miss");
    await service.put({ key, value: "m", visibility: "public", preconditions: create, actor });
    const rounds = 30;
    let missMs = 0;
    let hitMs = 0;
    const before = pg.queries();
    for (let i = 0; i < rounds; i++) {
      await cache.invalidate();
      let t = performance.now();
      expect((await service.get("anonymous", key)).source).toBe("database");
      missMs += performance.now() - t;
      t = performance.now();
      expect((await service.get("anonymous", key)).source).toBe("cache");
      hitMs += performance.now() - t;
    }
    expect(pg.queries() - before).toBe(rounds);
    console.log(
      `settings read latency (sequential, mean of ${rounds}): hit ${(hitMs / rounds).toFixed(2)} ms, miss ${(missMs / rounds).toFixed(2)} ms`,
    );
  });

  it("shows a committed write to the very next read, from the cache", async () => {
    const { service } = harness();
    const key = uniqueKey("ryw");
    await service.put({ key, value: 1, visibility: "public", preconditions: create, actor });
    expect((await service.get("anonymous", key)).data.version).toBe(1);
    await service.put({ key, value: 2, preconditions: ifMatch(1), actor });
    const before = pg.queries();
    const after = await service.get("anonymous", key);
    expect(after).toMatchObject({ source: "cache", data: { version: 2, value: 2 } });
    expect(pg.queries() - before).toBe(0);
  });
});

describe("settings staleness bound and faults", () => {
  it("serves a snapshot a Redis-less write could not invalidate for less than the freshness window, never longer", async () => {
    let clock = 1_700_000_000_000;
    const now = () => clock;
    const healthy = harness({ now });
    const cut = harness({ now, prefix: healthy.prefix, redisUrl: DEAD_HTTP });
    const key = uniqueKey("bound");
    await healthy.service.put({ key, value: "old", visibility: "public", preconditions: create, actor });

    // Redis unreachable from the writer: the commit lands, the cache cannot hear of it.
    const written = await cut.service.put({ key, value: "new", preconditions: ifMatch(1), actor });
    expect(written.setting.version).toBe(2);
    expect(await cut.service.get("anonymous", key)).toMatchObject({ source: "database", data: { value: "new" } });

    clock += FRESH_MS - 1;
    expect(await healthy.service.get("anonymous", key)).toMatchObject({ source: "cache", data: { value: "old" } });
    clock += 1;
    expect(await healthy.service.get("anonymous", key)).toMatchObject({ source: "database", data: { value: "new" } });
    expect(await healthy.service.get("anonymous", key)).toMatchObject({ source: "cache", data: { value: "new" } });
  });

  it("serves the cached snapshot marked stale while Postgres is down, and stops asking it for a while", async () => {
    const healthy = harness();
    const key = uniqueKey("pg-down");
    await healthy.service.put({ key, value: "kept", visibility: "public", preconditions: create, actor });
    // A commit elsewhere replaced the generation; its refill has not happened.
    await healthy.cache.invalidate();

    let attempts = 0;
    const real = createSettingsRepository(pg.db);
    const down: SettingsRepository = {
      ...real,
      listAll: async () => {
        attempts++;
        throw new Error("connection refused");
      },
      get: async () => {
        throw new Error("connection refused");
      },
    };
    const broken = harness({ prefix: healthy.prefix, repo: down });
    expect(await broken.service.get("anonymous", key)).toMatchObject({
      source: "stale-cache",
      data: { value: "kept" },
    });
    expect((await broken.service.list("anonymous")).source).toBe("stale-cache");
    expect(attempts).toBe(1);

    const write = broken.service.put({ key, value: "lost?", preconditions: ifMatch(1), actor });
    await expect(write).rejects.toMatchObject({ status: 503 });
    expect((await healthy.service.get("admin", key)).data).toMatchObject({ version: 1, value: "kept" });
  });

  it("answers 503 when Postgres is down and there is no snapshot to fall back on", async () => {
    const real = createSettingsRepository(pg.db);
    const broken = harness({
      repo: { ...real, listAll: () => Promise.reject(new Error("connection refused")) },
    });
    const read = broken.service.get("anonymous", uniqueKey("nothing"));
    await expect(read).rejects.toBeInstanceOf(ProblemError);
    await expect(read).rejects.toMatchObject({ status: 503, headers: { "Retry-After": expect.any(String) } });
  });

  it("reads Postgres when Redis is unreachable, and still commits writes", async () => {
    const { service } = harness({ redisUrl: DEAD_HTTP });
    const key = uniqueKey("redis-down");
    const started = Date.now();
    await service.put({ key, value: 1, visibility: "public", preconditions: create, actor });
    expect(await service.get("anonymous", key)).toMatchObject({ source: "database", data: { version: 1 } });
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe("publishing committed changes", () => {
  it("publishes each change to realtime, with the value only for public settings", async () => {
    const published: SettingChanged[] = [];
    const h = harness({ events: { publish: async (e) => void published.push(e) } });
    const key = uniqueKey("publish");
    await h.service.put({ key, value: "hello", visibility: "public", preconditions: create, actor });
    await h.service.put({ key, value: "secret", visibility: "admin", preconditions: ifMatch(1), actor });
    await h.service.remove({ key, preconditions: ifMatch(2), actor });
    await h.settled();
    expect(published).toEqual([
      { type: "setting.changed", key, version: 1, value: "hello" },
      { type: "setting.changed", key, version: 2 },
      { type: "setting.changed", key, version: 3, deleted: true },
    ]);
  });

  it("keeps the write when publishing fails or hangs", async () => {
    const failing = harness({ events: { publish: () => Promise.reject(new Error("rooms down")) } });
    const key = uniqueKey("publish-fail");
    const made = await failing.service.put({ key, value: 1, visibility: "public", preconditions: create, actor });
    expect(made.setting.version).toBe(1);
    const outcomes = await failing.settled();
    expect(outcomes.every((o) => o.status === "fulfilled")).toBe(true);

    const hanging = harness({
      prefix: failing.prefix,
      events: { publish: () => new Promise(() => {}) },
      publishTimeoutMs: 50,
    });
    const started = Date.now();
    const updated = await hanging.service.put({ key, value: 2, preconditions: ifMatch(1), actor });
    expect(updated.setting.version).toBe(2);
    await hanging.settled();
    expect(Date.now() - started).toBeLessThan(3_000);
    expect((await failing.service.get("admin", key)).data.value).toBe(2);
  });
});

describe("typed settings for the code itself", () => {
  const Limits = z.object({ maxBytes: z.number().int().positive() });
  const fallback = { maxBytes: 1024 };

  function depsWith(redisUrl?: string, db: Deps["db"] = pg.db): Deps {
    return {
      db,
      redis: testRedis(redisUrl),
      background: { waitUntil: () => {} },
      get storage(): never {
        throw new Error("not used");
      },
      get rooms(): never {
        throw new Error("not used");
      },
    };
  }

  it("returns the stored value when it matches the schema, the default otherwise", async () => {
    const h = harness();
    const scope = { config: { REDIS_KEY_PREFIX: h.prefix, DATABASE_TIMEOUT_MS: 5_000 }, log };
    const good = uniqueKey("typed-good");
    const bad = uniqueKey("typed-bad");
    await h.service.put({ key: good, value: { maxBytes: 5 }, preconditions: create, actor });
    await h.service.put({ key: bad, value: { maxBytes: "lots" }, preconditions: create, actor });
    const deps = depsWith();
    expect(await readSettingValue(deps, good, Limits, fallback, scope)).toEqual({ maxBytes: 5 });
    expect(await readSettingValue(deps, bad, Limits, fallback, scope)).toEqual(fallback);
    expect(await readSettingValue(deps, uniqueKey("typed-missing"), Limits, fallback, scope)).toEqual(fallback);
    // Without a scope it reads Postgres directly (no key prefix to use).
    expect(await readSettingValue(deps, good, Limits, fallback)).toEqual({ maxBytes: 5 });
  });

  it("reads through the cache with a scope, and falls back when both stores are down", async () => {
    const h = harness();
    const scope = { config: { REDIS_KEY_PREFIX: h.prefix, DATABASE_TIMEOUT_MS: 5_000 }, log };
    const key = uniqueKey("typed-cache");
    await h.service.put({ key, value: { maxBytes: 7 }, preconditions: create, actor });
    const before = pg.queries();
    expect(await readSettingValue(depsWith(), key, Limits, fallback, scope)).toEqual({ maxBytes: 7 });
    expect(pg.queries() - before).toBe(0);

    const nothingWorks = depsWith(DEAD_HTTP, failingDatabase());
    expect(await readSettingValue(nothingWorks, key, Limits, fallback, scope)).toEqual(fallback);
  });
});

// A drizzle-shaped object whose every query fails, standing in for a database that is down.
function failingDatabase(): Deps["db"] {
  const fail = (): never => {
    throw new Error("connection refused");
  };
  return new Proxy({} as Deps["db"], { get: () => fail });
}
