/**
 * Which rooms a user's sessions have joined, so a revoked session can be closed everywhere. It
 * lives in the SQLite storage of the user's private room object (`user:<id>`): one object per user
 * already exists by name, and it serialises that user's registrations and revocations.
 *
 * Rows are per session and room, not per socket: a reconnect to a room the session already joined
 * is a read (no write, so no storage flush on the connect path, which is what a reconnect storm is
 * made of), and a close costs nothing at all. A room the session has left keeps its row until the
 * session is revoked (one no-op call then) or the row is STALE_REGISTRATION_MS old.
 */
import type { SqlStore } from "./message-log.ts";

/** A revoked session's access tokens expire within minutes; remembering it a day covers any TTL in use. */
export const REVOKED_SESSION_TTL_MS = 24 * 3600 * 1000;
/** Bounds the table; far beyond any socket's life between deploys. */
export const STALE_REGISTRATION_MS = 30 * 24 * 3600 * 1000;
/** A user's registered (session, room) pairs; registering beyond it is refused. */
export const MAX_REGISTRATIONS_PER_USER = 10_000;

export type RegisterResult = "registered" | "revoked" | "too_many";

export class SessionRegistry {
  readonly #store: SqlStore;

  constructor(store: SqlStore) {
    this.#store = store;
  }

  /** Creates the tables (idempotent), in one transaction: one commit for a new user's object, not three. */
  init(): void {
    this.#store.transactionSync(() => {
      const { sql } = this.#store;
      sql.exec(
        `CREATE TABLE IF NOT EXISTS session_rooms (session_id TEXT NOT NULL, room TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (session_id, room))`,
      );
      sql.exec(
        `CREATE TABLE IF NOT EXISTS revoked_sessions (session_id TEXT PRIMARY KEY, revoked_at INTEGER NOT NULL)`,
      );
      // Per-socket rows written before registrations were per room; read (never written) until they age out.
      sql.exec(
        `CREATE TABLE IF NOT EXISTS session_sockets (connection_id TEXT PRIMARY KEY, session_id TEXT NOT NULL, room TEXT NOT NULL, created_at INTEGER NOT NULL)`,
      );
    });
  }

  /** Records that the session is opening a socket in `room`. Refused when the session was revoked (closes the connect/revoke race). */
  register(sessionId: string, room: string, now: number): RegisterResult {
    const { sql } = this.#store;
    const revoked = sql
      .exec<{ revoked_at: number }>(`SELECT revoked_at FROM revoked_sessions WHERE session_id = ?`, sessionId)
      .toArray()[0];
    if (revoked && revoked.revoked_at >= now - REVOKED_SESSION_TTL_MS) return "revoked";
    const known = sql
      .exec<{ created_at: number }>(
        `SELECT created_at FROM session_rooms WHERE session_id = ? AND room = ?`,
        sessionId,
        room,
      )
      .toArray()[0];
    if (known && known.created_at >= now - STALE_REGISTRATION_MS) return "registered";
    return this.#store.transactionSync(() => {
      // Only a new registration writes, and it tidies up while it is at it.
      sql.exec(`DELETE FROM revoked_sessions WHERE revoked_at < ?`, now - REVOKED_SESSION_TTL_MS);
      sql.exec(`DELETE FROM session_rooms WHERE created_at < ?`, now - STALE_REGISTRATION_MS);
      sql.exec(`DELETE FROM session_sockets WHERE created_at < ?`, now - STALE_REGISTRATION_MS);
      const count = sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM session_rooms`).one().n;
      if (count >= MAX_REGISTRATIONS_PER_USER) return "too_many";
      sql.exec(
        `INSERT OR REPLACE INTO session_rooms (session_id, room, created_at) VALUES (?, ?, ?)`,
        sessionId,
        room,
        now,
      );
      return "registered";
    });
  }

  /** Marks the session revoked and returns the rooms it has (or had) sockets in. */
  revoke(sessionId: string, now: number): string[] {
    const { sql } = this.#store;
    sql.exec(
      `INSERT INTO revoked_sessions (session_id, revoked_at) VALUES (?, ?) ON CONFLICT (session_id) DO UPDATE SET revoked_at = excluded.revoked_at`,
      sessionId,
      now,
    );
    return sql
      .exec<{ room: string }>(
        `SELECT room FROM session_rooms WHERE session_id = ? UNION SELECT room FROM session_sockets WHERE session_id = ?`,
        sessionId,
        sessionId,
      )
      .toArray()
      .map((r) => r.room);
  }

  /** Forgets the session's registration in `room` once that room confirmed it closed its sockets. */
  forgetRoom(sessionId: string, room: string): void {
    const { sql } = this.#store;
    sql.exec(`DELETE FROM session_rooms WHERE session_id = ? AND room = ?`, sessionId, room);
    sql.exec(`DELETE FROM session_sockets WHERE session_id = ? AND room = ?`, sessionId, room);
  }
}
