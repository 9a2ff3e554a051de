// Realtime for the Node, Deno and Bun entry points: every room lives in this one process, behind the
// same RoomGateway the Worker's routes use. Each room is the same room core as the Durable Object's
// (durable/room-core.ts) over an in-process host: a Map of sockets and their attachments, node:sqlite
// in memory for the log. What differs from the Durable Object: one instance holds every room (see
// docs/runtimes.md for scaling), and the log is in memory, so a restart empties it (clients then get
// the resync signal).
import { newAttachment } from "../durable/attachment.ts";
import type { ConnectRequest } from "../durable/connect-request.ts";
import { SERVER_SENDER_ID } from "../durable/connect-request.ts";
import type { RoomLimits } from "../durable/room-limits.ts";
import { CLOSE_CODES, type PresenceUser } from "../protocol/frames.ts";
import { type ConnectOutcome, type RoomGateway, RoomPublishRefusedError } from "../src/adapters/rooms.ts";
import type { Logger } from "../common/logger.ts";
import { InProcessRoom, type SocketUpgrader } from "./in-process-room.ts";

export type { RoomSocket, SocketEvents, SocketUpgrader } from "./in-process-room.ts";

export interface LocalRoomsOptions {
  limits: RoomLimits;
  log: Logger;
  /** Rooms kept in memory; past it the longest-idle rooms without sockets are dropped (their log with them). */
  maxRooms?: number;
}

/** Revoked sessions are remembered this long, so a connect that raced the revocation is refused. */
const REVOKED_SESSION_TTL_MS = 24 * 3600 * 1000;
const MAX_REVOKED_SESSIONS = 100_000;
const DEFAULT_MAX_ROOMS = 10_000;

export interface LocalRooms {
  /** The gateway the routes and services use (put it on the env as ROOMS_GATEWAY). */
  gateway: RoomGateway;
  /** Closes every socket (1001) and frees the rooms (linked: also takes this instance's members out of presence). */
  close(): void | Promise<void>;
}

/** One process's rooms, upgraded through `upgrader`. */
export function createLocalRooms(upgrader: SocketUpgrader, options: LocalRoomsOptions): LocalRooms {
  const { limits, log } = options;
  const maxRooms = options.maxRooms ?? DEFAULT_MAX_ROOMS;
  const rooms = new Map<string, InProcessRoom>();
  const revoked = new Map<string, number>();

  const room = (name: string): InProcessRoom => {
    let found = rooms.get(name);
    if (!found) {
      if (rooms.size >= maxRooms) evictIdle();
      found = new InProcessRoom(name, { limits, logger: log });
      rooms.set(name, found);
    }
    found.lastActive = Date.now();
    return found;
  };
  const evictIdle = (): void => {
    const idle = [...rooms.values()].filter((r) => r.sockets.size === 0).sort((a, b) => a.lastActive - b.lastActive);
    for (const r of idle.slice(0, Math.max(1, Math.ceil(maxRooms / 10)))) {
      r.close();
      rooms.delete(r.name);
    }
  };
  const isRevoked = (sessionId: string): boolean => {
    const until = revoked.get(sessionId);
    return until !== undefined && until > Date.now();
  };

  const gateway: RoomGateway = {
    // Revocations are remembered in memory only; after a restart the route's lookup covers them.
    knowsRevocations: false,
    async publish(name, data) {
      const outcome = await room(name).core.publish({ from: SERVER_SENDER_ID, data });
      if (!outcome.ok) throw new RoomPublishRefusedError(name, outcome.reason);
      return { seq: outcome.seq };
    },
    async disconnectSession(_userId, sessionId) {
      const now = Date.now();
      if (revoked.size >= MAX_REVOKED_SESSIONS) {
        for (const [id, until] of revoked) if (until <= now) revoked.delete(id);
        // Still full: forget the oldest (Maps iterate in insertion order).
        for (const id of revoked.keys()) {
          if (revoked.size < MAX_REVOKED_SESSIONS) break;
          revoked.delete(id);
        }
      }
      revoked.set(sessionId, now + REVOKED_SESSION_TTL_MS);
      for (const r of rooms.values()) r.core.closeSession(sessionId);
    },
    async disconnectSessions(sessions) {
      for (const { userId, sessionId } of sessions) await gateway.disconnectSession(userId, sessionId);
    },
    async connect(request: ConnectRequest, upgrade: Request): Promise<ConnectOutcome> {
      if (isRevoked(request.sessionId)) return { ok: false, refusal: "session_revoked" };
      const target = room(request.room);
      const early = target.core.refusal(request.userId);
      if (early) return { ok: false, refusal: early };
      const attachment = newAttachment(request);
      const response = upgrader.upgrade(upgrade, (socket) => {
        // Re-checked at open: other sockets may have joined or the session been revoked meanwhile.
        const refusal = isRevoked(request.sessionId) ? "revoked" : target.core.refusal(request.userId);
        if (refusal) {
          socket.close(refusal === "revoked" ? CLOSE_CODES.sessionRevoked : 1013, refusal);
          return { message: () => {}, closed: () => {} };
        }
        // The room may have been evicted while the handshake ran: use the live one.
        return room(request.room).open(socket, attachment, request.since);
      });
      if (!response) return { ok: false, refusal: "bad_request" };
      return { ok: true, response };
    },
    async publishAs(name, request) {
      return room(name).core.publish(request);
    },
    async history(name, since, limit) {
      return room(name).core.history(since, limit);
    },
    async presence(name): Promise<{ users: PresenceUser[] }> {
      return { users: rooms.get(name)?.core.presenceUsers() ?? [] };
    },
  };

  return {
    gateway,
    close() {
      for (const r of rooms.values()) r.close();
      rooms.clear();
    },
  };
}
