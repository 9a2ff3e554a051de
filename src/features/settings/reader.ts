import type { Logger } from "../../../common/logger.ts";
import type { Probe, SettingsCache } from "./cache.ts";
import type { StoredSetting } from "./model.ts";

/** Where a read was answered from; sent as `X-Settings-Source`. */
export type ReadSource = "memory" | "cache" | "database" | "stale-cache";

export interface ReadResult<T> {
  data: T;
  source: ReadSource;
}

/** A read's result plus, when it is current, the generation it belongs to (what a local snapshot keeps). */
export interface ThroughResult<T> extends ReadResult<T> {
  /** Set when `data` is current for `generation`: a fresh cache hit, or Postgres read under that generation. */
  current?: { generation: string; builtAt: number };
}

export interface ReadTiming {
  /**
   * How long a snapshot is trusted after it was built. This is the staleness bound for the one case a
   * commit cannot invalidate the cache (Redis unreachable from the writer): see docs/settings.md.
   */
  freshMs: number;
  /** How long a reader that lost the refill lock waits for the winner before reading Postgres itself. */
  waitForFillMs: number;
  /** First delay between polls while waiting; doubles up to MAX_POLL_MS. */
  pollMs: number;
  /** After a refill finds Postgres down, readers serve the stale snapshot without trying it for this long. */
  databaseDownMs: number;
}

export const DEFAULT_READ_TIMING: ReadTiming = {
  freshMs: 10_000,
  waitForFillMs: 3_000,
  pollMs: 10,
  databaseDownMs: 2_000,
};

export interface ReaderDeps {
  cache: SettingsCache | null;
  /** Reads every setting from Postgres; throws (a 503 problem) when it is unavailable. */
  loadAll(): Promise<StoredSetting[]>;
  log: Logger;
  now(): number;
  timing: ReadTiming;
}

const MAX_POLL_MS = 100;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Cache-first read of the settings snapshot. At steady state one Redis round trip answers and
 * Postgres is not touched. On a miss one reader takes a lock, reads Postgres once and replaces the
 * snapshot while the others wait for it, so concurrent misses do not stampede the database.
 */
export async function readThrough<T>(
  deps: ReaderDeps,
  probe: (cache: SettingsCache) => Promise<Probe<T>>,
  pick: (all: StoredSetting[]) => T,
): Promise<ThroughResult<T>> {
  const { cache, log, timing } = deps;
  if (!cache) return { data: pick(await deps.loadAll()), source: "database" };

  const hit = (p: Probe<T>): ThroughResult<T> => ({
    data: p.data,
    source: "cache",
    ...(p.meta && p.generation !== null && { current: { generation: p.generation, builtAt: p.meta.builtAt } }),
  });
  const isFresh = (p: Probe<T>) => {
    if (!p.meta || p.generation === null || p.meta.gen !== p.generation) return false;
    const age = deps.now() - p.meta.builtAt;
    // A snapshot stamped far in the future (a skewed clock elsewhere) is not trusted either.
    return age < timing.freshMs && age > -timing.freshMs;
  };

  let latest: Probe<T>;
  try {
    latest = await probe(cache);
  } catch (error) {
    log.warn("settings cache unavailable; reading Postgres", { error });
    return { data: pick(await deps.loadAll()), source: "database" };
  }
  if (isFresh(latest)) return hit(latest);

  const serveStale = (): ReadResult<T> | undefined =>
    latest.meta ? { data: latest.data, source: "stale-cache" } : undefined;
  if (latest.databaseDown) {
    const stale = serveStale();
    if (stale) return stale;
  }

  const tryLock = () =>
    cache.tryLock().catch((error: unknown) => {
      log.warn("settings cache lock failed", { error });
      return false;
    });
  let locked = await tryLock();
  // Another reader is refilling: wait for its snapshot rather than add a query of our own. Polls back
  // off so a crowd of waiters stays cheap for Redis; if the holder gives up (its lock released or
  // expired) the next waiter takes the lock over.
  let waited = 0;
  let delay = timing.pollMs;
  while (!locked && waited < timing.waitForFillMs) {
    await sleep(delay);
    waited += delay;
    delay = Math.min(delay * 2, MAX_POLL_MS);
    try {
      latest = await probe(cache);
    } catch {
      break;
    }
    if (isFresh(latest)) return hit(latest);
    if (latest.databaseDown) {
      const stale = serveStale();
      if (stale) return stale;
    }
    locked = await tryLock();
  }

  if (locked) {
    // Double-checked: the previous holder may have stored its snapshot between our probe and our lock.
    try {
      latest = await probe(cache);
    } catch {
      // Redis went away under us: Postgres below, as for any cache fault.
    }
    if (isFresh(latest)) {
      await cache.releaseLock().catch(() => {});
      return hit(latest);
    }
  }

  // The generation is read before Postgres: if a commit replaces it meanwhile, this snapshot is
  // stored under the old one and is never served as current.
  let generation = latest.generation;
  if (generation === null) {
    generation = await cache.ensureGeneration().catch((error: unknown) => {
      log.warn("settings generation unavailable", { error });
      return null;
    });
  }

  // Stamped before the query, so the snapshot's age never understates how old its contents are.
  const startedAt = deps.now();
  let all: StoredSetting[];
  try {
    all = await deps.loadAll();
  } catch (error) {
    const stale = serveStale();
    await Promise.allSettled([cache.markDatabaseDown(timing.databaseDownMs), ...(locked ? [cache.releaseLock()] : [])]);
    if (stale) {
      log.warn("Postgres unavailable; serving the cached settings snapshot as stale", { error });
      return stale;
    }
    throw error;
  }

  if (generation !== null) {
    try {
      await cache.store(generation, all, startedAt, { releaseLock: locked });
    } catch (error) {
      log.warn("settings snapshot not cached", { error });
      if (locked) await cache.releaseLock().catch(() => {});
    }
  }
  return {
    data: pick(all),
    source: "database",
    ...(generation !== null && { current: { generation, builtAt: startedAt } }),
  };
}
