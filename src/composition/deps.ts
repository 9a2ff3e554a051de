import { createPostgres, type PostgresHandle } from "../adapters/postgres.ts";
import { createRedis, type Redis } from "../adapters/redis.ts";
import { type RoomGateway, roomGatewayFor } from "../adapters/rooms.ts";
import { createStorage, type ObjectStore, type StorageOptions } from "../adapters/storage.ts";
import type { Bindings } from "../core/app-env.ts";
import type { Config } from "../core/config.ts";
import type { BackgroundTasks } from "../core/deferred-work.ts";
import type { Deps, RequestDeps } from "../core/deps.ts";

export type { RequestDeps };

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

/**
 * One request's clients, each built on its first use. A class, not an object literal with getters
 * and closures: it is made on every request, and most requests touch none of it.
 */
class RequestClients implements Deps, RequestDeps {
  readonly #config: Config;
  readonly #env: Bindings;
  readonly background: BackgroundTasks;
  #postgres: PostgresHandle | undefined;
  #storage: ObjectStore | undefined;
  #rooms: RoomGateway | undefined;

  constructor(config: Config, env: Bindings, background: BackgroundTasks) {
    this.#config = config;
    this.#env = env;
    this.background = background;
  }

  get deps(): Deps {
    return this;
  }

  get db(): PostgresHandle["db"] {
    this.#postgres ??= createPostgres({
      url: this.#config.DATABASE_URL,
      wsProxy: this.#config.DATABASE_WS_PROXY,
      timeoutMs: this.#config.DATABASE_TIMEOUT_MS,
    });
    return this.#postgres.db;
  }

  get redis(): Redis | null {
    return redisFor(this.#config);
  }

  get storage(): ObjectStore {
    this.#storage ??= storageFromConfig(this.#config);
    return this.#storage;
  }

  get rooms(): RoomGateway {
    this.#rooms ??= roomGatewayFor(this.#env);
    return this.#rooms;
  }

  // Arrow properties: callers destructure them (`const { deps, close } = createDeps(...)`).
  readonly opened = (): boolean => this.#postgres !== undefined || this.#storage !== undefined;

  readonly close = async (): Promise<void> => {
    this.#storage?.close();
    await this.#postgres?.close();
  };
}

export function createDeps(config: Config, env: Bindings, background: BackgroundTasks): RequestDeps {
  return new RequestClients(config, env, background);
}
