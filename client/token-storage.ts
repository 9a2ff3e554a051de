/**
 * Where the session (access token, refresh token, user) is kept between page loads. Anything with
 * `getItem`/`setItem`/`removeItem` works, synchronous like `localStorage` or asynchronous like React
 * Native's AsyncStorage. A storage that several tabs share should also offer `subscribe`, so a
 * sign-in, refresh or sign-out in one tab reaches the others.
 */
export interface TokenStorage {
  getItem(key: string): string | null | Promise<string | null>;
  setItem(key: string, value: string): void | Promise<void>;
  removeItem(key: string): void | Promise<void>;
  /** Calls `listener` when another tab/process changed `key`; returns the unsubscribe. */
  subscribe?(key: string, listener: (value: string | null) => void): () => void;
  /** True when other tabs see the same values (then refreshes are coordinated across tabs). */
  readonly shared?: boolean;
}

/** Kept in this JavaScript realm only: gone on reload, invisible to other tabs. */
export function memoryStorage(): TokenStorage {
  const values = new Map<string, string>();
  return {
    getItem: (key) => values.get(key) ?? null,
    setItem: (key, value) => {
      values.set(key, value);
    },
    removeItem: (key) => {
      values.delete(key);
    },
    shared: false,
  };
}

/** The part of the Web Storage API used here (typed locally: no DOM lib needed to type-check). */
export interface WebStorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

interface StorageEventLike {
  key: string | null;
  storageArea: unknown;
}

interface EventTargetLike {
  addEventListener?(type: "storage", listener: (event: StorageEventLike) => void): void;
  removeEventListener?(type: "storage", listener: (event: StorageEventLike) => void): void;
}

const browserLocalStorage = (): WebStorageLike | undefined =>
  (globalThis as { localStorage?: WebStorageLike }).localStorage;

/**
 * The browser's localStorage: survives reloads and is shared by every tab of the app's origin.
 * Anything that runs script on that origin can read it (an XSS hole can steal the refresh token);
 * choose `memoryStorage()` when that trade is wrong for the app.
 */
export function localStorageStorage(store: WebStorageLike | undefined = browserLocalStorage()): TokenStorage {
  if (!store) throw new TypeError("localStorage is not available here; use memoryStorage() or your own TokenStorage");
  return {
    getItem: (key) => store.getItem(key),
    setItem: (key, value) => store.setItem(key, value),
    removeItem: (key) => store.removeItem(key),
    subscribe(key, listener) {
      const target = globalThis as EventTargetLike;
      if (typeof target.addEventListener !== "function") return () => {};
      // The storage event fires in every other tab of the origin, never in the one that wrote.
      const onStorage = (event: StorageEventLike) => {
        if (event.storageArea === store && (event.key === key || event.key === null)) listener(store.getItem(key));
      };
      target.addEventListener("storage", onStorage);
      return () => target.removeEventListener?.("storage", onStorage);
    },
    shared: true,
  };
}

export type StorageOption = "memory" | "local" | TokenStorage;

/** `"local"` where localStorage exists; otherwise (Node, workers) memory. */
export function resolveStorage(option: StorageOption | undefined): TokenStorage {
  if (option === "memory") return memoryStorage();
  if (option === "local") return localStorageStorage();
  if (option) return option;
  let available = false;
  try {
    available = typeof browserLocalStorage()?.getItem === "function";
  } catch {
    // Access to localStorage can throw (sandboxed iframes, storage disabled).
  }
  return available ? localStorageStorage() : memoryStorage();
}
