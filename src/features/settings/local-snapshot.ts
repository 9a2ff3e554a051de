import type { BackgroundTasks } from "../../core/deferred-work.ts";
import type { Logger } from "../../../common/logger.ts";
import type { SettingsCache } from "./cache.ts";
import type { StoredSetting } from "./model.ts";
import { type ReaderDeps, type ReadResult, readThrough, type ThroughResult } from "./reader.ts";

/**
 * The settings snapshot held in the isolate (or process), in front of the Redis snapshot, so a hot
 * read answers from memory with no round trip. It is only ever a copy of a Redis snapshot that was
 * current for a known generation, and it is trusted for `ttlMs` after that generation was last
 * confirmed (the check is stamped before it is sent, so the age never understates):
 *
 *   age < ttl:               answered from memory;
 *   ttl <= age < ttl + grace: answered from memory, and one revalidation (a GET of the generation;
 *                            the contents are re-read too when the Redis snapshot is past its
 *                            freshness window) is handed to waitUntil, off the request path; at
 *                            most one per window;
 *   age >= ttl + grace:      the read goes through Redis as without this layer (an isolate that was
 *                            idle, or whose revalidation failed or is slower than `grace`).
 *
 * So another instance's write is served here at most `ttl + grace` after it committed (grace is one
 * Redis request's timeout), never later; a write through this instance replaces the snapshot at
 * once. Docs: docs/settings.md, "The staleness bound".
 */
export interface LocalEntry {
  generation: string;
  all: StoredSetting[];
  byKey: Map<string, StoredSetting>;
  /** When the Redis snapshot's contents were read from Postgres (its freshness counts from here). */
  builtAt: number;
  /** When the generation was last confirmed current (stamped before the check). */
  validatedAt: number;
}

export interface LocalSnapshotOptions {
  /** SETTINGS_LOCAL_TTL_MS. */
  ttlMs: number;
  /** The longest one revalidation may take before reads stop trusting memory: REDIS_TIMEOUT_MS. */
  graceMs: number;
}

export class LocalSnapshot {
  readonly ttlMs: number;
  readonly graceMs: number;
  #entry: LocalEntry | null = null;
  /** The entry a revalidation is (or was, unsuccessfully) running for: one per entry and window. */
  #revalidated: LocalEntry | null = null;

  constructor(options: LocalSnapshotOptions) {
    this.ttlMs = options.ttlMs;
    this.graceMs = options.graceMs;
  }

  get entry(): LocalEntry | null {
    return this.#entry;
  }

  /**
   * The entry when it is within its TTL at `now`: answered from memory with nothing else to do (no
   * revalidation due), so a hot read needs no service, client or I/O. Otherwise null (readLocal).
   */
  fresh(now: number): LocalEntry | null {
    const entry = this.#entry;
    return entry && ageOf(entry, now, this.ttlMs) < this.ttlMs ? entry : null;
  }

