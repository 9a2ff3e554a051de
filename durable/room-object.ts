import { DurableObject } from "cloudflare:workers";
import { createLogger, type Logger } from "../common/logger.ts";
import { withTimeout } from "../common/timeout.ts";
import {
  ERROR_CODES,
  encodeServerFrame,
  type ErrorFrame,
  PING_FRAME,
  PONG_FRAME,
  type PresenceUser,
} from "../protocol/frames.ts";
import { newAttachment, readAttachment, sessionTag, userTag, writeAttachment } from "./attachment.ts";
import {
  CONNECT_HEADER,
  type ConnectRefusal,
  type ConnectRequest,
  connectRequestSchema,
  REFUSAL_HEADER,
} from "./connect-request.ts";
import { type RoomFootprint, type RoomHost, RoomCore, roomStorage } from "./room-core.ts";
import { roomLimitsFor } from "./room-limits.ts";
import type { RevokeOutcome, RoomObjectStub, SessionRef } from "../protocol/room-rpc.ts";
import type { HistoryPage, PublishOutcome, PublishRequest } from "./room-logic.ts";
import {
  type RegisterResult,
  registryObjectName,
  type SessionRoom,
  SessionRegistry,
  STALE_REGISTRATION_MS,
} from "./session-registry.ts";

/** Budget for one call to another object (the room's registry shard, or a room the registry tells to close). */
const PEER_CALL_TIMEOUT_MS = 3_000;
/** Registrations sent in one registry call at most (a bigger turn sends several). */
const MAX_REGISTRATION_BATCH = 500;
/** Sessions a room remembers as registered or revoked (the oldest are forgotten first: they only cost a registry call). */
const MAX_REMEMBERED_SESSIONS = 20_000;

export type { HistoryItem, HistoryPage, PublishOutcome, PublishRequest, RevokeOutcome } from "../protocol/room-rpc.ts";

export interface RoomObjectFootprint extends RoomFootprint {
  /** Sockets this instance sends to. */
  openSockets: number;
  /** Sockets the runtime lists for the object (ctx.getWebSockets(), mid-close ones included). */
  runtimeSockets: number;
  /** Sessions remembered as registered / revoked here (each bounded by MAX_REMEMBERED_SESSIONS). */
  registeredSessions: number;
  revokedSessions: number;
  /** Calls this room made to its registry shard (one per batch of registrations), and connects waiting for one. */
  registryCalls: number;
  waitingRegistrations: number;
  /** On a registry object: batches it answered and transactions it committed. */
  registry: { batches: number; commits: number; pending: number };
}

/** Connects of one turn waiting for their registry call, all for one room. */
interface RegistrationBatch {
  room: string;
  entries: SessionRef[];
  settle: ((result: RegisterResult) => void)[];
}

type RoomNamespace = DurableObjectNamespace<RoomObject>;

/**
 * One realtime room on a Durable Object: a thin host of the room core (room-core.ts), which owns
 * every rule. Sockets are accepted with the WebSocket Hibernation API, so an idle room is evicted
 * from memory while its sockets stay open; everything per-socket lives in the socket's attachment
 * and everything durable in SQLite. Messages are stored, then sent (the runtime's output gate holds
 * a send until the write that precedes it is durable).
 *
 * The objects named by registryObjectName keep the session registry instead (see session-registry.ts).
 * Only the Worker can reach an object (through its ROOMS binding), and it authorises first.
 */
export class RoomObject extends DurableObject<Cloudflare.Env> {
  readonly #logger: Logger;
  readonly #sessions: SessionRegistry;
  readonly #core: RoomCore<WebSocket>;
  // Tables are created on first use, not in the constructor: an object is only one of the two (a
  // room, or a registry shard).
  #coreReady = false;
  #sessionsReady = false;
  // What this room already knows, while it stays in memory: sessions whose registration it saw
  // confirmed (their registry row exists, so a revocation will call closeSessions here), and sessions
  // revoked here. A reconnect of a known session then makes no registry call at all; an evicted
  // room forgets both and asks the registry again.
  readonly #registeredHere = new Map<string, number>();
  readonly #revokedHere = new Map<string, number>();
  // The registrations of this turn, sent in one call when the turn ends (by room: an object serves one).
  readonly #batches = new Map<string, RegistrationBatch>();
  #registryCalls = 0;
  // Registry stubs, one per shard name (a room only ever uses its own).
  readonly #registryStubs = new Map<string, DurableObjectStub<RoomObject>>();
  // The open sockets as this instance knows them: read from the runtime once per wake-up (hibernated
  // sockets included), then kept by accept and drop. A tick's fan-out then iterates a Set instead of
  // asking the runtime for a fresh list and every socket's readyState (about 7 % of its CPU).
  #open: Set<WebSocket> | undefined;

  constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
    super(ctx, env);
    const limits = roomLimitsFor(env);
    this.#logger = createLogger(limits.LOG_LEVEL, { component: "room" });
    this.#sessions = new SessionRegistry(ctx.storage);
    const host: RoomHost<WebSocket> = {
      sockets: () => this.#openSockets(),
      socketsOfSession: (sessionId) => ctx.getWebSockets(sessionTag(sessionId)),
      attachment: readAttachment,
      setAttachment: (ws, attachment) => {
        // First: writing to a socket the runtime already released throws.
        if (attachment.dropped) this.#open?.delete(ws);
        writeAttachment(ws, attachment);
      },
      send: (ws, text) => {
        try {
          ws.send(text);
        } catch (error) {
          // A socket that closed without an event reaching us yet: not sent to again.
          if (ws.readyState !== WebSocket.OPEN) this.#open?.delete(ws);
          throw error;
        }
      },
      close: (ws, code, reason) => ws.close(code, reason),
      // workerd does not expose a hibernatable socket's send buffer; the runtime bounds it itself.
      bufferedAmount: () => undefined,
      schedule: (delayMs, run) => {
        setTimeout(run, delayMs);
      },
    };
    this.#core = new RoomCore({
      host,
      ...roomStorage(ctx.storage, limits),
      limits,
      logger: this.#logger,
    });
    // Keep-alives are answered by the runtime without waking the object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_FRAME, PONG_FRAME));
  }

  /** The room core, its tables created on first use (synchronous: no other event interleaves). */
  get #room(): RoomCore<WebSocket> {
    if (!this.#coreReady) {
      this.#core.init();
      this.#coreReady = true;
    }
    return this.#core;
  }

  #openSockets(): Set<WebSocket> {
    // getWebSockets also lists sockets mid-close.
    this.#open ??= new Set(this.ctx.getWebSockets().filter((ws) => ws.readyState === WebSocket.OPEN));
    return this.#open;
  }

  get #registry(): SessionRegistry {
    if (!this.#sessionsReady) {
      this.#sessions.init();
      this.#sessionsReady = true;
    }
    return this.#sessions;
  }

  // ------------------------------------------------------------------ connect (from the Worker)

  override async fetch(request: Request): Promise<Response> {
    try {
      return await this.#connect(request);
    } catch (error) {
      this.#logger.error("connect failed", { error });
      return refuse("unavailable");
    }
  }

  async #connect(request: Request): Promise<Response> {
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") return refuse("bad_request");
    const parsed = connectRequestSchema.safeParse(safeJson(request.headers.get(CONNECT_HEADER)));
    if (!parsed.success) return refuse("bad_request");
    const connect = parsed.data;

    const early = this.#room.refusal(connect.userId);
    if (early) return refuse(early);

    if (this.#revokedHere.has(connect.sessionId)) return refuse("session_revoked");
    const registered = this.#knownHere(connect.sessionId) ? "registered" : await this.#register(connect);
    // A revocation may have reached this room while the registry call was out (it closed nothing yet).
    if (registered === "revoked" || this.#revokedHere.has(connect.sessionId)) return refuse("session_revoked");
    if (registered === "too_many") return refuse("too_many_connections");
    if (registered === "unavailable") return refuse("unavailable");
    this.#rememberRegistered(connect.sessionId);

    // From here to the response everything is synchronous: no other event can interleave, so the
    // replay in admit() reaches this socket before any live message does.
    const late = this.#room.refusal(connect.userId);
    // A registration without a socket costs one no-op call if the session is revoked (session-registry.ts).
    if (late) return refuse(late);
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server, [sessionTag(connect.sessionId), userTag(connect.userId)]);
    this.#openSockets().add(server);
    const attachment = newAttachment(connect);
    try {
      this.#room.admit(server, attachment, connect.since);
      return new Response(null, { status: 101, webSocket: client });
    } catch (error) {
      // The socket was accepted but the connect failed: undo it, or a ghost member would hold a
      // presence entry, a connection slot and a registry row until the object is evicted.
      this.#room.drop(server);
      try {
        server.close(1011, "connect failed");
      } catch {
        // already closed
      }
      throw error;
    }
  }

  // ------------------------------------------------------------------ socket events

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    try {
      this.#room.receive(ws, message);
    } catch (error) {
      // No exception leaves a handler: the socket stays usable and the failure is logged.
      this.#logger.error("frame handling failed", { error });
      trySend(ws, { type: "error", code: ERROR_CODES.internal, message: "The room could not handle that frame." });
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, _reason: string, _wasClean: boolean): Promise<void> {
    try {
      this.#room.drop(ws);
      // Complete the closing handshake; 1005/1006 are not sendable codes.
      ws.close(code === 1005 || code === 1006 ? 1000 : code, "closed");
    } catch {
      // Already closed by the runtime: nothing left to do.
    }
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    try {
      this.#logger.debug("socket error", { error });
      this.#room.drop(ws);
    } catch (caught) {
      this.#logger.warn("socket error handling failed", { error: caught });
    }
  }

  // ------------------------------------------------------------------ RPC (from the Worker)

  /** Stores the message, sends it to every connected member, and returns its seq. */
  publish(request: PublishRequest): Promise<PublishOutcome> {
    return this.#room.publish(request);
  }

  /** Retained messages after `since`, oldest first, at most `limit`. */
  history(since: number, limit: number): HistoryPage {
    return this.#room.history(since, limit);
  }

  presence(): { users: PresenceUser[] } {
    return { users: this.#room.presenceUsers() };
  }

  /**
   * What this object holds in memory (entries per structure), for tests and diagnostics: the room
   * core's, the sockets it and the runtime list, and the sessions it remembers.
   */
  footprint(): RoomObjectFootprint {
    return {
      ...this.#room.footprint(),
      openSockets: this.#openSockets().size,
      runtimeSockets: this.ctx.getWebSockets().length,
      registeredSessions: this.#registeredHere.size,
      revokedSessions: this.#revokedHere.size,
      registryCalls: this.#registryCalls,
      waitingRegistrations: [...this.#batches.values()].reduce((n, b) => n + b.entries.length, 0),
      registry: this.#sessions.footprint(),
    };
  }

  /** Closes every socket of these sessions in this room (they were revoked). Returns how many were closed. */
  closeSessions(sessionIds: string[]): number {
    let closed = 0;
    const now = Date.now();
    for (const sessionId of sessionIds) {
      this.#registeredHere.delete(sessionId);
      remember(this.#revokedHere, sessionId, now);
      closed += this.#room.closeSession(sessionId);
    }
    return closed;
  }

  /**
   * Registry (on registry objects): sockets of these sessions are about to open in `room`. The
   * answers come in the entries' order; a registry that cannot answer says "unavailable" for all.
   */
  registerSockets(entries: SessionRef[], room: string): RegisterResult[] | Promise<RegisterResult[]> {
    try {
      return this.#registry.registerAll(entries, room, Date.now());
    } catch (error) {
      this.#logger.error("session registry failed", { error });
      return entries.map(() => "unavailable");
    }
  }

  /**
   * Registry (on registry objects): revokes the sessions and closes their sockets in every room of
   * this shard they registered in. Later connects of them to a room of this shard are refused, even
   * if they raced the revocation. `recorded` false: the revocation could not be stored (retry it).
   */
  async revokeSessions(sessionIds: string[]): Promise<RevokeOutcome> {
    let pairs: SessionRoom[];
    try {
      pairs = this.#registry.revoke(sessionIds, Date.now());
    } catch (error) {
      this.#logger.error("recording a revocation failed", { error });
      return { recorded: false, closedRooms: [], failedRooms: [] };
    }
    const byRoom = new Map<string, string[]>();
    for (const { sessionId, room } of pairs) {
      const ids = byRoom.get(room);
      if (ids) ids.push(sessionId);
      else byRoom.set(room, [sessionId]);
    }
    const rooms = [...byRoom.keys()];
    const results = await Promise.allSettled(
      rooms.map((room) =>
        withTimeout(
          `room ${room}`,
          PEER_CALL_TIMEOUT_MS,
          this.#namespace()
            .getByName(room)
            .closeSessions(byRoom.get(room) as string[]),
        ),
      ),
    );
    const outcome: RevokeOutcome = { recorded: true, closedRooms: [], failedRooms: [] };
    const forgotten: SessionRoom[] = [];
    results.forEach((result, i) => {
      const room = rooms[i] as string;
      if (result.status === "fulfilled") {
        for (const sessionId of byRoom.get(room) as string[]) forgotten.push({ sessionId, room });
        outcome.closedRooms.push(room);
      } else {
        this.#logger.warn("closing a revoked session in a room failed", { room, error: result.reason });
        outcome.failedRooms.push(room);
      }
    });
    try {
      this.#registry.forget(forgotten);
    } catch (error) {
      // The rows stay: a later revocation of the session calls those rooms again (a no-op there).
      this.#logger.warn("forgetting closed registrations failed", { error });
    }
    return outcome;
  }

  // ------------------------------------------------------------------ the session registry

  #knownHere(sessionId: string): boolean {
    const at = this.#registeredHere.get(sessionId);
    // A "registered" answer means a row that lives at least this long (session-registry.ts); past it
    // the room registers again, which renews the row.
    return at !== undefined && at > Date.now() - STALE_REGISTRATION_MS / 2;
  }

  #rememberRegistered(sessionId: string): void {
    if (!this.#registeredHere.has(sessionId)) remember(this.#registeredHere, sessionId, Date.now());
  }

  /**
   * Registers the session's visit with the room's registry shard. Every connect of this turn goes in
   * one call (the shard is the same for all of them), with one timeout for the whole batch.
   */
  #register(connect: ConnectRequest): Promise<RegisterResult> {
    return new Promise((settle) => {
      let batch = this.#batches.get(connect.room);
      if (batch === undefined || batch.entries.length >= MAX_REGISTRATION_BATCH) {
        const fresh: RegistrationBatch = { room: connect.room, entries: [], settle: [] };
        this.#batches.set(connect.room, fresh);
        setTimeout(() => void this.#sendBatch(fresh), 0);
        batch = fresh;
      }
      batch.entries.push({ userId: connect.userId, sessionId: connect.sessionId });
      batch.settle.push(settle);
    });
  }

  async #sendBatch(batch: RegistrationBatch): Promise<void> {
    if (this.#batches.get(batch.room) === batch) this.#batches.delete(batch.room);
    let results: RegisterResult[] | undefined;
    try {
      this.#registryCalls++;
      results = await withTimeout(
        "session registry",
        PEER_CALL_TIMEOUT_MS,
        this.#registryStub(registryObjectName(batch.room)).registerSockets(batch.entries, batch.room),
      );
      if (results.length !== batch.entries.length) throw new Error("the registry answered a different batch");
    } catch (error) {
      // Fail closed: a socket the registry does not know could not be closed on revocation.
      this.#logger.warn("session registry unavailable", { error, connects: batch.entries.length });
      results = undefined;
    }
    batch.settle.forEach((settle, i) => {
      settle(results?.[i] ?? "unavailable");
    });
  }

  #registryStub(name: string): DurableObjectStub<RoomObject> {
    let stub = this.#registryStubs.get(name);
    if (stub === undefined) {
      stub = this.#namespace().getByName(name);
      this.#registryStubs.set(name, stub);
    }
    return stub;
  }

  #namespace(): RoomNamespace {
    return this.env.ROOMS as unknown as RoomNamespace;
  }
}

const REFUSAL_STATUS: Record<ConnectRefusal, number> = {
  bad_request: 400,
  session_revoked: 401,
  too_many_connections: 429,
  room_full: 503,
  unavailable: 503,
};

/** Sets `key` in a bounded Map, forgetting the oldest entry past MAX_REMEMBERED_SESSIONS. */
function remember(map: Map<string, number>, key: string, value: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > MAX_REMEMBERED_SESSIONS) map.delete(map.keys().next().value as string);
}

function refuse(reason: ConnectRefusal): Response {
  return new Response(null, { status: REFUSAL_STATUS[reason], headers: { [REFUSAL_HEADER]: reason } });
}

function trySend(ws: WebSocket, frame: ErrorFrame): void {
  try {
    ws.send(encodeServerFrame(frame));
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

/** The Worker calls this class through protocol/room-rpc.ts's RoomObjectStub: a change that breaks it fails to compile. */
export const asRoomObjectStub = (stub: DurableObjectStub<RoomObject>): RoomObjectStub => stub;
