import { DurableObject } from "cloudflare:workers";
import { createLogger, type Logger } from "../src/core/logger.ts";
import { withTimeout } from "../src/core/timeout.ts";
import {
  CLOSE_CODES,
  ERROR_CODES,
  encodeServerFrame,
  type ErrorFrame,
  PING_FRAME,
  PONG_FRAME,
  type PresenceUser,
  type ServerFrame,
} from "../protocol/frames.ts";
import { readAttachment, sessionTag, type SocketAttachment, userTag, writeAttachment } from "./attachment.ts";
import {
  CONNECT_HEADER,
  type ConnectRefusal,
  type ConnectRequest,
  connectRequestSchema,
  REFUSAL_HEADER,
} from "./connect-request.ts";
import { MessageLog, resumePoint } from "./message-log.ts";
import { Presence } from "./presence.ts";
import { fullBucket, type TakeResult, takeToken, type TokenBucket } from "./rate-limit.ts";
import { type RoomLimits, roomLimitsFor } from "./room-limits.ts";
import {
  answerClientFrame,
  type HistoryPage,
  messageFrame,
  type PublishOutcome,
  type PublishRequest,
  publishMessage,
  type RoomActions,
  toHistoryItem,
  userRoomOf,
} from "./room-logic.ts";
import { type RegisterResult, SessionRegistry } from "./session-registry.ts";

/** Budget for one call to another room object (the user's registry). */
const PEER_CALL_TIMEOUT_MS = 3_000;
/** In-memory HTTP publish buckets are trimmed past this many users (full buckets are dropped). */
const MAX_HTTP_BUCKETS = 10_000;

export type { HistoryItem, HistoryPage, PublishOutcome, PublishRequest } from "./room-logic.ts";

export interface RevokeOutcome {
  /** Rooms whose sockets of the session were closed. */
  closedRooms: string[];
  /** Rooms that could not be reached; their registrations are kept so a retry reaches them. */
  failedRooms: string[];
}

type RoomNamespace = DurableObjectNamespace<RoomObject>;

/**
 * One realtime room. Sockets are accepted with the WebSocket Hibernation API, so an idle room is
 * evicted from memory while its sockets stay open; everything per-socket lives in the socket's
 * attachment and everything durable in SQLite. Messages are stored, then sent (the runtime's
 * output gate holds a send until the write that precedes it is durable).
 *
 * The object named `user:<id>` also keeps that user's session registry (see session-registry.ts).
 * Only the Worker can reach an object (through its ROOMS binding), and it authorises first.
 */
export class RoomObject extends DurableObject<Cloudflare.Env> {
  readonly #limits: RoomLimits;
  readonly #logger: Logger;
  readonly #messages: MessageLog;
  readonly #registry: SessionRegistry;
  // Rebuilt lazily from the sockets' attachments after every wake-up (hibernation, eviction).
  #presence: Presence | undefined;
  // Publish rate buckets by connection id (sockets) or user id (HTTP). Lost on eviction, which
  // only refills them: an evicted room has been idle longer than a bucket takes to refill.
  readonly #buckets = new Map<string, TokenBucket>();
  // What the shared room rules (room-logic.ts) need from this object.
  readonly #actions: RoomActions;

  constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
    super(ctx, env);
    this.#limits = roomLimitsFor(env);
    this.#logger = createLogger(this.#limits.LOG_LEVEL, { component: "room" });
    this.#messages = new MessageLog(ctx.storage, {
      maxMessages: this.#limits.ROOM_RETENTION_MESSAGES,
      maxAgeMs: this.#limits.ROOM_RETENTION_SECONDS * 1000,
      maxBytes: this.#limits.ROOM_RETENTION_BYTES,
    });
    this.#registry = new SessionRegistry(ctx.storage);
    this.#actions = {
      maxFrameBytes: this.#limits.ROOM_MAX_FRAME_BYTES,
      take: (key) => this.#take(key),
      append: (from, dataText) => this.#append(from, dataText),
    };
    // Keep-alives are answered by the runtime without waking the object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_FRAME, PONG_FRAME));
    // The runtime delivers no event until this settles, so no handler sees uninitialised tables.
    void ctx.blockConcurrencyWhile(async () => {
      this.#messages.init();
      this.#registry.init();
    });
  }

  // ------------------------------------------------------------------ connect (from the Worker)

  override async fetch(request: Request): Promise<Response> {
    try {
      return await this.#connect(request);
    } catch (error) {
      this.#logger.error("connect failed", { error });
      return refuse("unavailable", 503);
    }
  }

  async #connect(request: Request): Promise<Response> {
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") return refuse("bad_request", 400);
    const parsed = connectRequestSchema.safeParse(safeJson(request.headers.get(CONNECT_HEADER)));
    if (!parsed.success) return refuse("bad_request", 400);
    const connect = parsed.data;

    const early = this.#capacityRefusal(connect.userId);
    if (early) return early;

    const connectionId = crypto.randomUUID();
    const registered = await this.#registerWithUser(connect, connectionId);
    if (registered === "revoked") return refuse("session_revoked", 401);
    if (registered === "too_many") return refuse("too_many_connections", 429);
    if (registered === "unavailable") return refuse("unavailable", 503);

    // From here to the response everything is synchronous: no other event can interleave, so the
    // replay below reaches this socket before any live message does.
    const late = this.#capacityRefusal(connect.userId);
    if (late) {
      this.#unregisterInBackground(connect.userId, connect.room, connectionId);
      return late;
    }
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server, [sessionTag(connect.sessionId), userTag(connect.userId)]);
    const attachment: SocketAttachment = {
      v: 1,
      connectionId,
      room: connect.room,
      userId: connect.userId,
      sessionId: connect.sessionId,
      canPublish: connect.canPublish,
      connectedAt: Date.now(),
    };
    const presence = this.#presenceNow();
    try {
      writeAttachment(server, attachment);
      const joined = presence.add(connectionId, connect.userId);

      this.#messages.pruneExpired(Date.now());
      const latest = this.#messages.latestSeq;
      send(server, { type: "welcome", room: connect.room, connectionId, user: { id: connect.userId }, seq: latest });
      send(server, { type: "presence", action: "sync", users: presence.users() });
      if (connect.since !== undefined) this.#replay(server, connect.since, latest);
      if (joined)
        this.#broadcast(encodeServerFrame({ type: "presence", action: "join", user: { id: connect.userId } }), server);
      return new Response(null, { status: 101, webSocket: client });
    } catch (error) {
      // The socket was accepted but the connect failed: undo it, or a ghost member would hold a
      // presence entry, a connection slot and a registry row until the object is evicted.
      presence.remove(connectionId);
      try {
        server.close(1011, "connect failed");
      } catch {
        // already closed
      }
      this.#unregisterInBackground(connect.userId, connect.room, connectionId);
      throw error;
    }
  }

  #capacityRefusal(userId: string): Response | undefined {
    const presence = this.#presenceNow();
    if (presence.connectionCount >= this.#limits.ROOM_MAX_CONNECTIONS) return refuse("room_full", 503);
    if (presence.connectionsOf(userId) >= this.#limits.ROOM_MAX_CONNECTIONS_PER_USER) {
      return refuse("too_many_connections", 429);
    }
    return undefined;
  }

  /** Sends every retained message after `since`, in order; says so first when some are gone. */
  #replay(ws: WebSocket, since: number, latest: number): void {
    const { from, resync } = resumePoint(since, latest, this.#messages.oldestSeq());
    if (resync) {
      send(ws, {
        type: "error",
        code: ERROR_CODES.resyncRequired,
        message: `Messages after ${since} are no longer retained; replaying from ${from + 1}.`,
        oldestSeq: from + 1,
        seq: latest,
      });
    }
    for (const message of this.#messages.after(from)) ws.send(message.frame);
  }

  // ------------------------------------------------------------------ socket events

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    try {
      this.#onFrame(ws, message);
    } catch (error) {
      // No exception leaves a handler: the socket stays usable and the failure is logged.
      this.#logger.error("frame handling failed", { error });
      trySend(ws, { type: "error", code: ERROR_CODES.internal, message: "The room could not handle that frame." });
    }
  }

  #onFrame(ws: WebSocket, message: string | ArrayBuffer): void {
    const attachment = typeof message === "string" ? readAttachment(ws) : undefined;
    ws.send(answerClientFrame(message, attachment, this.#actions));
  }

  override async webSocketClose(ws: WebSocket, code: number, _reason: string, _wasClean: boolean): Promise<void> {
    try {
      this.#drop(ws);
      // Complete the closing handshake; 1005/1006 are not sendable codes.
      ws.close(code === 1005 || code === 1006 ? 1000 : code, "closed");
    } catch {
      // Already closed by the runtime: nothing left to do.
    }
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    try {
      this.#logger.debug("socket error", { error });
      this.#drop(ws);
    } catch (caught) {
      this.#logger.warn("socket error handling failed", { error: caught });
    }
  }

  /**
   * Forgets a socket: presence (with a `leave` when it was the user's last), rate bucket, registry.
   * Runs once per socket: the mark lives in the attachment, so it holds across hibernation too.
   */
  #drop(ws: WebSocket): void {
    const attachment = readAttachment(ws);
    if (!attachment || attachment.dropped) return;
    try {
      writeAttachment(ws, { ...attachment, dropped: true });
    } catch {
      // The runtime already released the socket; it cannot be seen again either way.
    }
    this.#buckets.delete(attachment.connectionId);
    // Counted first in case presence was just rebuilt without it (a rebuild skips sockets that
    // are no longer open): a user's last socket closing right after a wake-up still announces a leave.
    const presence = this.#presenceNow();
    presence.add(attachment.connectionId, attachment.userId);
    const left = presence.remove(attachment.connectionId);
    if (left !== undefined) {
      this.#broadcast(encodeServerFrame({ type: "presence", action: "leave", user: { id: left } }), ws);
    }
    this.#unregisterInBackground(attachment.userId, attachment.room, attachment.connectionId);
  }

  // ------------------------------------------------------------------ RPC (from the Worker)

  /** Stores the message, sends it to every connected member, and returns its seq. */
  publish(request: PublishRequest): PublishOutcome {
    return publishMessage(request, this.#actions);
  }

  /** Retained messages after `since`, oldest first, at most `limit`. */
  history(since: number, limit: number): HistoryPage {
    this.#messages.pruneExpired(Date.now());
    const items = this.#messages.after(since, limit).map((m) => toHistoryItem(m.frame));
    return { items, seq: this.#messages.latestSeq, oldestSeq: this.#messages.oldestSeq() };
  }

  presence(): { users: PresenceUser[] } {
    return { users: this.#presenceNow().users() };
  }

  /** Closes every socket of the session in this room. Returns how many were closed. */
  closeSession(sessionId: string): number {
    let closed = 0;
    for (const ws of this.ctx.getWebSockets(sessionTag(sessionId))) {
      try {
        this.#drop(ws);
        ws.close(CLOSE_CODES.sessionRevoked, "session revoked");
        closed++;
      } catch (error) {
        this.#logger.warn("closing a revoked socket failed", { error });
      }
    }
    return closed;
  }

  /** Registry (on `user:<id>` objects): a socket of the user's session is about to open in `room`. */
  registerSocket(sessionId: string, room: string, connectionId: string): RegisterResult {
    return this.#registry.register(sessionId, room, connectionId, Date.now());
  }

  unregisterSocket(connectionId: string): void {
    this.#registry.unregister(connectionId);
  }

  /**
   * Registry (on `user:<id>` objects): revokes the session and closes its sockets in every room it
   * registered. Later connects of the session are refused here even if they raced the revocation.
   */
  async revokeSession(userId: string, sessionId: string): Promise<RevokeOutcome> {
    const ownRoom = userRoomOf(userId);
    const rooms = this.#registry.revoke(sessionId, Date.now());
    // This object is the user's own room too: close its sockets of the session directly.
    this.closeSession(sessionId);
    this.#registry.forgetRoom(sessionId, ownRoom);
    const others = rooms.filter((r) => r !== ownRoom);
    const results = await Promise.allSettled(
      others.map((room) =>
        withTimeout(`room ${room}`, PEER_CALL_TIMEOUT_MS, this.#namespace().getByName(room).closeSession(sessionId)),
      ),
    );
    const outcome: RevokeOutcome = { closedRooms: rooms.includes(ownRoom) ? [ownRoom] : [], failedRooms: [] };
    results.forEach((result, i) => {
      const room = others[i] as string;
      if (result.status === "fulfilled") {
        this.#registry.forgetRoom(sessionId, room);
        outcome.closedRooms.push(room);
      } else {
        this.#logger.warn("closing a revoked session in a room failed", { room, error: result.reason });
        outcome.failedRooms.push(room);
      }
    });
    return outcome;
  }

  // ------------------------------------------------------------------ internals

  #append(from: string, dataText: string): number {
    const stored = this.#messages.append(Date.now(), (seq, ts) => messageFrame(seq, from, dataText, ts));
    this.#broadcast(stored.frame);
    return stored.seq;
  }

  #broadcast(text: string, except?: WebSocket): void {
    for (const ws of this.ctx.getWebSockets()) {
      if (ws === except) continue;
      try {
        ws.send(text);
      } catch {
        // A socket closing right now; its close event cleans up.
      }
    }
  }

  #take(key: string): TakeResult {
    const limit = { ratePerSecond: this.#limits.ROOM_PUBLISH_RATE_PER_SECOND, burst: this.#limits.ROOM_PUBLISH_BURST };
    const now = Date.now();
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      if (this.#buckets.size >= MAX_HTTP_BUCKETS) this.#trimBuckets(now);
      bucket = fullBucket(limit, now);
      this.#buckets.set(key, bucket);
    }
    return takeToken(bucket, limit, now);
  }

  /** Drops buckets that have refilled (forgetting them changes nothing). */
  #trimBuckets(now: number): void {
    const refillMs = (this.#limits.ROOM_PUBLISH_BURST / this.#limits.ROOM_PUBLISH_RATE_PER_SECOND) * 1000;
    for (const [key, bucket] of this.#buckets) {
      if (key.startsWith("http:") && now - bucket.updatedAt >= refillMs) this.#buckets.delete(key);
    }
  }

  /** Presence, rebuilt from the open sockets' attachments when this instance has none yet. */
  #presenceNow(): Presence {
    if (!this.#presence) {
      const presence = new Presence();
      for (const ws of this.ctx.getWebSockets()) {
        if (ws.readyState !== WebSocket.OPEN) continue;
        const attachment = readAttachment(ws);
        if (attachment && !attachment.dropped) presence.add(attachment.connectionId, attachment.userId);
      }
      this.#presence = presence;
    }
    return this.#presence;
  }

  async #registerWithUser(connect: ConnectRequest, connectionId: string): Promise<RegisterResult | "unavailable"> {
    const userRoom = userRoomOf(connect.userId);
    if (connect.room === userRoom) return this.registerSocket(connect.sessionId, connect.room, connectionId);
    try {
      const stub = this.#namespace().getByName(userRoom);
      return await withTimeout(
        "session registry",
        PEER_CALL_TIMEOUT_MS,
        stub.registerSocket(connect.sessionId, connect.room, connectionId),
      );
    } catch (error) {
      // Fail closed: a socket the registry does not know could not be closed on revocation.
      this.#logger.warn("session registry unavailable", { error });
      return "unavailable";
    }
  }

  #unregisterInBackground(userId: string, room: string, connectionId: string): void {
    const userRoom = userRoomOf(userId);
    if (room === userRoom) {
      this.unregisterSocket(connectionId);
      return;
    }
    const work = withTimeout(
      "session registry",
      PEER_CALL_TIMEOUT_MS,
      this.#namespace().getByName(userRoom).unregisterSocket(connectionId),
    ).catch((error: unknown) => {
      // A lost unregister leaves a row that costs one no-op call at revocation; see session-registry.ts.
      this.#logger.warn("session unregister failed", { error });
    });
    this.ctx.waitUntil(work);
  }

  #namespace(): RoomNamespace {
    return this.env.ROOMS as unknown as RoomNamespace;
  }
}

function refuse(reason: ConnectRefusal, status: number): Response {
  return new Response(null, { status, headers: { [REFUSAL_HEADER]: reason } });
}

function send(ws: WebSocket, frame: ServerFrame): void {
  ws.send(encodeServerFrame(frame));
}

function trySend(ws: WebSocket, frame: ErrorFrame): void {
  try {
    send(ws, frame);
  } catch {
    // The socket is gone; nothing to tell.
  }
}

function safeJson(text: string | null): unknown {
  if (text === null) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
