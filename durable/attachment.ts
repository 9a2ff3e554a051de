import type { ConnectRequest } from "./connect-request.ts";

/**
 * Per-socket identity, stored with the socket through `serializeAttachment` so it survives
 * hibernation: after the object wakes, presence and `from` are rebuilt from these alone.
 * Kept small (well under the 16 KiB attachment limit): ids are bounded by the connect request.
 */
export interface SocketAttachment {
  v: 1;
  connectionId: string;
  /** The room's name: an object does not otherwise know the name it was addressed by. */
  room: string;
  userId: string;
  sessionId: string;
  canPublish: boolean;
  connectedAt: number;
  /** Set once the room dropped the socket (closed it, or saw it close), so a later event for it is a no-op. */
  dropped?: true;
}

/** A new socket's identity, from the connect request the Worker (or the in-process route) authorised. */
export function newAttachment(request: ConnectRequest, now = Date.now()): SocketAttachment {
  return {
    v: 1,
    connectionId: crypto.randomUUID(),
    room: request.room,
    userId: request.userId,
    sessionId: request.sessionId,
    canPublish: request.canPublish,
    connectedAt: now,
  };
}

export function writeAttachment(ws: WebSocket, attachment: SocketAttachment): void {
  ws.serializeAttachment(attachment);
}

/** The socket's identity, or undefined for a socket that has none (never accepted by this code). */
export function readAttachment(ws: WebSocket): SocketAttachment | undefined {
  const value: unknown = ws.deserializeAttachment();
  if (typeof value !== "object" || value === null) return undefined;
  const a = value as Partial<SocketAttachment>;
  if (
    a.v !== 1 ||
    typeof a.connectionId !== "string" ||
    typeof a.room !== "string" ||
    typeof a.userId !== "string" ||
    typeof a.sessionId !== "string"
  ) {
    return undefined;
  }
  return a as SocketAttachment;
}

/** Tags let the object find a session's or a user's sockets without reading every attachment. */
export const sessionTag = (sessionId: string): string => `sid:${sessionId}`;
export const userTag = (userId: string): string => `uid:${userId}`;
