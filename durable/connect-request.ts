import { z } from "zod";
import { ROOM_NAME_PATTERN } from "../protocol/frames.ts";

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
