// Realtime for the Node, Deno and Bun entry points: every room lives in this one process, behind the
// same RoomGateway the Worker's routes use. Each room is the same room core as the Durable Object's
// (durable/room-core.ts) over an in-process host: a Map of sockets and their attachments, node:sqlite
// in memory for the log. What differs from the Durable Object: one instance holds every room (see
// docs/runtimes.md for scaling), and the log is in memory, so a restart empties it (clients then get
// the resync signal).
import type { SocketAttachment } from "../durable/attachment.ts";
import type { ConnectRequest } from "../durable/connect-request.ts";
import { SERVER_SENDER_ID } from "../durable/connect-request.ts";
import { type RoomHost, RoomCore, roomStorage } from "../durable/room-core.ts";
import type { RoomLimits } from "../durable/room-limits.ts";
import { CLOSE_CODES, ERROR_CODES, encodeServerFrame, type PresenceUser } from "../protocol/frames.ts";
import { type ConnectOutcome, type RoomGateway, RoomPublishError } from "../src/adapters/rooms.ts";
import type { Logger } from "../common/logger.ts";
import { type MemorySqlStore, memorySqlStore } from "./sqlite-store.ts";

/** The runtime's side of a socket the room holds. */
export interface RoomSocket {
  send(text: string): void;
  close(code: number, reason: string): void;
  /** Bytes queued but not yet sent (the runtime's bufferedAmount). */
  bufferedAmount(): number;
}

/** What the room does with a socket's events; the runtime adapter calls these. */
export interface SocketEvents {
  message(data: string | ArrayBuffer): void;
  closed(code: number): void;
}

/**
 * The runtime's WebSocket upgrade (Deno.upgradeWebSocket, Bun's server.upgrade, ws on Node).
 * `onOpen` runs once the socket is open and returns the handlers for its events. The returned
 * Response is what the route answers; null when this request cannot be upgraded here.
 */
export interface SocketUpgrader {
  upgrade(request: Request, onOpen: (socket: RoomSocket) => SocketEvents): Response | null;
}

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

/** One room in this process: the room core over a Map of its open sockets. */
class LocalRoom {
  readonly name: string;
  readonly sockets = new Map<RoomSocket, SocketAttachment>();
  readonly core: RoomCore<RoomSocket>;
  readonly #store: MemorySqlStore;
  lastActive = Date.now();

  constructor(name: string, limits: RoomLimits, logger: Logger) {
    this.name = name;
    this.#store = memorySqlStore();
    const sockets = this.sockets;
    const host: RoomHost<RoomSocket> = {
      sockets: () => sockets.keys(),
      *socketsOfSession(sessionId) {
        for (const [socket, a] of sockets) if (a.sessionId === sessionId) yield socket;
      },
      attachment: (socket) => sockets.get(socket),
      // A dropped socket leaves the room's Map at once: the core then never sees it again.
      setAttachment: (socket, a) => {
        if (a.dropped) sockets.delete(socket);
        else sockets.set(socket, a);
      },
      send: (socket, text) => socket.send(text),
      close: (socket, code, reason) => socket.close(code, reason),
      bufferedAmount: (socket) => socket.bufferedAmount(),
      schedule: (delayMs, run) => {
        setTimeout(run, delayMs);
      },
    };
    this.core = new RoomCore({ host, ...roomStorage(this.#store, limits), limits, logger });
    this.core.init();
  }

  touch(): RoomCore<RoomSocket> {
    this.lastActive = Date.now();
    return this.core;
  }

  close(): void {
    this.core.closeAll(1001, "server shutting down");
    this.sockets.clear();
    this.#store.close();
  }
}

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
  const rooms = new Map<string, LocalRoom>();
  const revoked = new Map<string, number>();

  const room = (name: string): LocalRoom => {
    let found = rooms.get(name);
    if (!found) {
      if (rooms.size >= maxRooms) evictIdle();
      found = new LocalRoom(name, limits, log);
      rooms.set(name, found);
    }
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
    async publish(name, data) {
      const outcome = await room(name).touch().publish({ from: SERVER_SENDER_ID, data });
      if (!outcome.ok) throw new RoomPublishError(name, outcome.reason);
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
    async connect(request: ConnectRequest, upgrade: Request): Promise<ConnectOutcome> {
      if (isRevoked(request.sessionId)) return { ok: false, refusal: "session_revoked" };
      const target = room(request.room);
      const early = target.core.refusal(request.userId);
      if (early) return { ok: false, refusal: early };
      const attachment: SocketAttachment = {
        v: 1,
        connectionId: crypto.randomUUID(),
        room: request.room,
        userId: request.userId,
        sessionId: request.sessionId,
        canPublish: request.canPublish,
        connectedAt: Date.now(),
      };
      const response = upgrader.upgrade(upgrade, (socket) => {
        // Re-checked at open: other sockets may have joined or the session been revoked meanwhile.
        const refusal = isRevoked(request.sessionId) ? "revoked" : target.core.refusal(request.userId);
        if (refusal) {
          socket.close(refusal === "revoked" ? CLOSE_CODES.sessionRevoked : 1013, refusal);
          return { message: () => {}, closed: () => {} };
        }
        // The room may have been evicted while the handshake ran: use the live one.
        const live = room(request.room);
        live.touch().admit(socket, attachment, request.since);
        return {
          message: (data) => {
            try {
              live.touch().receive(socket, data);
            } catch (error) {
              log.error("frame handling failed", { error });
              socket.send(
                encodeServerFrame({
                  type: "error",
                  code: ERROR_CODES.internal,
                  message: "The room could not handle that frame.",
                }),
              );
            }
          },
          closed: () => live.core.drop(socket),
        };
      });
      if (!response) return { ok: false, refusal: "bad_request" };
      return { ok: true, response };
    },
    async publishAs(name, request) {
      return room(name).touch().publish(request);
    },
    async history(name, since, limit) {
      return room(name).touch().history(since, limit);
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
