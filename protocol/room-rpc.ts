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
  /** Rooms whose sockets of the session were closed. */
  closedRooms: string[];
  /** Rooms that could not be reached; their registrations are kept so a retry reaches them. */
  failedRooms: string[];
}

/**
 * Registry objects. Each takes a 1/REGISTRY_SHARDS share of all connects and revocations (a Durable
 * Object serves about 1,000 requests/s, so 64 carry tens of thousands of first connects a second).
 * Changing it moves users to other objects, which forgets their registrations: only with a deploy
 * that closes every socket anyway.
 */
export const REGISTRY_SHARDS = 64;

/**
 * The registry object of a user. `#` cannot appear in a room name (ROOM_NAME_PATTERN), so no client
 * can open a socket to a registry object or read it as a room.
 */
export function registryObjectName(userId: string): string {
  // FNV-1a: cheap, stable across runtimes and deploys, spreads ids (UUIDs or an issuer's) evenly.
  let hash = 0x811c9dc5;
  for (let i = 0; i < userId.length; i++) {
    hash ^= userId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return `#registry/${(hash >>> 0) % REGISTRY_SHARDS}`;
}

/**
 * A room object as the Worker's stub presents it (RPC answers are promises). durable/room-object.ts
 * checks at compile time that its class still answers so.
 */
export interface RoomObjectStub {
  fetch(request: Request): Promise<Response>;
  publish(request: PublishRequest): Promise<PublishOutcome>;
  history(since: number, limit: number): Promise<HistoryPage>;
  presence(): Promise<{ users: PresenceUser[] }>;
  revokeSession(sessionId: string): Promise<RevokeOutcome>;
}
