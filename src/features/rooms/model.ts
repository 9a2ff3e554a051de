/**
 * The rooms feature's model: who may do what in a room, and what its operations take and return
 * (the service's context and inputs; the wire frames are protocol/frames.ts, the Worker-to-object
 * contract protocol/room-rpc.ts).
 */
import { isAdmin, type Principal } from "../../core/principal.ts";
import { ROOM_NAME_PATTERN, userOfRoom } from "../../../protocol/frames.ts";
import type { HistoryItem } from "../../../protocol/room-rpc.ts";
import type { RoomGateway } from "../../adapters/rooms.ts";
import type { Logger } from "../../../common/logger.ts";

/**
 * Who may do what in a room (API.md, Realtime):
 * - `system`: every signed-in user reads; only the server publishes (POST by admins), never sockets;
 * - `user:<id>`: that user only;
 * - `admin:*`: admins only;
 * - any other room: any signed-in user.
 */
export type RoomAction = "read" | "publish-socket" | "publish-http";

export const SYSTEM_ROOM = "system";

export const isValidRoomName = (room: string): boolean => ROOM_NAME_PATTERN.test(room);

export function roomAllows(room: string, principal: Principal, action: RoomAction): boolean {
  if (room === SYSTEM_ROOM) {
    if (action === "read") return true;
    return action === "publish-http" && isAdmin(principal);
  }
  const owner = userOfRoom(room);
  if (owner !== undefined) return owner === principal.userId;
  if (room.startsWith("admin:")) return isAdmin(principal);
  return true;
}

/** What every rooms operation runs with (wiring.ts builds it). */
export interface RoomsContext {
  gateway: RoomGateway;
  log: Logger;
  /**
   * Whether a session was revoked (the auth feature's revocation list: a store round trip). Asked
   * only where a rule needs it: a connect the gateway does not check itself, an admin's publish.
   */
  isSessionRevoked: (sessionId: string) => Promise<boolean>;
}

export interface OpenSocketInput {
  room: string;
  since: number | undefined;
  /** The client's upgrade request, for runtimes that upgrade in-process. */
  upgrade: Request;
}

export interface PublishInput {
  room: string;
  data: unknown;
}

export interface HistoryInput {
  room: string;
  since: number | undefined;
  cursor: string | undefined;
  limit: number;
}

export interface HistoryResult {
  items: HistoryItem[];
  nextCursor: string | null;
  seq: number;
  oldestSeq: number;
}