  /** Installs a snapshot if the entry is still `expected` (a slower read never overwrites a newer one). */
  replace(expected: LocalEntry | null, next: Omit<LocalEntry, "byKey"> | null): boolean {
    if (this.#entry !== expected) return false;
    this.#entry = next && { ...next, byKey: new Map(next.all.map((s) => [s.key, s])) };
    return true;
  }

  /** A write through this instance: its own snapshot, at once, whatever was there (read-your-writes). */
  install(next: Omit<LocalEntry, "byKey"> | null): void {
    this.replace(this.#entry, next);
  }

  /** Marks `entry` confirmed at `at`, if it is still the one held. */
  confirm(entry: LocalEntry, at: number): void {
    if (this.#entry === entry) this.#entry = { ...entry, validatedAt: at };
  }

  /** True once per entry: the caller runs the revalidation. */
  claimRevalidation(entry: LocalEntry): boolean {
    if (this.#revalidated === entry) return false;
    this.#revalidated = entry;
    return true;
  }

  #refilling = false;
  #reading: Promise<ThroughResult<StoredSetting[]>> | null = null;

  /**
   * Runs `read` unless one is already running, whose result is then shared: when the copy is absent
   * or past its bound, the isolate's concurrent requests make one read through Redis, not one each
   * (an isolate picking up traffic again after a pause would otherwise stampede Redis).
   */
  shared(read: () => Promise<ThroughResult<StoredSetting[]>>): Promise<ThroughResult<StoredSetting[]>> {
    if (!this.#reading) {
      const running = read().finally(() => {
        if (this.#reading === running) this.#reading = null;
      });
      this.#reading = running;
    }
    return this.#reading;
  }

  /** True when no refill is running: the caller runs one and calls `refilled()` when it ends. */
  claimRefill(): boolean {
    if (this.#refilling) return false;
    this.#refilling = true;
    return true;
  }

  refilled(): void {
    this.#refilling = false;
  }

  /**
   * A refill read under the generation the copy already holds: same or newer contents, so it replaces
   * whatever entry of that generation is held now (confirmations may have replaced the object since).
   */
  refresh(next: Omit<LocalEntry, "byKey">): void {
    const held = this.#entry;
    if (!held || held.generation !== next.generation) return;
    this.#entry = {
      ...next,
      byKey: new Map(next.all.map((s) => [s.key, s])),
      validatedAt: Math.max(held.validatedAt, next.validatedAt),
    };
  }
}

/**
 * How long ago `entry` was confirmed. Slightly negative ages are normal on Workers: Date.now() is
 * frozen per request at its last I/O, so a request can run "before" a revalidation another request
 * stamped. Real time only moves forward, so such a copy is younger than it looks, not older; only a
 * clock that jumped back by more than the TTL counts as infinitely old (the read goes through Redis).
 */
function ageOf(entry: LocalEntry, now: number, ttlMs: number): number {
  const elapsed = now - entry.validatedAt;
  return elapsed < -ttlMs ? Number.POSITIVE_INFINITY : Math.max(elapsed, 0);
}

export interface LocalReadDeps {
  local: LocalSnapshot;
  cache: SettingsCache;
  reader: ReaderDeps;
  background: BackgroundTasks;
  log: Logger;
  now(): number;
}

const readAll = (deps: LocalReadDeps): Promise<ThroughResult<StoredSetting[]>> =>
  readThrough(
    deps.reader,
    (c) => c.probeAll(),
    (all) => all,
  );

/** Installs a current result over `expected`; anything else (stale-cache, no generation) is not kept. */
function keep(deps: LocalReadDeps, expected: LocalEntry | null, result: ThroughResult<StoredSetting[]>, at: number) {
  if (!result.current) return;
  deps.local.replace(expected, { ...result.current, all: result.data, validatedAt: at });
}

async function revalidate(deps: LocalReadDeps, entry: LocalEntry): Promise<void> {
  const started = deps.now();
  try {
    // The generation alone says whether our copy is current: one GET.
    if ((await deps.cache.readGeneration()) !== entry.generation) {
      keep(deps, entry, await readAll(deps), started);
      return;
    }
    deps.local.confirm(entry, started);
    // Past the Redis snapshot's freshness window the contents are re-read (through Redis, which
    // refills from Postgres), for the one case a commit could not move the generation (a writer that
    // could not reach Redis). Reads keep answering from the confirmed copy meanwhile: a slow Postgres
    // never sends the isolate's requests to Redis. One refill at a time.
    if (started - entry.builtAt >= deps.reader.timing.freshMs && deps.local.claimRefill()) {
      try {
        const result = await readAll(deps);
        if (result.current) deps.local.refresh({ ...result.current, all: result.data, validatedAt: started });
      } finally {
        deps.local.refilled();
      }
    }
  } catch (error) {
    deps.log.warn("settings local snapshot not revalidated; reads go through Redis after the grace period", {
      error,
    });
  }
}

/** A read through the local snapshot: memory at steady state, Redis (then Postgres) otherwise. */
export async function readLocal<T>(deps: LocalReadDeps, pick: (entry: LocalEntry) => T): Promise<ReadResult<T>> {
  const { local } = deps;
  const entry = local.entry;
  const started = deps.now();
  if (entry) {
    const age = ageOf(entry, started, local.ttlMs);
    if (age < local.ttlMs + local.graceMs) {
      if (age >= local.ttlMs && local.claimRevalidation(entry)) deps.background.waitUntil(revalidate(deps, entry));
      return { data: pick(entry), source: "memory" };
    }
  }
  const result = await local.shared(async () => {
    const read = await readAll(deps);
    keep(deps, entry, read, started);
    return read;
  });
  return { data: pick(toEntry(result.data)), source: result.source };
}

const toEntry = (all: StoredSetting[]): LocalEntry => ({
  generation: "",
  all,
  byKey: new Map(all.map((s) => [s.key, s])),
  builtAt: 0,
  validatedAt: 0,
});
