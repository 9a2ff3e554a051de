/**
 * What tabs sharing one stored session use to refresh one at a time.
 *
 * The lock: a Web Lock (`navigator.locks`) where there is one (every current browser); else a
 * lease in IndexedDB (taken by a compare-and-set inside one readwrite transaction, which IndexedDB
 * runs one at a time), polled every 50 ms and given up after 10 s so a tab that died holding it
 * cannot block the others for long; else (no IndexedDB either) no lock at all.
 *
 * The journal: the last token rotation per storage key, in IndexedDB: `{ spent, session }`. Why not only the
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
  /** Takes the lease `name` for `owner` unless another owner holds an unexpired one. */
  tryLease(name: string, owner: string, ttlMs: number): Promise<boolean>;
  releaseLease(name: string, owner: string): Promise<void>;
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
const LEASES = "leases";
const LEASE_TTL_MS = 10_000;
const LEASE_POLL_MS = 50;

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
      const request = factory.open(DB_NAME, 2);
      request.onupgradeneeded = () => {
        for (const name of [STORE, LEASES]) {
          if (!request.result.objectStoreNames.contains(name)) request.result.createObjectStore(name);
        }
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
    async tryLease(name, owner, ttlMs) {
      const tx = (await db()).transaction(LEASES, "readwrite");
      const leases = tx.objectStore(LEASES);
      const request = leases.get(name);
      let taken = false;
      // Read and write in the same transaction: no other tab's transaction on this store runs between.
      request.onsuccess = () => {
        const lease = request.result as { owner?: string; until?: number } | undefined;
        if (!lease || lease.owner === owner || (lease.until ?? 0) < Date.now()) {
          leases.put({ owner, until: Date.now() + ttlMs }, name);
          taken = true;
        }
      };
      await done(tx);
      return taken;
    },
    async releaseLease(name, owner) {
      const tx = (await db()).transaction(LEASES, "readwrite");
      const leases = tx.objectStore(LEASES);
      const request = leases.get(name);
      request.onsuccess = () => {
        if ((request.result as { owner?: string } | undefined)?.owner === owner) leases.delete(name);
      };
      await done(tx);
    },
  };
}

interface LockManagerLike {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
}

function webLocks(): LockManagerLike | undefined {
  const locks = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks;
  return typeof locks?.request === "function" ? locks : undefined;
}

/** Runs `work` while no other tab runs work under the same `name` (see the top of this file). */
export async function withCrossTabLock<T>(
  name: string,
  journal: RotationJournal | undefined,
  work: () => Promise<T>,
): Promise<T> {
  const locks = webLocks();
  if (locks) return locks.request(name, work);
  if (!journal) return work();
  const owner = crypto.randomUUID();
  const deadline = Date.now() + LEASE_TTL_MS;
  let held = false;
  while (!held && Date.now() < deadline) {
    held = await journal.tryLease(name, owner, LEASE_TTL_MS).catch(() => true);
    if (!held) await new Promise((resolve) => setTimeout(resolve, LEASE_POLL_MS));
  }
  try {
    return await work();
  } finally {
    if (held) await journal.releaseLease(name, owner).catch(() => {});
  }
}
