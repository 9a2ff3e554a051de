/**
 * The browser/Node SDK of the edge backend. Realtime rooms: `connectRoom({ url, room, token })`.
 * Frames are the shared protocol's types (protocol/frames.ts), re-exported here.
 */
export { createApiClient } from "./http-client.ts";
export type { AppType } from "./http-client.ts";
export { connectRoom, RoomClient, RoomPublishError } from "./room-client.ts";
export type { RoomClientEvents, RoomClientOptions } from "./room-client.ts";
export {
  CLOSE_CODES,
  ERROR_CODES,
  ROOM_NAME_PATTERN,
  parseServerFrame,
  serverFrame,
  clientFrame,
} from "../protocol/frames.ts";
export type {
  AckFrame,
  ClientFrame,
  ErrorFrame,
  KnownErrorCode,
  MessageFrame,
  PresenceFrame,
  PresenceUser,
  ServerFrame,
  WelcomeFrame,
} from "../protocol/frames.ts";
