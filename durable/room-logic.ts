/**
 * The pure decisions of a room: client frame checks, publish checks, the stored message frame.
 * The room core (room-core.ts) decides with these; nothing here touches a socket or storage.
 */
import { ERROR_CODES, encodeServerFrame, PONG_FRAME, parseClientFrame, type ServerFrame } from "../protocol/frames.ts";
import type { SocketAttachment } from "./attachment.ts";
import type { HistoryItem, PublishOutcome, PublishRequest } from "../protocol/room-rpc.ts";
import type { TakeResult } from "./rate-limit.ts";

export type { HistoryItem, HistoryPage, PublishOutcome, PublishRequest } from "../protocol/room-rpc.ts";

/** What the decisions below need from a room: its frame limit and its rate buckets. */
export interface RoomChecks {
  maxFrameBytes: number;
  /** Takes a publish token under `key`. */
  take(key: string): TakeResult;
}

/** A message that passed every check, ready to be stored (and then sent). */
export interface AcceptedPublish {
  from: string;
  /** The data as JSON text, spliced into the stored frame as is. */
  dataText: string;
}

/** What to do with a client frame: answer it at once, or publish (and ack with `id` once stored). */
export type FrameDecision =
  | { kind: "answer"; text: string }
  | { kind: "publish"; publish: AcceptedPublish; id: string | undefined };

const utf8 = new TextEncoder();
/** UTF-8 size, without encoding when the UTF-16 length already decides it. */
export function exceedsBytes(text: string, max: number): boolean {
  if (text.length > max) return true;
  if (text.length * 3 <= max) return false;
  return utf8.encode(text).byteLength > max;
}

/** The stored and broadcast `message` frame; the data is spliced in as the JSON text it arrived as. */
export const encodeMessageFrame = (seq: number, from: string, dataText: string, ts: number): string =>
  `{"type":"message","seq":${seq},"from":${JSON.stringify({ id: from })},"data":${dataText},"ts":${ts}}`;

/** Decides one client frame: an immediate answer (pong or error), or a publish to store and ack. */
export function decideClientFrame(
  message: string | ArrayBuffer,
  attachment: SocketAttachment | undefined,
  room: RoomChecks,
): FrameDecision {
  const answer = (frame: ServerFrame): FrameDecision => ({ kind: "answer", text: encodeServerFrame(frame) });
  if (typeof message !== "string") {
    return answer({ type: "error", code: ERROR_CODES.badFrame, message: "Frames must be JSON text." });
  }
  const maxBytes = room.maxFrameBytes;
  if (exceedsBytes(message, maxBytes)) {
    return answer({ type: "error", code: ERROR_CODES.tooLarge, message: `Frames are limited to ${maxBytes} bytes.` });
  }
  const parsed = parseClientFrame(message);
  if (!parsed.ok) {
    return answer({ type: "error", code: ERROR_CODES.badFrame, message: `Invalid frame (${parsed.reason}).` });
  }
  const frame = parsed.frame;
  if (frame.type === "ping") return { kind: "answer", text: PONG_FRAME };
  if (!attachment) {
    return answer({
      type: "error",
      code: ERROR_CODES.internal,
      message: "This connection has no identity; reconnect.",
    });
  }
  const idField = frame.id === undefined ? {} : { id: frame.id };
  if (!attachment.canPublish) {
    return answer({
      type: "error",
      code: ERROR_CODES.readOnly,
      message: "This room is read-only for clients.",
      ...idField,
    });
  }
  const taken = room.take(attachment.connectionId);
  if (!taken.ok) {
    return answer({
      type: "error",
      code: ERROR_CODES.rateLimited,
      message: "Publishing too fast.",
      retryAfterMs: taken.retryAfterMs,
      ...idField,
    });
  }
  return { kind: "publish", publish: { from: attachment.userId, dataText: JSON.stringify(frame.data) }, id: frame.id };
}

export type PublishCheck = { ok: true; publish: AcceptedPublish } | Exclude<PublishOutcome, { ok: true }>;

/** A server-side or HTTP publish: checks serializability, size and rate. Refusals are values. */
export function checkPublish(request: PublishRequest, room: RoomChecks): PublishCheck {
  const dataText = safeStringify(request.data);
  if (dataText === undefined) return { ok: false, reason: "invalid" };
  const maxBytes = room.maxFrameBytes;
  if (exceedsBytes(dataText, maxBytes)) return { ok: false, reason: "too_large", maxBytes };
  if (request.rateLimitKey !== undefined) {
    const taken = room.take(`http:${request.rateLimitKey}`);
    if (!taken.ok) return { ok: false, reason: "rate_limited", retryAfterMs: taken.retryAfterMs };
  }
  return { ok: true, publish: { from: request.from, dataText } };
}

export function toHistoryItem(frame: string): HistoryItem {
  const { seq, from, data, ts } = JSON.parse(frame) as HistoryItem;
  return { seq, from, data, ts };
}

function safeStringify(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch {
    return undefined;
  }
}
