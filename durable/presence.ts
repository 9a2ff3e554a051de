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

  /** Adds a connection; true when it is the user's first (a `join` to announce). Idempotent per connection. */
  add(connectionId: string, userId: string): boolean {
    if (this.#connections.has(connectionId)) return false;
    this.#connections.set(connectionId, userId);
    const count = (this.#counts.get(userId) ?? 0) + 1;
    this.#counts.set(userId, count);
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
    const count = (this.#counts.get(userId) ?? 1) - 1;
    if (count > 0) {
      this.#counts.set(userId, count);
      return undefined;
    }
    this.#counts.delete(userId);
    return userId;
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  has(userId: string): boolean {
    return this.#counts.has(userId);
  }

  connectionsOf(userId: string): number {
    return this.#counts.get(userId) ?? 0;
  }

  /** Every present user, sorted by id so answers are stable. */
  users(): PresenceUser[] {
    return [...this.#counts.entries()]
      .map(([id, connections]) => ({ id, connections }))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
}

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

  /** Records a diff as sent, in one transaction. */
  record(joined: readonly string[], left: readonly string[]): void {
    this.#store.transactionSync(() => {
      const { sql } = this.#store;
      for (const id of joined) sql.exec(`INSERT OR IGNORE INTO presence_announced (user_id) VALUES (?)`, id);
      for (const id of left) sql.exec(`DELETE FROM presence_announced WHERE user_id = ?`, id);
    });
  }
}
