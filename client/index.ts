/**
 * The browser/Node SDK of the edge backend (published as `@edge-backend/client`).
 * `createClient({ url })` runs an app's whole session: auth, typed routes, rooms, assets. The parts
 * are exported too: `createApiClient` (typed routes), `connectRoom` (one room), the storages.
 * Frames are the shared protocol's types (protocol/frames.ts), re-exported here.
 */
export { createClient } from "./create-client.ts";
export type { ClientOptions, ConnectOptions, EdgeClient } from "./create-client.ts";
export { AuthSession } from "./auth-session.ts";
export type { AuthChangeEvent, AuthListener, FetchLike, User } from "./auth-session.ts";
export { AssetsClient } from "./assets-client.ts";
export type { Asset, AssetUrl, UploadOptions, UploadProgress } from "./assets-client.ts";
export { ApiError } from "./errors.ts";
export type { ProblemField } from "./errors.ts";
export { localStorageStorage, memoryStorage } from "./token-storage.ts";
export type { StorageOption, TokenStorage, WebStorageLike } from "./token-storage.ts";
export { createApiClient } from "./http-client.ts";
export type { ApiClient, AppSchema, AppType } from "./http-client.ts";
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
