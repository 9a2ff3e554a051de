import type { Redis } from "../../adapters/redis.ts";
import type { StoredSetting } from "./model.ts";

/**
 * The shared settings cache in Redis (Upstash). Layout, under the configured key prefix:
 *   settings:gen   a random token, replaced after every committed change (the generation);
 *   settings:snap  a hash: `meta` = { gen, builtAt, count }, `k:<key>` = one setting, per setting;
 *   settings:lock  held by the one reader that refills the snapshot after a miss;
 *   settings:pg-down  set for a moment after Postgres failed a refill, so readers serve the stale
 *                  snapshot at once instead of queueing on a database that is down.
 * A snapshot is current only while its `meta.gen` equals `settings:gen`. The generation is a random
 * token, not a counter, so a generation key lost to eviction can never come back with a value an old
 * snapshot carries. Every read is one pipelined HTTP request: one round trip.
 */
export interface SnapshotMeta {
  gen: string;
  /** Epoch ms when the snapshot was read from Postgres. */
  builtAt: number;
  count: number;
}

export interface Probe<T> {
  /** The current generation, or null when none is set yet. */
  generation: string | null;
  /** The snapshot's metadata, or null when there is no snapshot. */
  meta: SnapshotMeta | null;
  /** What the snapshot holds for the read (meaningful only when `meta` is set). */
  data: T;
  /** True while a recent refill found Postgres down. */
  databaseDown: boolean;
}

export interface SettingsCache {
  /** Every setting in the snapshot. */
  probeAll(): Promise<Probe<StoredSetting[]>>;
  /** One setting (null when the snapshot does not have it). */
  probeOne(key: string): Promise<Probe<StoredSetting | null>>;
  /** The current generation alone (one GET): how an isolate's local snapshot revalidates. */
  readGeneration(): Promise<string | null>;
  /** Takes the refill lock; false when another reader holds it. */
  tryLock(): Promise<boolean>;
  /** Returns the current generation, creating one if none exists. */
  ensureGeneration(): Promise<string>;
  /** Replaces the snapshot atomically, labelled with a generation read before Postgres was read. */
  store(gen: string, settings: StoredSetting[], builtAt: number, options: { releaseLock: boolean }): Promise<void>;
  /**
   * Starts a new generation: every existing snapshot stops being current. Returns the new token, which
   * a snapshot read from Postgres after this call may be labelled with.
   */
  invalidate(): Promise<string>;
  releaseLock(): Promise<void>;
  markDatabaseDown(ms: number): Promise<void>;
}

export interface CacheOptions {
  /** REDIS_KEY_PREFIX: every key this cache writes starts with it. */
  prefix: string;
  /** How long the refill lock lives if its holder never releases it. */
  lockMs: number;
  /** How long a snapshot lives in Redis at all: the window in which Postgres-down reads can be served stale. */
  snapshotTtlMs: number;
  /** Snapshots larger than this are not cached (Upstash request size); reads then come from Postgres. */
  maxSnapshotBytes: number;
}

const FIELD_PREFIX = "k:";

// @upstash/redis parses JSON replies by default; the adapter may change that, so accept both forms.
function decode(raw: unknown): unknown {
  if (typeof raw !== "string") return raw;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return undefined;
  }
}

function decodeMeta(raw: unknown): SnapshotMeta | null {
  const meta = decode(raw) as Partial<SnapshotMeta> | null | undefined;
  if (!meta || typeof meta !== "object") return null;
  if (typeof meta.gen !== "string" || typeof meta.builtAt !== "number" || typeof meta.count !== "number") return null;
  return { gen: meta.gen, builtAt: meta.builtAt, count: meta.count };
}

function decodeSetting(raw: unknown): StoredSetting | null {
  const value = decode(raw) as Partial<StoredSetting> | null | undefined;
  if (!value || typeof value !== "object" || typeof value.key !== "string" || typeof value.version !== "number") {
    return null;
  }
  return value as StoredSetting;
}

