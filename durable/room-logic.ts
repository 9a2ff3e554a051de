/**
 * The runtime-neutral rules of a room: frame handling, publish checks, the stored message frame.
 * Both the Durable Object (room-object.ts) and the in-process room of the Node/Deno/Bun entry points
 * (runtimes/local-rooms.ts) decide with these, so the protocol cannot drift between runtimes.
 * Nothing here touches a socket or storage: callers pass what a decision needs and send the answer.
 */
import { ERROR_CODES, encodeServerFrame, PONG_FRAME, parseClientFrame, type ServerFrame } from "../protocol/frames.ts";
import type { SocketAttachment } from "./attachment.ts";
import type { TakeResult } from "./rate-limit.ts";

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

/** What a room offers the decisions below: its limits, its rate buckets, and its log + broadcast. */
export interface RoomActions {
  maxFrameBytes: number;
  /** Takes a publish token under `key`. */
  take(key: string): TakeResult;
  /** Stores the message, sends it to every member, and returns its seq. */
  append(from: string, dataText: string): number;
}

const utf8 = new TextEncoder();
/** UTF-8 size, without encoding when the UTF-16 length already decides it. */
export function exceedsBytes(text: string, max: number): boolean {
  if (text.length > max) return true;
  if (text.length * 3 <= max) return false;
  return utf8.encode(text).byteLength > max;
}

/** The stored and broadcast `message` frame; the data is spliced in as the JSON text it arrived as. */
export const messageFrame = (seq: number, from: string, dataText: string, ts: number): string =>
  `{"type":"message","seq":${seq},"from":${JSON.stringify({ id: from })},"data":${dataText},"ts":${ts}}`;

/**
 * Handles one client frame and returns the one frame to answer the sender with (pong, ack or error).
 * A publish is appended (and so broadcast) before the ack is returned, so the sender sees its own
 * message before the ack, as every other member does.
 */
export function answerClientFrame(
  message: string | ArrayBuffer,
  attachment: SocketAttachment | undefined,
  room: RoomActions,
): string {
  if (typeof message !== "string") {
    return encode({ type: "error", code: ERROR_CODES.badFrame, message: "Frames must be JSON text." });
  }
  const maxBytes = room.maxFrameBytes;
  if (exceedsBytes(message, maxBytes)) {
    return encode({ type: "error", code: ERROR_CODES.tooLarge, message: `Frames are limited to ${maxBytes} bytes.` });
  }
  const parsed = parseClientFrame(message);
  if (!parsed.ok) {
    return encode({ type: "error", code: ERROR_CODES.badFrame, message: `Invalid frame (${parsed.reason}).` });
  }
  const frame = parsed.frame;
  if (frame.type === "ping") return PONG_FRAME;
  if (!attachment) {
    return encode({
      type: "error",
      code: ERROR_CODES.internal,
      message: "This connection has no identity; reconnect.",
    });
  }
  const idField = frame.id === undefined ? {} : { id: frame.id };
  if (!attachment.canPublish) {
    return encode({
      type: "error",
      code: ERROR_CODES.readOnly,
      message: "This room is read-only for clients.",
      ...idField,
    });
  }
  const taken = room.take(attachment.connectionId);
  if (!taken.ok) {
    return encode({
      type: "error",
      code: ERROR_CODES.rateLimited,
      message: "Publishing too fast.",
      retryAfterMs: taken.retryAfterMs,
      ...idField,
    });
  }
  const seq = room.append(attachment.userId, JSON.stringify(frame.data));
  return encode({ type: "ack", ...idField, seq });
}

/** A server-side or HTTP publish: checks size and rate, then appends. Refusals are values. */
export function publishMessage(request: PublishRequest, room: RoomActions): PublishOutcome {
  const dataText = safeStringify(request.data);
  if (dataText === undefined) return { ok: false, reason: "invalid" };
  const maxBytes = room.maxFrameBytes;
  if (exceedsBytes(dataText, maxBytes)) return { ok: false, reason: "too_large", maxBytes };
  if (request.rateLimitKey !== undefined) {
    const taken = room.take(`http:${request.rateLimitKey}`);
    if (!taken.ok) return { ok: false, reason: "rate_limited", retryAfterMs: taken.retryAfterMs };
  }
  return { ok: true, seq: room.append(request.from, dataText) };
}

export function toHistoryItem(frame: string): HistoryItem {
  const { seq, from, data, ts } = JSON.parse(frame) as HistoryItem;
  return { seq, from, data, ts };
}

export const userRoomOf = (userId: string): string => `user:${userId}`;

function encode(frame: ServerFrame): string {
  return encodeServerFrame(frame);
}

function safeStringify(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch {
    return undefined;
  }
}
