/**
 * The realtime wire protocol: every frame a room socket carries, as ONE zod discriminated union per
 * direction. The room Durable Object (durable/) and the client SDK (client/) both parse with these,
 * so a frame shape changes in exactly one place. Frames are JSON text; times are epoch milliseconds.
 * See docs/realtime.md for the contract these encode.
 */
import { z } from "zod";

/** Room names (API.md, Realtime). Checked by the Worker before any upgrade and by the SDK before connecting. */
export const ROOM_NAME_PATTERN = /^[a-z0-9][a-z0-9._:-]{0,63}$/;

const USER_ROOM_PREFIX = "user:";
/** A user's private room (`user:<id>`): only that user reads it; its object also keeps their session registry. */
export const userRoom = (userId: string): string => `${USER_ROOM_PREFIX}${userId}`;
/** The user whose private room this is, or undefined for any other room. */
export const userOfRoom = (room: string): string | undefined =>
  room.startsWith(USER_ROOM_PREFIX) ? room.slice(USER_ROOM_PREFIX.length) : undefined;

/** A client's correlation id for a publish; echoed in the `ack` (and in an `error` about that publish). */
export const MAX_CLIENT_FRAME_ID_LENGTH = 64;

/**
 * Heartbeat frames. The room object answers PING_FRAME with PONG_FRAME through the runtime's
 * auto-response (setWebSocketAutoResponse), so an idle room is not woken to answer keep-alives.
 * The auto-response matches the exact text only: send PING_FRAME verbatim.
 */
export const PING_FRAME = '{"type":"ping"}';
export const PONG_FRAME = '{"type":"pong"}';

/** `error` frame codes. Clients must treat an unknown code as a generic, non-fatal error. */
export const ERROR_CODES = {
  /** Not JSON text, or not a valid client frame. */
  badFrame: "bad_frame",
  /** The frame is larger than the room's frame limit (default 64 KiB). */
  tooLarge: "too_large",
  /** Publishing faster than the per-connection limit; `retryAfterMs` says when to try again. */
  rateLimited: "rate_limited",
  /** The room does not accept publishes from this socket (e.g. `system`). */
  readOnly: "read_only",
  /**
   * The `since` asked for is older than what the room retains (or newer than anything it has).
   * The retained messages from `oldestSeq` follow; anything between `since` and `oldestSeq` is gone.
   */
  resyncRequired: "resync_required",
  /** The room failed to handle the frame; the connection stays usable. */
  internal: "internal",
} as const;
export type KnownErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

/** WebSocket close codes the room uses (4000-4999 is the application range). */
export const CLOSE_CODES = {
  /** The session (sign-in) this socket was opened with was revoked: get a new token before reconnecting. */
  sessionRevoked: 4401,
} as const;

const seq = z.number().int().nonnegative();
const userRef = z.object({ id: z.string() });
const clientFrameId = z.string().min(1).max(MAX_CLIENT_FRAME_ID_LENGTH);

// ---------------------------------------------------------------- server → client

export const welcomeFrame = z.object({
  type: z.literal("welcome"),
  room: z.string(),
  connectionId: z.string(),
  user: userRef,
  /** The latest sequence number in the room when this socket joined (0: none yet). */
  seq,
});

export const messageFrame = z.object({
  type: z.literal("message"),
  seq: seq,
  from: userRef,
  data: z.unknown(),
  ts: z.number(),
});

export const presenceUser = z.object({ id: z.string(), connections: z.number().int().positive() });

const presenceSync = z.object({ type: z.literal("presence"), action: z.literal("sync"), users: z.array(presenceUser) });
/**
 * Every join and leave since the previous diff, coalesced (a room sends at most one diff per presence
 * interval, so a member's presence traffic does not grow with how fast the room fills). It states
 * the users' final status: apply `left` then `joined` as set operations; a diff may repeat what the
 * socket's own `sync` already said, and applying it again changes nothing.
 */
