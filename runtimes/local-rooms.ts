// Realtime for the Node, Deno and Bun entry points: every room lives in this one process, behind the
// same RoomGateway the Worker's routes use, speaking the same protocol with the same rules
// (durable/room-logic.ts, message-log.ts, presence.ts, rate-limit.ts, room-limits.ts). What differs
// from the Durable Object: one instance holds every room (see docs/runtimes.md for scaling), and the
// message log is in memory, so a restart empties it (clients then get the resync signal).
import type { SocketAttachment } from "../durable/attachment.ts";
import type { ConnectRefusal, ConnectRequest } from "../durable/connect-request.ts";
import { SERVER_SENDER_ID } from "../durable/connect-request.ts";
import { MessageLog, resumePoint } from "../durable/message-log.ts";
import { Presence } from "../durable/presence.ts";
import { fullBucket, type TakeResult, takeToken, type TokenBucket } from "../durable/rate-limit.ts";
import type { RoomLimits } from "../durable/room-limits.ts";
import {
  answerClientFrame,
  type HistoryPage,
  messageFrame,
  type PublishOutcome,
  type PublishRequest,
  publishMessage,
  type RoomActions,
  toHistoryItem,
} from "../durable/room-logic.ts";
import { CLOSE_CODES, ERROR_CODES, encodeServerFrame, type PresenceUser } from "../protocol/frames.ts";
import { type ConnectOutcome, type RoomGateway, RoomPublishError } from "../src/adapters/rooms.ts";
import type { Logger } from "../src/core/logger.ts";
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
const MAX_HTTP_BUCKETS = 10_000;
const DEFAULT_MAX_ROOMS = 10_000;

class LocalRoom {
  readonly name: string;
  readonly sockets = new Map<RoomSocket, SocketAttachment>();
  readonly presence = new Presence();
  readonly #limits: RoomLimits;
  readonly #store: MemorySqlStore;
  readonly messages: MessageLog;
  readonly #buckets = new Map<string, TokenBucket>();
  readonly actions: RoomActions;
  lastActive = Date.now();

