/**
 * The last token rotation per storage key, in IndexedDB: `{ spent, session }`. Why not only the
 * storage itself: Chromium hands a localStorage write to other tabs asynchronously, and the Web Lock
 * can reach the next tab first, which then still reads the token the previous holder just spent
 * (seen in the browser test: the same token sent twice, 66 ms apart). IndexedDB transactions run in
 * one place in the browser, so a read that starts after the lock was handed over sees every write
 * made before it was released.
 */
export interface RotationEntry {
  /** The refresh token that was spent. */
  spent: string;
  /** The session it was rotated into, as stored (JSON). */
  session: string;
}

export interface RotationJournal {
  read(key: string): Promise<RotationEntry | undefined>;
  write(key: string, entry: RotationEntry): Promise<void>;
  remove(key: string): Promise<void>;
}

// The part of IndexedDB used here, typed locally: the SDK also type-checks without the DOM lib.
interface RequestLike<T> {
  result: T;
  error: unknown;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
}
interface OpenRequestLike extends RequestLike<DatabaseLike> {
  onupgradeneeded: (() => void) | null;
}
interface StoreLike {
  get(key: string): RequestLike<unknown>;
  put(value: unknown, key: string): RequestLike<unknown>;
  delete(key: string): RequestLike<unknown>;
}
interface TransactionLike {
  objectStore(name: string): StoreLike;
  oncomplete: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
  error: unknown;
}
interface DatabaseLike {
  objectStoreNames: { contains(name: string): boolean };
  createObjectStore(name: string): unknown;
  transaction(store: string, mode: "readonly" | "readwrite"): TransactionLike;
}
interface FactoryLike {
  open(name: string, version: number): OpenRequestLike;
}

const DB_NAME = "edge-backend-sdk";
const STORE = "rotations";

const done = (tx: TransactionLike) =>
  new Promise<void>((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });

/** The journal in this browser's IndexedDB, or undefined where there is none (Node, some private modes). */
export function indexedDbJournal(): RotationJournal | undefined {
  const factory = (globalThis as { indexedDB?: FactoryLike }).indexedDB;
  if (!factory) return undefined;
  let opened: Promise<DatabaseLike> | undefined;
  const db = () => {
    opened ??= new Promise<DatabaseLike>((resolve, reject) => {
      const request = factory.open(DB_NAME, 1);
      request.onupgradeneeded = () => {
        if (!request.result.objectStoreNames.contains(STORE)) request.result.createObjectStore(STORE);
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    return opened;
  };
  return {
    async read(key) {
      const tx = (await db()).transaction(STORE, "readonly");
      const request = tx.objectStore(STORE).get(key);
      await done(tx);
      const value = request.result as Partial<RotationEntry> | undefined;
      return typeof value?.spent === "string" && typeof value.session === "string"
        ? { spent: value.spent, session: value.session }
        : undefined;
    },
    async write(key, entry) {
      const tx = (await db()).transaction(STORE, "readwrite");
      tx.objectStore(STORE).put(entry, key);
      await done(tx);
    },
    async remove(key) {
      const tx = (await db()).transaction(STORE, "readwrite");
      tx.objectStore(STORE).delete(key);
      await done(tx);
    },
  };
}
