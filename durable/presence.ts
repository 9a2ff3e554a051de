import type { PresenceUser } from "../protocol/frames.ts";
import type { SqlStore } from "./message-log.ts";

/**
 * Who is in the room: open connections grouped by user, so a user with several tabs counts once
 * with a connection count. Kept in memory and rebuilt from the sockets' attachments after the
 * object wakes from hibernation (see RoomObject), so it never needs storage of its own.
 */
export class Presence {
  // connectionId → userId, and userId → open connection count.
  readonly #connections = new Map<string, string>();
  readonly #counts = new Map<string, number>();
  // Present user ids, kept sorted (binary insertion), and the sync frame as JSON text once built:
  // a connect's presence sync then costs a string, not a sort and an encode of every member.
  readonly #sorted: string[] = [];
  // Each sorted user's `{"id":…,"connections":n}` text, at the same index.
  readonly #fragments: string[] = [];
  #encoded: string | undefined;

  /** Adds a connection; true when it is the user's first (a `join` to announce). Idempotent per connection. */
  add(connectionId: string, userId: string): boolean {
    if (this.#connections.has(connectionId)) return false;
    this.#connections.set(connectionId, userId);
    const count = (this.#counts.get(userId) ?? 0) + 1;
    this.#counts.set(userId, count);
    this.#encoded = undefined;
    const at = this.#indexOf(userId);
    if (count === 1) {
      this.#sorted.splice(at, 0, userId);
      this.#fragments.splice(at, 0, fragment(userId, count));
    } else {
      this.#fragments[at] = fragment(userId, count);
    }
    return count === 1;
  }

  /**
   * Removes a connection; returns the user id when it was their last (a `leave` to announce).
   * Unknown connections are ignored, so close and error events for one socket never count twice.
   */
  remove(connectionId: string): string | undefined {
    const userId = this.#connections.get(connectionId);
    if (userId === undefined) return undefined;
    this.#connections.delete(connectionId);
    this.#encoded = undefined;
    const count = (this.#counts.get(userId) ?? 1) - 1;
    const at = this.#indexOf(userId);
    if (count > 0) {
      this.#counts.set(userId, count);
      this.#fragments[at] = fragment(userId, count);
      return undefined;
    }
    this.#counts.delete(userId);
    this.#sorted.splice(at, 1);
    this.#fragments.splice(at, 1);
    return userId;
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  get userCount(): number {
    return this.#counts.size;
  }

  has(userId: string): boolean {
    return this.#counts.has(userId);
  }

  connectionsOf(userId: string): number {
    return this.#counts.get(userId) ?? 0;
  }

  /** Every present user, sorted by id so answers are stable. */
  users(): PresenceUser[] {
    return this.#sorted.map((id) => ({ id, connections: this.#counts.get(id) as number }));
  }

  /** `users()` as JSON text (exactly JSON.stringify of it), rebuilt only after a change. */
  encodedUsers(): string {
    const frame = this.syncFrame();
    return frame.slice(SYNC_PREFIX.length, -1);
  }

  /**
   * The `presence` `sync` frame's text, built once per change as ONE flat string: a member list
   * spliced into a template would be copied again when sent (a room of 1,000 members sends a 50 KB
   * sync on every connect, and under churn every connect follows a change).
   */
  syncFrame(): string {
    if (this.#encoded !== undefined) return this.#encoded;
    const n = this.#fragments.length;
    if (n === 0) {
      this.#encoded = `${SYNC_PREFIX}[]}`;
      return this.#encoded;
    }
    const parts = this.#fragments.slice();
    parts[0] = `${SYNC_PREFIX}[${parts[0]}`;
    parts[n - 1] = `${parts[n - 1]}]}`;
    this.#encoded = parts.join(",");
    return this.#encoded;
  }

  /** Where `userId` is or would be inserted in the sorted ids (code-unit order, as `<` compares). */
  #indexOf(userId: string): number {
    let lo = 0;
    let hi = this.#sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.#sorted[mid] as string) < userId) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

const fragment = (id: string, connections: number): string => JSON.stringify({ id, connections });
const SYNC_PREFIX = `{"type":"presence","action":"sync","users":`;

/**
 * Which users the room last told its members about (the last presence diff), in storage. Presence
 * itself is rebuilt from the sockets after a wake-up; comparing it with this ledger recovers the joins
 * and leaves a coalesced diff had not sent yet when the object was evicted, so no member misses one.
 */
export class PresenceLedger {
  readonly #store: SqlStore;

  constructor(store: SqlStore) {
    this.#store = store;
  }

  init(): void {
    this.#store.sql.exec(`CREATE TABLE IF NOT EXISTS presence_announced (user_id TEXT PRIMARY KEY)`);
  }

  load(): Set<string> {
    const rows = this.#store.sql.exec<{ user_id: string }>(`SELECT user_id FROM presence_announced`).toArray();
    return new Set(rows.map((r) => r.user_id));
  }

  /**
   * Records a diff as sent, in one transaction of at most two statements whatever its size: the ids
   * go as one JSON parameter read with json_each (a room filling sends diffs of hundreds of joins,
   * and a statement per id was most of the diff's storage cost; DO SQLite binds at most 100 parameters).
   */
  record(joined: readonly string[], left: readonly string[]): void {
    this.#store.transactionSync(() => {
      const { sql } = this.#store;
      if (joined.length > 0) {
        sql.exec(
          `INSERT OR IGNORE INTO presence_announced (user_id) SELECT value FROM json_each(?)`,
          JSON.stringify(joined),
        );
      }
      if (left.length > 0) {
        sql.exec(
          `DELETE FROM presence_announced WHERE user_id IN (SELECT value FROM json_each(?))`,
          JSON.stringify(left),
        );
      }
    });
  }
}
