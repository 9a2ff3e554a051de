import { createPostgres, type Database, type PostgresHandle } from "../adapters/postgres.ts";
import { createRedis, type Redis } from "../adapters/redis.ts";
import { type RoomGateway, roomGatewayFor } from "../adapters/rooms.ts";
import { createStorage, type Storage } from "../adapters/storage.ts";
import type { Bindings } from "./app-env.ts";
import type { Config } from "./config.ts";
import type { BackgroundTasks } from "./deferred-work.ts";

/**
 * The clients one request may use, built from config on first use and torn down after the
 * request (via waitUntil). Nothing that holds a socket outlives the request (Workers forbid sharing
 * sockets across requests); only the Upstash client, which is configuration over fetch, is shared.
 */
export interface Deps {
  /** Drizzle over Neon (or the local bridge). Opening is lazy; the pool is closed after the response. */
  readonly db: Database;
  /** Upstash Redis, or null when no cache is configured (the service then reads Postgres). */
  readonly redis: Redis | null;
  /** The S3/R2 client. */
  readonly storage: Storage;
  /**
   * Realtime rooms (Durable Objects, or the entry point's own room service): the whole gateway for
   * the rooms routes; other services take the narrower RoomPublisher.
   */
  readonly rooms: RoomGateway;
  /** Hands background work to the runtime (ExecutionContext.waitUntil). */
  readonly background: BackgroundTasks;
}

/** The S3/R2 client the config describes (also used by jobs and tests that need only storage). */
export function storageFromConfig(config: Config): Storage {
  return createStorage({
    endpoint: config.S3_ENDPOINT,
    region: config.S3_REGION,
    bucket: config.S3_BUCKET,
    accessKeyId: config.S3_ACCESS_KEY_ID,
    secretAccessKey: config.S3_SECRET_ACCESS_KEY,
    publicBaseUrl: config.S3_PUBLIC_BASE_URL,
    forcePathStyle: config.S3_FORCE_PATH_STYLE,
    timeoutMs: config.STORAGE_TIMEOUT_MS,
  });
}

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
  let storage: Storage | undefined;
  let rooms: RoomGateway | undefined;
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
      storage?.client.destroy();
      await postgres?.close();
    },
  };
}
