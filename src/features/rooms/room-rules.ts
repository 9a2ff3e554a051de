import { isAdmin, type Principal } from "../../core/principal.ts";
import { ROOM_NAME_PATTERN, userOfRoom } from "../../../protocol/frames.ts";

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
