import type { Config } from "../../core/config.ts";
import type { Deps } from "../../core/deps.ts";
import type { Logger } from "../../../common/logger.ts";
import { isAdmin, type Principal } from "../../core/principal.ts";
import type { Redis } from "../../adapters/redis.ts";
import { createSettingsCache, type SettingsCache } from "./cache.ts";
import { roomEvents } from "./events.ts";
import { type LocalEntry, LocalSnapshot } from "./local-snapshot.ts";
import type { SettingsContext, Viewer } from "./model.ts";
import { createSettingsRepository, type SettingsRepository } from "./repository.ts";
import { getSetting, listSettings, putSetting, removeSetting, settingHistory } from "./service.ts";
import type { PutInput, RemoveInput } from "./writer.ts";

/** A snapshot outlives its freshness by this much, for Postgres-down reads (stale-cache). */
export const SNAPSHOT_TTL_MS = 24 * 60 * 60 * 1000;
/** Above this the snapshot is not cached (Upstash caps request sizes); reads then use Postgres. */
export const MAX_SNAPSHOT_BYTES = 4 * 1024 * 1024;

export interface SettingsScope {
  deps: Deps;
  config: Pick<Config, "REDIS_KEY_PREFIX" | "DATABASE_TIMEOUT_MS"> &
    Partial<Pick<Config, "SETTINGS_LOCAL_TTL_MS" | "REDIS_TIMEOUT_MS">>;
  log: Logger;
}

// One local snapshot per isolate and config object (configFor memoises one per env, which is stable
// for an isolate's life): a different Redis URL or prefix is a different config, so it never shares
// a copy with another. Holds only data read from Redis/Postgres, never anything a request supplied.
const localSnapshots = new WeakMap<object, LocalSnapshot>();

function localSnapshotFor(config: SettingsScope["config"]): LocalSnapshot | null {
  const ttlMs = config.SETTINGS_LOCAL_TTL_MS ?? 0;
  if (ttlMs <= 0) return null;
  let local = localSnapshots.get(config);
  if (!local) {
    local = new LocalSnapshot({ ttlMs, graceMs: config.REDIS_TIMEOUT_MS ?? 1_500 });
    localSnapshots.set(config, local);
  }
  return local;
}

// The cache is key names and closures over a stateless (fetch-based) client: one per client and
// prefix, not one per request.
const caches = new WeakMap<Redis, { prefix: string; cache: SettingsCache }>();

function settingsCacheFor(redis: Redis, config: SettingsScope["config"]): SettingsCache {
  const known = caches.get(redis);
  if (known?.prefix === config.REDIS_KEY_PREFIX) return known.cache;
  const cache = createSettingsCache(redis, {
    prefix: config.REDIS_KEY_PREFIX,
    // Outlives its holder's bounded refill, so it is only ever released early, never stolen mid-refill.
    lockMs: 2 * config.DATABASE_TIMEOUT_MS + 1_000,
    snapshotTtlMs: SNAPSHOT_TTL_MS,
    maxSnapshotBytes: MAX_SNAPSHOT_BYTES,
  });
  caches.set(redis, { prefix: config.REDIS_KEY_PREFIX, cache });
  return cache;
}

/**
 * The settings context over one request's clients (lazy: the repository, and so the Postgres pool,
 * is built only if a query runs). The only thing kept between requests is the isolate's local
 * snapshot (a bounded copy of the shared one: local-snapshot.ts).
 */
export function settingsContext({ deps, config, log }: SettingsScope): SettingsContext {
  const redis = deps.redis;
  return {
    local: redis ? localSnapshotFor(config) : null,
    repo: lazyRepository(() => createSettingsRepository(deps.db)),
    cache: redis ? settingsCacheFor(redis, config) : null,
    events: roomEvents(() => deps.rooms),
    background: deps.background,
    log,
    // A transaction is a few statements, each bounded by the pool's own timeout.
    databaseTimeoutMs: 2 * config.DATABASE_TIMEOUT_MS,
  };
}

/** A write's input as a route has it: the actor comes from the caller. */
export type SettingWrite = Omit<PutInput, "actor">;
export type SettingRemoval = Omit<RemoveInput, "actor">;

/**
 * The settings feature as routes use it: one object per request, each method taking the caller (the
 * viewer for reads, the principal a guard set for writes) and the request's input.
 */
export function settingsServiceFor(scope: SettingsScope) {
  const ctx = settingsContext(scope);
  return {
    list: (viewer: Viewer) => listSettings(ctx, viewer),
    get: (viewer: Viewer, key: string) => getSetting(ctx, viewer, key),
    put: (principal: Principal | undefined, input: SettingWrite) =>
      putSetting(ctx, { ...input, actor: principal?.userId ?? null }),
    remove: (principal: Principal | undefined, input: SettingRemoval) =>
      removeSetting(ctx, { ...input, actor: principal?.userId ?? null }),
    history: (key: string, options: Parameters<typeof settingHistory>[2]) => settingHistory(ctx, key, options),
  };
}

/**
 * The isolate's snapshot when it is within SETTINGS_LOCAL_TTL_MS: the steady-state hot read, answered
 * without building the service (nothing is due: no revalidation, no client). Null otherwise, and
 * without a cache (a copy is only ever bounded by a Redis generation): then the service reads.
 */
export function freshSnapshot({ deps, config }: Pick<SettingsScope, "deps" | "config">): LocalEntry | null {
  if (!deps.redis) return null;
  return localSnapshotFor(config)?.fresh(Date.now()) ?? null;
}

export const viewerOf = (principal: Principal | undefined): Viewer =>
  principal === undefined ? "anonymous" : isAdmin(principal) ? "admin" : "user";

/** Builds the repository (and so the request's Postgres pool) only if a query is actually needed. */
function lazyRepository(build: () => SettingsRepository): SettingsRepository {
  let repo: SettingsRepository | undefined;
  const get = () => (repo ??= build());
  return {
    listAll: () => get().listAll(),
    get: (key) => get().get(key),
    create: (input) => get().create(input),
    update: (input) => get().update(input),
    remove: (input) => get().remove(input),
    history: (key, options) => get().history(key, options),
  };
}