  constructor(name: string, limits: RoomLimits) {
    this.name = name;
    this.#limits = limits;
    this.#store = memorySqlStore();
    this.messages = new MessageLog(this.#store, {
      maxMessages: limits.ROOM_RETENTION_MESSAGES,
      maxAgeMs: limits.ROOM_RETENTION_SECONDS * 1000,
      maxBytes: limits.ROOM_RETENTION_BYTES,
    });
    this.messages.init();
    this.actions = {
      maxFrameBytes: limits.ROOM_MAX_FRAME_BYTES,
      take: (key) => this.#take(key),
      append: (from, dataText) => this.#append(from, dataText),
    };
  }

  capacityRefusal(userId: string): ConnectRefusal | undefined {
    if (this.presence.connectionCount >= this.#limits.ROOM_MAX_CONNECTIONS) return "room_full";
    if (this.presence.connectionsOf(userId) >= this.#limits.ROOM_MAX_CONNECTIONS_PER_USER)
      return "too_many_connections";
    return undefined;
  }

  /** The socket is open: welcome, presence sync, replay, then announce; all synchronous, as in the object. */
  accept(socket: RoomSocket, attachment: SocketAttachment, since: number | undefined): void {
    this.lastActive = Date.now();
    this.sockets.set(socket, attachment);
    const joined = this.presence.add(attachment.connectionId, attachment.userId);
    this.messages.pruneExpired(Date.now());
    const latest = this.messages.latestSeq;
    const send = (text: string) => socket.send(text);
    send(
      encodeServerFrame({
        type: "welcome",
        room: this.name,
        connectionId: attachment.connectionId,
        user: { id: attachment.userId },
        seq: latest,
      }),
    );
    send(encodeServerFrame({ type: "presence", action: "sync", users: this.presence.users() }));
    if (since !== undefined) {
      const { from, resync } = resumePoint(since, latest, this.messages.oldestSeq());
      if (resync) {
        send(
          encodeServerFrame({
            type: "error",
            code: ERROR_CODES.resyncRequired,
            message: `Messages after ${since} are no longer retained; replaying from ${from + 1}.`,
            oldestSeq: from + 1,
            seq: latest,
          }),
        );
      }
      for (const message of this.messages.after(from)) send(message.frame);
    }
    if (joined) {
      this.broadcast(encodeServerFrame({ type: "presence", action: "join", user: { id: attachment.userId } }), socket);
    }
  }

  onMessage(socket: RoomSocket, data: string | ArrayBuffer): void {
    this.lastActive = Date.now();
    socket.send(answerClientFrame(data, this.sockets.get(socket), this.actions));
  }

  /** Forgets a socket once: presence (with a `leave` for the user's last) and its rate bucket. */
  drop(socket: RoomSocket): void {
    const attachment = this.sockets.get(socket);
    if (!attachment) return;
    this.sockets.delete(socket);
    this.#buckets.delete(attachment.connectionId);
    const left = this.presence.remove(attachment.connectionId);
    if (left !== undefined) {
      this.broadcast(encodeServerFrame({ type: "presence", action: "leave", user: { id: left } }), socket);
    }
  }

  publish(request: PublishRequest): PublishOutcome {
    this.lastActive = Date.now();
    return publishMessage(request, this.actions);
  }

  history(since: number, limit: number): HistoryPage {
    this.messages.pruneExpired(Date.now());
    const items = this.messages.after(since, limit).map((m) => toHistoryItem(m.frame));
    return { items, seq: this.messages.latestSeq, oldestSeq: this.messages.oldestSeq() };
  }

  closeSession(sessionId: string): void {
    for (const [socket, attachment] of [...this.sockets]) {
      if (attachment.sessionId !== sessionId) continue;
      this.drop(socket);
      try {
        socket.close(CLOSE_CODES.sessionRevoked, "session revoked");
      } catch {
        // Already closing.
      }
    }
  }

  broadcast(text: string, except?: RoomSocket): void {
    // A member that cannot keep up is closed rather than buffered without bound; twice the
    // retention leaves room for a full replay plus live traffic. It resumes with ?since.
    const maxBuffered = 2 * this.#limits.ROOM_RETENTION_BYTES;
    for (const socket of [...this.sockets.keys()]) {
      if (socket === except) continue;
      try {
        if (socket.bufferedAmount() > maxBuffered) {
          this.drop(socket);
          socket.close(1013, "too slow");
          continue;
        }
        socket.send(text);
      } catch {
        // A socket closing right now; its close event cleans up.
      }
    }
  }

  close(): void {
    this.#store.close();
  }

  #append(from: string, dataText: string): number {
    const stored = this.messages.append(Date.now(), (seq, ts) => messageFrame(seq, from, dataText, ts));
    this.broadcast(stored.frame);
    return stored.seq;
  }

  #take(key: string): TakeResult {
    const limit = { ratePerSecond: this.#limits.ROOM_PUBLISH_RATE_PER_SECOND, burst: this.#limits.ROOM_PUBLISH_BURST };
    const now = Date.now();
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      if (this.#buckets.size >= MAX_HTTP_BUCKETS) {
        const refillMs = (limit.burst / limit.ratePerSecond) * 1000;
        for (const [k, b] of this.#buckets)
          if (k.startsWith("http:") && now - b.updatedAt >= refillMs) this.#buckets.delete(k);
      }
      bucket = fullBucket(limit, now);
      this.#buckets.set(key, bucket);
    }
    return takeToken(bucket, limit, now);
  }
}

export interface LocalRooms {
  /** The gateway the routes and services use (put it on the env as ROOMS_GATEWAY). */
  gateway: RoomGateway;
  /** Closes every socket (1001) and frees the rooms. */
  close(): void;
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
      found = new LocalRoom(name, limits);
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
      const outcome = room(name).publish({ from: SERVER_SENDER_ID, data });
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
      for (const r of rooms.values()) r.closeSession(sessionId);
    },
    async connect(request: ConnectRequest, upgrade: Request): Promise<ConnectOutcome> {
      if (isRevoked(request.sessionId)) return { ok: false, refusal: "session_revoked" };
      const target = room(request.room);
      const early = target.capacityRefusal(request.userId);
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
        const refusal = isRevoked(request.sessionId) ? "revoked" : target.capacityRefusal(request.userId);
        if (refusal) {
          socket.close(refusal === "revoked" ? CLOSE_CODES.sessionRevoked : 1013, refusal);
          return { message: () => {}, closed: () => {} };
        }
        // The room may have been evicted while the handshake ran: use the live one.
        const live = room(request.room);
        live.accept(socket, attachment, request.since);
        return {
          message: (data) => {
            try {
              live.onMessage(socket, data);
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
          closed: () => live.drop(socket),
        };
      });
      if (!response) return { ok: false, refusal: "bad_request" };
      return { ok: true, response };
    },
    async publishAs(name, request) {
      return room(name).publish(request);
    },
    async history(name, since, limit) {
      return room(name).history(since, limit);
    },
    async presence(name): Promise<{ users: PresenceUser[] }> {
      return { users: rooms.get(name)?.presence.users() ?? [] };
    },
  };

  return {
    gateway,
    close() {
      for (const r of rooms.values()) {
        for (const socket of r.sockets.keys()) {
          try {
            socket.close(1001, "server shutting down");
          } catch {
            // already closed
          }
        }
        r.close();
      }
      rooms.clear();
    },
  };
}
