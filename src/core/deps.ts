import type { Database } from "../adapters/postgres.ts";
import type { Redis } from "../adapters/redis.ts";
import type { RoomGateway } from "../adapters/rooms.ts";
import type { ObjectStore } from "../adapters/storage.ts";
import type { Bindings } from "./app-env.ts";
import type { Config } from "./config.ts";
import type { BackgroundTasks } from "./deferred-work.ts";

/**
 * The clients one request may use, built from config on first use and torn down after the
 * request (via waitUntil). Nothing that holds a socket outlives the request (Workers forbid sharing
 * sockets across requests); only the Upstash client, which is configuration over fetch, is shared.
 * Built by the composition root (src/composition/deps.ts); features see only this interface.
 */
export interface Deps {
  /** Drizzle over Neon (or the local bridge). Opening is lazy; the pool is closed after the response. */
  readonly db: Database;
  /** Upstash Redis, or null when no cache is configured (the service then reads Postgres). */
  readonly redis: Redis | null;
  /** The object store (R2, or any S3-compatible one): every call bounded and mapped to problems. */
  readonly storage: ObjectStore;
  /** Realtime rooms (Durable Objects, or the entry point's own room service): the whole gateway for the rooms routes; other services take the narrower RoomPublisher. */
  readonly rooms: RoomGateway;
  /** Hands background work to the runtime (ExecutionContext.waitUntil). */
  readonly background: BackgroundTasks;
}

/** One request's clients as the request frame holds them: the deps, and whether and how to close them. */
export interface RequestDeps {
  deps: Deps;
  /** True once the request opened something that close() must end (a Postgres pool, an S3 client). */
  opened(): boolean;
  /** Ends whatever the request opened; safe to call when nothing was. */
  close(): Promise<void>;
}

/** Builds a request's clients; the composition root's createDeps, handed to the app by its entry point. */
export type DepsFactory = (config: Config, env: Bindings, background: BackgroundTasks) => RequestDeps;
