import { createPostgres, type PostgresHandle } from "../adapters/postgres.ts";
import { createRedis, type Redis } from "../adapters/redis.ts";
import { type RoomPublisher, roomGatewayFor } from "../adapters/rooms.ts";
import { createStorage, type ObjectStore, type StorageOptions } from "../adapters/storage.ts";
import type { Bindings } from "../core/app-env.ts";
import type { Config } from "../core/config.ts";
import type { BackgroundTasks } from "../core/deferred-work.ts";
import type { Deps } from "../core/deps.ts";

/**
 * The composition root: the one place that knows every adapter and builds them from config. Core
 * and the features only know the Deps interface (core/deps.ts).
 */

/** The object store the config describes (also what jobs and tests that need only storage use). */
export const storageOptionsFromConfig = (config: Config): StorageOptions => ({
  endpoint: config.S3_ENDPOINT,
  region: config.S3_REGION,
  bucket: config.S3_BUCKET,
  accessKeyId: config.S3_ACCESS_KEY_ID,
  secretAccessKey: config.S3_SECRET_ACCESS_KEY,
  publicBaseUrl: config.S3_PUBLIC_BASE_URL,
  forcePathStyle: config.S3_FORCE_PATH_STYLE,
  timeoutMs: config.STORAGE_TIMEOUT_MS,
});

export const storageFromConfig = (config: Config): ObjectStore => createStorage(storageOptionsFromConfig(config));

export interface RequestDeps {
  deps: Deps;
  /** True once the request opened something that close() must end (a Postgres pool, an S3 client). */
  opened(): boolean;
  /** Ends whatever the request opened; safe to call when nothing was. */
  close(): Promise<void>;
}

// The Upstash client is plain configuration over fetch (no socket, no state between commands), so
// one per config serves every request of the isolate instead of one built per request.
const redisClients = new WeakMap<Config, Redis | null>();

function redisFor(config: Config): Redis | null {
  let redis = redisClients.get(config);
  if (redis === undefined) {
    redis =
      config.UPSTASH_REDIS_REST_URL && config.UPSTASH_REDIS_REST_TOKEN
        ? createRedis({
            url: config.UPSTASH_REDIS_REST_URL,
            token: config.UPSTASH_REDIS_REST_TOKEN,
            timeoutMs: config.REDIS_TIMEOUT_MS,
          })
        : null;
    redisClients.set(config, redis);
  }
  return redis;
}

export function createDeps(config: Config, env: Bindings, background: BackgroundTasks): RequestDeps {
  let postgres: PostgresHandle | undefined;
  let storage: ObjectStore | undefined;
  let rooms: RoomPublisher | undefined;
  const deps: Deps = {
    get db() {
      if (!postgres) {
        const handle = createPostgres({
          url: config.DATABASE_URL,
          wsProxy: config.DATABASE_WS_PROXY,
          timeoutMs: config.DATABASE_TIMEOUT_MS,
        });
        postgres = handle;
      }
      return postgres.db;
    },
    get redis() {
      return redisFor(config);
    },
    get storage() {
      storage ??= storageFromConfig(config);
      return storage;
    },
    get rooms() {
      rooms ??= roomGatewayFor(env);
      return rooms;
    },
    background,
  };
  return {
    deps,
    opened: () => postgres !== undefined || storage !== undefined,
    close: async () => {
      storage?.close();
      await postgres?.close();
    },
  };
}
