import { z } from "zod";
import { type PresenceUser, ROOM_NAME_PATTERN } from "./frames.ts";

/**
 * The contract between the Worker and the room objects (durable/): what the Worker sends a room
 * object and what it answers. Both sides import it from here, so the Worker (src/adapters/rooms.ts)
 * never imports durable/. Not part of the client SDK's protocol (frames.ts is): only the Worker
 * reaches an object.
 */

/**
 * What the Worker tells the room object about a socket it already authorised. The object is only
 * reachable through the Worker's binding, and the Worker builds this header itself from a verified
 * token (never copying client headers), so the object can trust it.
 */
export const CONNECT_HEADER = "X-Room-Connect";

/** Identity fields are bounded so the socket attachment stays far below its 16 KiB limit. */
const id = z.string().min(1).max(128);

export const connectRequestSchema = z.object({
  room: z.string().regex(ROOM_NAME_PATTERN),
  userId: id,
  sessionId: id,
  /** Whether this socket may publish (the room rule, decided by the Worker). */
  canPublish: z.boolean(),
  /** Replay retained messages after this seq before live ones. */
  since: z.number().int().nonnegative().optional(),
});

export type ConnectRequest = z.infer<typeof connectRequestSchema>;

/**
 * Why the object refused a connect, sent as the `X-Room-Refusal` header on a non-101 answer; the
 * Worker turns it into a problem response (the object never shapes error bodies).
 */
export const REFUSAL_HEADER = "X-Room-Refusal";
export type ConnectRefusal = "bad_request" | "session_revoked" | "room_full" | "too_many_connections" | "unavailable";

export const SERVER_SENDER_ID = "server";

export interface PublishRequest {
  /** User id shown as `from.id` (SERVER_SENDER_ID for server events). */
  from: string;
  data: unknown;
  /** Rate-limit this publish under the key (e.g. the user id); absent: not limited (server events). */
  rateLimitKey?: string;
}

export type PublishOutcome =
  | { ok: true; seq: number }
  | { ok: false; reason: "too_large"; maxBytes: number }
  | { ok: false; reason: "invalid" }
  | { ok: false; reason: "rate_limited"; retryAfterMs: number };

export interface HistoryItem {
  seq: number;
  from: { id: string };
  data: unknown;
  ts: number;
}

export interface HistoryPage {
  items: HistoryItem[];
  /** The latest seq in the room. */
  seq: number;
  /** The first retained seq (seq + 1 when nothing is retained). */
  oldestSeq: number;
}

export interface RevokeOutcome {
  /** Whether the registry shard stored the revocation (false: retry it; nothing was closed). */
  recorded: boolean;
  /** Rooms whose sockets of the session(s) were closed. */
  closedRooms: string[];
  /** Rooms that could not be reached; their registrations are kept so a retry reaches them. */
  failedRooms: string[];
}

/** A session as the registry knows it: its user and its id (the `sid` claim). */
export interface SessionRef {
  userId: string;
  sessionId: string;
}

/**
 * Registry objects. A room always registers in the one shard its name hashes to, so a room sends
 * all the registrations of one turn (connects arriving together) in ONE call, and a shard writes
 * every new one of its turn in one transaction: capacity comes from that batching, not from the
 * shard count. A revocation does not know which rooms a session joined, so it asks every shard
 * (src/adapters/rooms.ts): 16 keeps a logout, with its retry, well inside the 50 subrequests of a
 * Workers free-plan invocation. Changing it (or the hash) moves rooms to other shards, which forgets
 * their registrations and revocations: only with a deploy that closes every socket anyway.
 */
export const REGISTRY_SHARDS = 16;

/**
 * The registry object of a room. `#` cannot appear in a room name (ROOM_NAME_PATTERN), so no client
 * can open a socket to a registry object or read it as a room.
 */
export function registryObjectName(room: string): string {
  // FNV-1a: cheap, stable across runtimes and deploys, spreads names evenly.
  let hash = 0x811c9dc5;
  for (let i = 0; i < room.length; i++) {
    hash ^= room.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return `#registry/${(hash >>> 0) % REGISTRY_SHARDS}`;
}

/** Every registry object, in shard order (a revocation asks them all). */
export const REGISTRY_OBJECT_NAMES: readonly string[] = Array.from(
  { length: REGISTRY_SHARDS },
  (_, n) => `#registry/${n}`,
);

/**
 * A room object as the Worker's stub presents it (RPC answers are promises). durable/room-object.ts
 * checks at compile time that its class still answers so.
 */
export interface RoomObjectStub {
  fetch(request: Request): Promise<Response>;
  publish(request: PublishRequest): Promise<PublishOutcome>;
  history(since: number, limit: number): Promise<HistoryPage>;
  presence(): Promise<{ users: PresenceUser[] }>;
  /** Registry objects: revokes the sessions and closes their sockets in the rooms of this shard. */
  revokeSessions(sessionIds: string[]): Promise<RevokeOutcome>;
}