const generationOf = (raw: unknown): string | null => (raw === null || raw === undefined ? null : String(raw));

export function createSettingsCache(redis: Redis, options: CacheOptions): SettingsCache {
  const genKey = `${options.prefix}settings:gen`;
  const snapKey = `${options.prefix}settings:snap`;
  const lockKey = `${options.prefix}settings:lock`;
  const downKey = `${options.prefix}settings:pg-down`;

  return {
    async probeAll() {
      const [gen, hash, down] = await redis
        .pipeline()
        .get(genKey)
        .hgetall<Record<string, unknown>>(snapKey)
        .exists(downKey)
        .exec<[unknown, Record<string, unknown> | null, number]>();
      const meta = decodeMeta(hash?.meta);
      const all: StoredSetting[] = [];
      for (const [field, raw] of Object.entries(hash ?? {})) {
        if (!field.startsWith(FIELD_PREFIX)) continue;
        const setting = decodeSetting(raw);
        if (setting) all.push(setting);
      }
      all.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      // A snapshot whose fields do not add up (a partial write or a corrupt field) is no snapshot.
      const whole = meta !== null && meta.count === all.length;
      return { generation: generationOf(gen), meta: whole ? meta : null, data: all, databaseDown: down === 1 };
    },

    async probeOne(key) {
      const field = `${FIELD_PREFIX}${key}`;
      const [gen, fields, down] = await redis
        .pipeline()
        .get(genKey)
        .hmget<Record<string, unknown>>(snapKey, "meta", field)
        .exists(downKey)
        .exec<[unknown, Record<string, unknown> | null, number]>();
      const meta = decodeMeta(fields?.meta);
      const raw = fields?.[field];
      const setting = raw === null || raw === undefined ? null : decodeSetting(raw);
      // A field that is present but unreadable makes the snapshot unusable for this key.
      const usable = meta !== null && !(raw !== null && raw !== undefined && setting === null);
      return { generation: generationOf(gen), meta: usable ? meta : null, data: setting, databaseDown: down === 1 };
    },

    async readGeneration() {
      return generationOf(await redis.get(genKey));
    },

    async tryLock() {
      const ok = await redis.set(lockKey, crypto.randomUUID(), { nx: true, px: options.lockMs });
      return ok === "OK";
    },

    async ensureGeneration() {
      const [, gen] = await redis
        .pipeline()
        .set(genKey, crypto.randomUUID(), { nx: true })
        .get(genKey)
        .exec<[unknown, unknown]>();
      const current = generationOf(gen);
      if (current === null) throw new Error("settings generation vanished");
      return current;
    },

    async store(gen, settings, builtAt, { releaseLock }) {
      const fields: Record<string, string> = {
        meta: JSON.stringify({ gen, builtAt, count: settings.length } satisfies SnapshotMeta),
      };
      const encoder = new TextEncoder();
      let bytes = 0;
      for (const setting of settings) {
        const encoded = JSON.stringify(setting);
        bytes += encoder.encode(encoded).byteLength;
        fields[`${FIELD_PREFIX}${setting.key}`] = encoded;
      }
      if (bytes > options.maxSnapshotBytes) throw new SnapshotTooLargeError(bytes, options.maxSnapshotBytes);
      // One transaction: readers see the old snapshot or the new one, never a mix.
      const tx = redis.multi().del(snapKey).hset(snapKey, fields).pexpire(snapKey, options.snapshotTtlMs);
      if (releaseLock) tx.del(lockKey);
      await tx.exec();
    },

    async invalidate() {
      const gen = crypto.randomUUID();
      await redis.set(genKey, gen);
      return gen;
    },

    async releaseLock() {
      await redis.del(lockKey);
    },

    async markDatabaseDown(ms) {
      await redis.set(downKey, "1", { px: ms });
    },
  };
}

export class SnapshotTooLargeError extends Error {
  constructor(bytes: number, limit: number) {
    super(`settings snapshot is ${bytes} bytes, over the ${limit}-byte cache limit`);
    this.name = "SnapshotTooLargeError";
  }
}
