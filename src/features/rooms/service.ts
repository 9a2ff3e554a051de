import type { ConnectRefusal } from "../../../protocol/room-rpc.ts";
import type { PresenceUser } from "../../../protocol/frames.ts";
import type { Config } from "../../core/config.ts";
import { decodeCursor, encodeCursor } from "../../core/cursor.ts";
import type { Logger } from "../../../common/logger.ts";
import type { Principal } from "../../core/principal.ts";
import {
  dependencyUnavailable,
  forbidden,
  notFound,
  ProblemError,
  unauthorized,
  validationFailed,
} from "../../core/problem.ts";
import { authenticate, SESSION_SIGNED_OUT_DETAIL } from "../auth/authenticate.ts";
import { publishingTooFast, publishTooLarge, roomFull, roomRefused, tooManyConnections } from "./problems.ts";
import {
  type HistoryInput,
  type HistoryResult,
  isValidRoomName,
  type OpenSocketInput,
  type PublishInput,
  type RoomAction,
  type RoomsContext,
  roomAllows,
} from "./model.ts";

/** A room object that fails or stalls is a dependency outage (503), never a 500. */
async function callRoom<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof ProblemError) throw error;
    throw dependencyUnavailable("realtime", error);
  }
}

/** Verifies the upgrade's token. Pure computation, like the bearer guards: no I/O. */
export async function authenticateUpgrade(token: string | undefined, config: Config, log: Logger): Promise<Principal> {
  if (token === undefined) throw unauthorized();
  // No account row is made for an outside identity here: the upgrade stays free of database I/O.
  return authenticate(token, { config, log });
}

/** 404 for a name no room can have, 403 when the rule refuses the caller. */
export function authorizeRoom(room: string, principal: Principal, action: RoomAction): void {
  if (!isValidRoomName(room)) throw notFound("No room can have this name.");
  if (!roomAllows(room, principal, action)) throw forbidden("This room is not open to you.");
}

/**
 * Authorises a socket and hands the upgrade to the room's object. Every refusal is a plain HTTP
 * problem answered before any upgrade happens.
 */
export async function openRoomSocket(
  ctx: RoomsContext,
  principal: Principal,
  input: OpenSocketInput,
): Promise<Response> {
  const { room } = input;
  authorizeRoom(room, principal, "read");
  if (!ctx.gateway.knowsRevocations && (await ctx.isSessionRevoked(principal.sessionId))) {
    throw unauthorized(SESSION_SIGNED_OUT_DETAIL);
  }
  const outcome = await callRoom(() =>
    ctx.gateway.connect(
      {
        room,
        userId: principal.userId,
        sessionId: principal.sessionId,
        canPublish: roomAllows(room, principal, "publish-socket"),
        ...(input.since !== undefined && { since: input.since }),
      },
      input.upgrade,
    ),
  );
  if (outcome.ok) return outcome.response;
  throw refusalProblem(outcome.refusal, ctx.log);
}

function refusalProblem(reason: ConnectRefusal | null, log: Logger): ProblemError {
  switch (reason) {
    case "session_revoked":
      return unauthorized(SESSION_SIGNED_OUT_DETAIL);
    case "too_many_connections":
      return tooManyConnections();
    case "room_full":
      return roomFull();
    default:
      log.warn("room refused a connect", { reason });
      return roomRefused();
  }
}

/** Publishes as the caller; answers once the room stored it and sent it to every member. */
export async function publishToRoom(
  ctx: RoomsContext,
  principal: Principal,
  input: PublishInput,
): Promise<{ seq: number }> {
  const { room } = input;
  authorizeRoom(room, principal, "read");
  if (!roomAllows(room, principal, "publish-http")) throw forbidden("Only the server and admins publish to this room.");
  // An admin's publish is unthrottled and trusted by every client (e.g. `system`): a signed-out or
  // demoted admin's still-unexpired token must not make one, as on every other admin write.
  const admin = principal.roles.includes("admin");
  if (admin && (await ctx.isSessionRevoked(principal.sessionId))) throw unauthorized(SESSION_SIGNED_OUT_DETAIL);
  const outcome = await callRoom(() =>
    ctx.gateway.publishAs(room, {
      from: principal.userId,
      data: input.data,
      // Admins publish for the server (settings, operations); everyone else is rate limited per room.
      ...(!admin && { rateLimitKey: principal.userId }),
    }),
  );
  if (outcome.ok) return { seq: outcome.seq };
  switch (outcome.reason) {
    case "too_large":
      throw publishTooLarge(outcome.maxBytes);
    case "rate_limited":
      throw publishingTooFast(outcome.retryAfterMs);
    default:
      throw validationFailed([{ path: "data", message: "must be a JSON value" }]);
  }
}

// Opaque to clients, through core/cursor.ts like every other list's: the page's last seq underneath ("s42").
const encodeSeqCursor = (seq: number): string => encodeCursor(`s${seq}`);
const decodeSeqCursor = (cursor: string): number =>
  decodeCursor(cursor, (text) => {
    const digits = /^s(0|[1-9][0-9]{0,15})$/.exec(text)?.[1];
    const seq = digits === undefined ? undefined : Number(digits);
    return seq !== undefined && Number.isSafeInteger(seq) ? seq : undefined;
  });

export async function readHistory(
  ctx: RoomsContext,
  principal: Principal,
  input: HistoryInput,
): Promise<HistoryResult> {
  authorizeRoom(input.room, principal, "read");
  const since = input.cursor !== undefined ? decodeSeqCursor(input.cursor) : (input.since ?? 0);
  const page = await callRoom(() => ctx.gateway.history(input.room, since, input.limit));
  const last = page.items.at(-1);
  const more = last !== undefined && page.items.length === input.limit && last.seq < page.seq;
  return {
    items: page.items,
    nextCursor: more ? encodeSeqCursor(last.seq) : null,
    seq: page.seq,
    oldestSeq: page.oldestSeq,
  };
}

export async function readPresence(
  ctx: RoomsContext,
  principal: Principal,
  room: string,
): Promise<{ users: PresenceUser[] }> {
  authorizeRoom(room, principal, "read");
  return callRoom(() => ctx.gateway.presence(room));
}
