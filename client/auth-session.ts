/**
 * The signed-in session of an app: tokens kept in a pluggable storage, refreshed ahead of expiry,
 * one refresh at a time within a tab and across tabs.
 *
 * Why across tabs: the service rotates refresh tokens and treats a spent token presented again
 * more than 10 s later as theft, revoking the whole session (docs/auth.md). Tabs share one stored
 * refresh token, so two tabs refreshing on their own would sign each other out. Every refresh runs
 * under a cross-tab lock (a Web Lock, else a lease in IndexedDB: cross-tab.ts); inside it the tab
 * re-reads the storage and the rotation journal and, if another tab already rotated the token it
 * meant to spend, adopts that result instead of spending its own copy. Where neither exists the
 * re-read alone narrows the race to a few milliseconds, and the server's 10 s grace absorbs what is
 * left (both tabs get a pair in the same session).
 */
import type { TokenPair, User } from "./api-types.ts";
import { ApiError, apiErrorFrom } from "./errors.ts";
import { indexedDbJournal, type RotationJournal, withCrossTabLock } from "./cross-tab.ts";
import type { TokenStorage } from "./token-storage.ts";

export type { User } from "./api-types.ts";

export type AuthChangeEvent = "SIGNED_IN" | "SIGNED_OUT" | "TOKEN_REFRESHED";
export type AuthListener = (user: User | null, event: AuthChangeEvent) => void;
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** What is stored under the storage key, as JSON. */
interface StoredSession {
  accessToken: string;
  refreshToken: string;
  /** Epoch ms, from this device's clock when the token arrived (so server clock skew does not matter). */
  expiresAt: number;
  /** The access token's lifetime in ms, for the refresh margin. */
  lifetimeMs: number;
  user: User;
}

export interface AuthOptions {
  /** The service's base URL. */
  url: string;
  storage: TokenStorage;
  storageKey: string;
  fetch: FetchLike;
  /** Refresh this long before the access token expires. Default: a quarter of its lifetime, at most 60 s. */
  refreshMarginSeconds?: number | undefined;
}

function parseStored(raw: string | null): StoredSession | null {
  if (!raw) return null;
  try {
    const value = JSON.parse(raw) as Partial<StoredSession>;
    if (
      typeof value.accessToken === "string" &&
      typeof value.refreshToken === "string" &&
      typeof value.expiresAt === "number" &&
      typeof value.lifetimeMs === "number" &&
      typeof value.user === "object" &&
      value.user !== null
    ) {
      return value as StoredSession;
    }
  } catch {
    // Not ours, or from an older version: treated as signed out.
  }
  return null;
}

const fromPair = (pair: TokenPair): StoredSession => ({
  accessToken: pair.accessToken,
  refreshToken: pair.refreshToken,
  expiresAt: Date.now() + pair.expiresIn * 1000,
  lifetimeMs: pair.expiresIn * 1000,
  user: pair.user,
});

export class AuthSession {
  readonly #options: AuthOptions;
  /** The service's URL without a trailing slash; paths are appended, so a path prefix is kept. */
  readonly #baseUrl: string;
  readonly #listeners = new Set<AuthListener>();
  #session: StoredSession | null = null;
  #refreshing: Promise<string | null> | undefined;
  readonly #unsubscribe: () => void;
  /** Only for storages that tabs share: that is where another tab's rotation can be missed. */
  readonly #journal: RotationJournal | undefined;
  /** Resolves once the stored session was read (at once for synchronous storages like localStorage). */
  readonly ready: Promise<void>;