const presenceDiff = z.object({
  type: z.literal("presence"),
  action: z.literal("diff"),
  joined: z.array(userRef),
  left: z.array(userRef),
});
export const presenceFrame = z.discriminatedUnion("action", [presenceSync, presenceDiff]);

/**
 * Several `message` frames sent together, in seq order: what one socket gets when the room stored
 * more than one message within one tick (one frame per socket instead of one per message). A tick
 * with a single message sends it as a plain `message` frame.
 */
export const batchFrame = z.object({ type: z.literal("batch"), messages: z.array(messageFrame).min(2) });

export const ackFrame = z.object({
  type: z.literal("ack"),
  /** The client's `id` from the publish; absent when the publish carried none. */
  id: clientFrameId.optional(),
  seq,
});

export const errorFrame = z.object({
  type: z.literal("error"),
  code: z.string(),
  message: z.string(),
  /** The publish `id` this error answers, when it answers one. */
  id: clientFrameId.optional(),
  /** rate_limited: how long until a publish would be accepted. */
  retryAfterMs: z.number().int().nonnegative().optional(),
  /** resync_required: the first retained sequence number (the replay starts there). */
  oldestSeq: seq.optional(),
  /** resync_required: the latest sequence number in the room. */
  seq: seq.optional(),
});

export const pongFrame = z.object({ type: z.literal("pong") });

export const serverFrame = z.discriminatedUnion("type", [
  welcomeFrame,
  messageFrame,
  batchFrame,
  presenceFrame,
  ackFrame,
  errorFrame,
  pongFrame,
]);

export type WelcomeFrame = z.infer<typeof welcomeFrame>;
export type MessageFrame = z.infer<typeof messageFrame>;
export type BatchFrame = z.infer<typeof batchFrame>;
export type PresenceFrame = z.infer<typeof presenceFrame>;
export type PresenceUser = z.infer<typeof presenceUser>;
export type AckFrame = z.infer<typeof ackFrame>;
export type ErrorFrame = z.infer<typeof errorFrame>;
export type ServerFrame = z.infer<typeof serverFrame>;

// ---------------------------------------------------------------- client → server

export const publishFrame = z.object({
  type: z.literal("publish"),
  // Any JSON value; it arrives through JSON.parse, so only its presence needs checking.
  data: z.unknown().refine((v) => v !== undefined, "data is required"),
  id: clientFrameId.optional(),
});

export const pingFrame = z.object({ type: z.literal("ping") });

export const clientFrame = z.discriminatedUnion("type", [publishFrame, pingFrame]);

export type PublishFrame = z.infer<typeof publishFrame>;
export type ClientFrame = z.infer<typeof clientFrame>;

// ---------------------------------------------------------------- parsing

export type ParseResult<T> = { ok: true; frame: T } | { ok: false; reason: string };

function parseWith<T>(schema: z.ZodType<T>, text: string): ParseResult<T> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, reason: "not JSON" };
  }
  const result = schema.safeParse(json);
  if (result.success) return { ok: true, frame: result.data };
  const issue = result.error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
  return { ok: false, reason: `${where}${issue?.message ?? "invalid frame"}` };
}

/** Parses a frame the server sent. Never throws. */
export const parseServerFrame = (text: string): ParseResult<ServerFrame> => parseWith(serverFrame, text);

/** Parses a frame a client sent. Never throws. */
export const parseClientFrame = (text: string): ParseResult<ClientFrame> => parseWith(clientFrame, text);

/** Encodes a frame for the wire. Typed, so only frames of the union can be sent. */
export const encodeServerFrame = (frame: ServerFrame): string => JSON.stringify(frame);
/** A `batch` frame from already-encoded `message` frames (the room keeps them as stored text). */
export const encodeBatchFrame = (messageFrames: readonly string[]): string =>
  `{"type":"batch","messages":[${messageFrames.join(",")}]}`;
export const encodeClientFrame = (frame: ClientFrame): string => JSON.stringify(frame);
