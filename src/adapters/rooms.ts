import {
  CONNECT_HEADER,
  type ConnectRefusal,
  type ConnectRequest,
  type HistoryPage,
  type PublishOutcome,
  type PublishRequest,
  REFUSAL_HEADER,
  REGISTRY_OBJECT_NAMES,
  type RoomObjectStub,
  SERVER_SENDER_ID,
  type SessionRef,
} from "../../protocol/room-rpc.ts";
import type { PresenceUser } from "../../protocol/frames.ts";
import type { Bindings } from "../core/app-env.ts";
import { withTimeout } from "../../common/timeout.ts";

/**
 * All the services need from realtime: publish an event to a room. Settings publish to `system`,
 * assets to `user:<id>`. Implemented over the room Durable Objects (durable/).
 */
export interface RoomPublisher {
  publish(room: string, data: unknown): Promise<{ seq: number }>;
  /** Closes every open socket of a revoked session, in every room it joined. */
  disconnectSession(userId: string, sessionId: string): Promise<void>;
  /** The same for several sessions at once (a logout everywhere), in one pass. */
  disconnectSessions(sessions: readonly SessionRef[]): Promise<void>;
}

/**
 * An authorised upgrade's result: the response that completes it (Workers: the 101 carrying the
 * client socket; Node and Bun: a placeholder their server ignores once it upgraded), or the room's refusal.
 */
export type ConnectOutcome = { ok: true; response: Response } | { ok: false; refusal: ConnectRefusal | null };

/** The rest of the room object's surface, for the rooms feature's own routes. */
export interface RoomGateway extends RoomPublisher {
  /**
   * Whether connect() itself refuses a revoked session from a record that outlives the process
   * (the Durable Objects' session registry; linked rooms' Redis). When true, a connect makes no
   * revocation lookup of its own (no store round trip per connect); when false (one process, in
   * memory), the route asks the auth feature's revocation list first.
   */
  readonly knowsRevocations: boolean;
  /**
   * Opens an authorised socket. `upgrade` is the client's own upgrade request: runtimes that upgrade
   * in-process need it; the Durable Object gateway never forwards it (only `request` reaches the object).
   */
  connect(request: ConnectRequest, upgrade: Request): Promise<ConnectOutcome>;
  /** Publishes as a user; refusals (size, rate) come back as values, not errors. */
  publishAs(room: string, request: PublishRequest): Promise<PublishOutcome>;
  history(room: string, since: number, limit: number): Promise<HistoryPage>;
  presence(room: string): Promise<{ users: PresenceUser[] }>;
}

/** Every call to a room object is bounded; a stalled object becomes a TimeoutError (503). */
export const ROOM_CALL_TIMEOUT_MS = 5_000;

/** Raised when a server-side publish is refused by the room (too large, not JSON). */
export class RoomPublishRefusedError extends Error {
  readonly reason: string;
  constructor(room: string, reason: string) {
    super(`publishing to room ${room} was refused: ${reason}`);
    this.name = "RoomPublishRefusedError";
    this.reason = reason;
  }
}

/**
 * Raised when some rooms could not be told to close a revoked session's sockets, or some registry
 * shards could not be reached or could not record the revocation (retry it).
 */
export class SessionDisconnectError extends Error {
  readonly failedRooms: number;
  readonly failedShards: number;
  constructor(failedRooms: number, failedShards = 0) {
    super(
      `${failedRooms} room(s) did not confirm closing the session's sockets, ${failedShards} registry shard(s) did not record the revocation`,
    );
    this.name = "SessionDisconnectError";
    this.failedRooms = failedRooms;
    this.failedShards = failedShards;
  }
}

export function createRoomGateway(namespace: DurableObjectNamespace): RoomGateway {
  // wrangler types the binding without its class; the stub's surface is the contract's (protocol/room-rpc.ts).
  const stub = (room: string) => namespace.getByName(room) as unknown as RoomObjectStub;
  const publishAs = (room: string, request: PublishRequest): Promise<PublishOutcome> =>
    withTimeout(`room ${room}`, ROOM_CALL_TIMEOUT_MS, stub(room).publish(request));
  // A session's rooms may be in any registry shard (they are chosen by room): every shard records
  // the revocation and closes the sessions' sockets in its rooms, in parallel (durable/session-registry.ts).
  const disconnectSessions = async (sessions: readonly SessionRef[]): Promise<void> => {
    const sessionIds = [...new Set(sessions.map((s) => s.sessionId))];
    if (sessionIds.length === 0) return;
    const answers = await Promise.allSettled(
      REGISTRY_OBJECT_NAMES.map((name) =>
        withTimeout(`session registry ${name}`, ROOM_CALL_TIMEOUT_MS * 2, stub(name).revokeSessions(sessionIds)),
      ),
    );
    let failedRooms = 0;
    let failedShards = 0;
    for (const answer of answers) {
      if (answer.status === "rejected" || !answer.value.recorded) failedShards++;
      else failedRooms += answer.value.failedRooms.length;
    }
    if (failedRooms > 0 || failedShards > 0) throw new SessionDisconnectError(failedRooms, failedShards);
  };

  return {
    knowsRevocations: true,
    async publish(room, data) {
      const outcome = await publishAs(room, { from: SERVER_SENDER_ID, data });
      if (!outcome.ok) throw new RoomPublishRefusedError(room, outcome.reason);
      return { seq: outcome.seq };
    },
    disconnectSession: (userId, sessionId) => disconnectSessions([{ userId, sessionId }]),
    disconnectSessions,
    async connect(request) {
      // A fresh request: only what the Worker decided reaches the object, never client headers.
      const upgrade = new Request("https://room.internal/connect", {
        headers: { Upgrade: "websocket", [CONNECT_HEADER]: JSON.stringify(request) },
      });
      const response = await withTimeout(
        `room ${request.room}`,
        ROOM_CALL_TIMEOUT_MS,
        stub(request.room).fetch(upgrade),
      );
      if (response.status === 101 && response.webSocket) return { ok: true, response };
      return { ok: false, refusal: response.headers.get(REFUSAL_HEADER) as ConnectRefusal | null };
    },
    publishAs,
    history: (room, since, limit) =>
      withTimeout(`room ${room}`, ROOM_CALL_TIMEOUT_MS, stub(room).history(since, limit)),
    presence: (room) => withTimeout(`room ${room}`, ROOM_CALL_TIMEOUT_MS, stub(room).presence()),
  };
}

/**
 * Where an entry point other than the Worker puts its room service: on the env, as Workers put the
 * ROOMS namespace there, so every path that builds deps from an env (requests, cron jobs) reaches
 * the same rooms without knowing the runtime.
 */
export const ROOMS_GATEWAY_BINDING = "ROOMS_GATEWAY";

/** The env's room service: the one an entry point provided, else the Durable Object namespace. */
export function roomGatewayFor(env: Bindings): RoomGateway {
  const provided = env[ROOMS_GATEWAY_BINDING];
  if (provided !== undefined && provided !== null) return provided as RoomGateway;
  return createRoomGateway(env.ROOMS);
}