  constructor(options: AuthOptions) {
    this.#options = options;
    this.#baseUrl = options.url.replace(/\/+$/, "");
    this.#journal = options.storage.shared ? indexedDbJournal() : undefined;
    const initial = options.storage.getItem(options.storageKey);
    if (initial instanceof Promise) {
      this.ready = initial.then(
        (raw) => {
          // A sign-in that finished before the storage answered wins over what was stored.
          if (this.#session === null) this.#session = parseStored(raw);
        },
        () => {},
      );
    } else {
      this.#session = parseStored(initial);
      this.ready = Promise.resolve();
    }
    this.#unsubscribe =
      options.storage.subscribe?.(options.storageKey, (raw) => this.#adoptExternal(parseStored(raw))) ?? (() => {});
  }

  /** The signed-in user, or null. */
  get user(): User | null {
    return this.#session?.user ?? null;
  }

  /** When the current access token expires (epoch ms), or null when signed out. */
  get expiresAt(): number | null {
    return this.#session?.expiresAt ?? null;
  }

  /** Called on sign-in, sign-out and refresh, in this tab and (with a shared storage) from other tabs. */
  onChange(listener: AuthListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async signUp(input: { email: string; password: string; name?: string }): Promise<User> {
    return this.#signInWith("/v1/auth/register", input);
  }

  async signIn(input: { email: string; password: string }): Promise<User> {
    return this.#signInWith("/v1/auth/login", input);
  }

  /**
   * Signs out here at once (storage cleared, listeners told), then revokes the session on the
   * service. `everywhere: true` revokes every session of the account (logout-all) and throws if
   * the service refused; a plain sign-out's revocation is best effort (offline still signs out).
   */
  async signOut(options: { everywhere?: boolean } = {}): Promise<void> {
    await this.ready;
    const current = this.#session;
    const accessToken = options.everywhere && current ? await this.getAccessToken() : null;
    await this.#store(null, "SIGNED_OUT");
    if (!current) return;
    if (options.everywhere) {
      const res = await this.#post("/v1/auth/logout-all", undefined, accessToken ?? current.accessToken);
      if (!res.ok) throw await apiErrorFrom(res);
      await res.body?.cancel();
      return;
    }
    try {
      const res = await this.#post("/v1/auth/logout", { refreshToken: current.refreshToken });
      await res.body?.cancel();
    } catch {
      // Offline: the local sign-out stands; the refresh token expires on its own.
    }
  }

  /** A current access token (refreshed first when it is about to expire), or null when signed out. */
  async getAccessToken(): Promise<string | null> {
    await this.ready;
    const session = this.#session;
    if (!session) return null;
    if (!this.#nearExpiry(session)) return session.accessToken;
    return this.refresh();
  }

  /**
   * Rotates the tokens now; concurrent calls (in this tab or, with shared storage, in others) share
   * one rotation. Resolves with the new access token, or null when the session ended (then the
   * user is signed out here). Throws ApiError when the service could not answer (the session stays).
   */
  refresh(): Promise<string | null> {
    this.#refreshing ??= this.#refreshOnce().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  /** After a request was refused (401) with `rejected`: a newer token if one exists or can be had. */
  async tokenAfterRejection(rejected: string): Promise<string | null> {
    await this.ready;
    const current = this.#session?.accessToken ?? null;
    if (current !== null && current !== rejected) return current;
    return this.refresh();
  }

  /** Stops listening to the storage (other tabs). */
  dispose(): void {
    this.#unsubscribe();
    this.#listeners.clear();
  }

  #nearExpiry(session: StoredSession): boolean {
    const configured = this.#options.refreshMarginSeconds;
    const margin = configured !== undefined ? configured * 1000 : Math.min(60_000, session.lifetimeMs / 4);
    return Date.now() >= session.expiresAt - margin;
  }

  async #refreshOnce(): Promise<string | null> {
    await this.ready;
    const spending = this.#session?.refreshToken;
    if (!spending) return null;
    const run = () => this.#rotate(spending);
    // A storage no other tab sees needs no lock: this tab's single flight is enough.
    if (!this.#options.storage.shared) return run();
    return withCrossTabLock(`edge-backend:refresh:${this.#options.storageKey}`, this.#journal, run);
  }

  /** Runs under the cross-tab lock: spends `spending` unless another tab already did. */
  async #rotate(spending: string): Promise<string | null> {
    if (this.#options.storage.shared) {
      const stored = parseStored(await this.#options.storage.getItem(this.#options.storageKey));
      if (stored?.refreshToken !== spending) {
        // Another tab rotated (or signed out, or in as someone else) while we waited: take its result.
        this.#adoptExternal(stored);
        return stored?.accessToken ?? null;
      }
      // This tab's view of the storage may lag behind the tab that held the lock before us.
      const journaled = await this.#journal?.read(this.#options.storageKey).catch(() => undefined);
      const rotated = journaled?.spent === spending ? parseStored(journaled.session) : null;
      if (rotated) {
        this.#adoptExternal(rotated);
        return rotated.accessToken;
      }
    }
    const res = await this.#post("/v1/auth/refresh", { refreshToken: spending });
    if (res.status === 401) {
      await res.body?.cancel();
      // The session ended (expired, signed out elsewhere, or revoked). Only clear it if no other
      // tab replaced it meanwhile.
      const stored = this.#options.storage.shared
        ? parseStored(await this.#options.storage.getItem(this.#options.storageKey))
        : this.#session;
      if (!stored || stored.refreshToken === spending) await this.#store(null, "SIGNED_OUT");
      else this.#adoptExternal(stored);
      return stored && stored.refreshToken !== spending ? stored.accessToken : null;
    }
    if (!res.ok) throw await apiErrorFrom(res);
    const next = fromPair((await res.json()) as TokenPair);
    // Journal first, still under the lock: the next tab in line reads it before spending anything.
    await this.#journal
      ?.write(this.#options.storageKey, { spent: spending, session: JSON.stringify(next) })
      .catch(() => {});
    await this.#store(next, "TOKEN_REFRESHED");
    return next.accessToken;
  }

  async #signInWith(path: string, body: unknown): Promise<User> {
    await this.ready;
    const res = await this.#post(path, body);
    if (!res.ok) throw await apiErrorFrom(res);
    const next = fromPair((await res.json()) as TokenPair);
    await this.#store(next, "SIGNED_IN");
    return next.user;
  }

  #post(path: string, body: unknown, bearer?: string): Promise<Response> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (bearer) headers.Authorization = `Bearer ${bearer}`;
    return this.#options.fetch(`${this.#baseUrl}${path}`, {
      method: "POST",
      headers,
      body: body === undefined ? null : JSON.stringify(body),
    });
  }

  async #store(next: StoredSession | null, event: AuthChangeEvent): Promise<void> {
    const { storage, storageKey } = this.#options;
    const had = this.#session !== null;
    this.#session = next;
    if (next) await storage.setItem(storageKey, JSON.stringify(next));
    else {
      await storage.removeItem(storageKey);
      await this.#journal?.remove(storageKey).catch(() => {});
    }
    if (next || had) this.#emit(event);
  }

  /** A session written by another tab (or found in storage under the lock). */
  #adoptExternal(next: StoredSession | null): void {
    const previous = this.#session;
    if (previous?.refreshToken === next?.refreshToken) return;
    this.#session = next;
    if (!next) this.#emit("SIGNED_OUT");
    else if (!previous || previous.user.id !== next.user.id) this.#emit("SIGNED_IN");
    else this.#emit("TOKEN_REFRESHED");
  }

  #emit(event: AuthChangeEvent): void {
    const user = this.user;
    for (const listener of [...this.#listeners]) {
      try {
        listener(user, event);
      } catch (error) {
        // One throwing listener must not keep the others (or the SDK) from going on.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}

/** Signed out, or the session ended: what an authenticated call throws without a token. */
export const notSignedIn = () =>
  new ApiError({ status: 401, title: "Unauthorized", detail: "Not signed in.", type: "not-signed-in" });
