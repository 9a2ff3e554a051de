/**
 * One object for an app's whole session against the service:
 *
 *   const client = createClient({ url: "https://api.example.com" });
 *   await client.auth.signIn({ email, password });
 *   const me = await (await client.api.v1.auth.me.$get()).json();
 *   const room = client.rooms.connect("lobby");
 *   room.on("message", (m) => render(m));
 *   const asset = await client.assets.upload(file, { onProgress: ({ loaded, total }) => bar(loaded / total) });
 *   img.src = (await client.assets.url(asset.id)).url;
 */
import { AssetsClient } from "./assets-client.ts";
import { AuthSession, type FetchLike, notSignedIn } from "./auth-session.ts";
import { authedFetch } from "./authed-fetch.ts";
import { type ApiClient, createApiClient } from "./http-client.ts";
import { connectRoom, type RoomClient, type RoomClientOptions } from "./room-client.ts";
import { resolveStorage, type StorageOption } from "./token-storage.ts";
import { CLOSE_CODES } from "../protocol/frames.ts";

export interface ClientOptions {
  /** The service's base URL, e.g. `https://api.example.com`. */
  url: string;
  /**
   * Where the session is kept: `"local"` (localStorage: survives reloads, shared by tabs),
   * `"memory"`, or your own TokenStorage. Default: localStorage where it exists, else memory.
   */
  storage?: StorageOption;
  /** The storage key. Default: `edge-backend:session:<origin of url>`. */
  storageKey?: string;
  /** A fetch implementation (default: the global fetch). */
  fetch?: FetchLike;
  /** A WebSocket implementation for rooms: needed in Node < 22 (`import { WebSocket } from "ws"`). */
  WebSocket?: unknown;
  /** Refresh this long before the access token expires. Default: a quarter of its lifetime, at most 60 s. */
  refreshMarginSeconds?: number;
}

/** Options of `client.rooms.connect`: the room client's, without what the session provides. */
export type ConnectOptions = Omit<RoomClientOptions, "url" | "room" | "token">;

export interface EdgeClient {
  /** The service's base URL, without a trailing slash. */
  readonly url: string;
  /** Sign-up, sign-in, sign-out, the current user, tokens (refreshed ahead of expiry, shared by tabs). */
  readonly auth: AuthSession;
  /** The typed routes (hono/client), sent with the session's token; answers ≥ 400 throw ApiError. */
  readonly api: ApiClient;
  /** fetch with the session's token and the same retry and errors, for what the typed routes do not cover. */
  readonly fetch: FetchLike;
  readonly rooms: {
    /** Connects to a room with the session's token (asked again before every reconnect). */
    connect(room: string, options?: ConnectOptions): RoomClient;
  };
  /** Direct uploads with progress, and token-free URLs for `<img src>`. */
  readonly assets: AssetsClient;
}

export function createClient(options: ClientOptions): EdgeClient {
  const url = new URL(options.url).toString().replace(/\/+$/, "");
  const baseFetch: FetchLike = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const auth = new AuthSession({
    url,
    storage: resolveStorage(options.storage),
    storageKey: options.storageKey ?? `edge-backend:session:${new URL(url).origin}`,
    fetch: baseFetch,
    refreshMarginSeconds: options.refreshMarginSeconds,
  });
  const fetchWithSession = authedFetch(auth, baseFetch);
  const requireToken = async () => {
    const token = await auth.getAccessToken();
    if (!token) throw notSignedIn();
    return token;
  };
  return {
    url,
    auth,
    api: createApiClient(url, { fetch: fetchWithSession }),
    fetch: fetchWithSession,
    rooms: {
      connect(room: string, connectOptions: ConnectOptions = {}): RoomClient {
        const client = connectRoom({
          ...(options.WebSocket !== undefined && { WebSocket: options.WebSocket }),
          ...connectOptions,
          url,
          room,
          token: requireToken,
        });
        // 4401: the session was revoked, so its unexpired access token would be refused on every
        // reconnect. Refreshing tells: a revoked session signs out here (then reconnects wait for a
        // sign-in); otherwise the reconnect gets the new token.
        client.on("close", ({ code }) => {
          if (code === CLOSE_CODES.sessionRevoked) void auth.refresh().catch(() => {});
        });
        return client;
      },
    },
    assets: new AssetsClient(url, fetchWithSession, baseFetch),
  };
}
