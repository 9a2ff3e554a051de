/**
 * Which rooms a user's sessions have sockets in, so a revoked session can be closed everywhere.
 * It lives in the SQLite storage of the user's private room object (`user:<id>`): one object per
 * user already exists by name, and it serialises that user's registrations and revocations.
 *
 * Rows are per connection, so a close that unregisters and a reconnect that registers the same
 * session in the same room can never cancel each other out. A row whose unregister was lost costs
 * one no-op call at revocation time, and is dropped after STALE_CONNECTION_MS.
 */
import type { SqlStore } from "./message-log.ts";

/** A revoked session's access tokens expire within minutes; remembering it a day covers any TTL in use. */
export const REVOKED_SESSION_TTL_MS = 24 * 3600 * 1000;
/** Bounds the table if unregisters are lost; far beyond any socket's life between deploys. */
export const STALE_CONNECTION_MS = 30 * 24 * 3600 * 1000;
/** A user's registered connections, across all rooms; registering beyond it is refused. */
export const MAX_CONNECTIONS_PER_USER = 10_000;

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
        `CREATE TABLE IF NOT EXISTS session_sockets (connection_id TEXT PRIMARY KEY, session_id TEXT NOT NULL, room TEXT NOT NULL, created_at INTEGER NOT NULL)`,
      );
      sql.exec(`CREATE INDEX IF NOT EXISTS session_sockets_session_idx ON session_sockets (session_id)`);
      sql.exec(
        `CREATE TABLE IF NOT EXISTS revoked_sessions (session_id TEXT PRIMARY KEY, revoked_at INTEGER NOT NULL)`,
      );
    });
  }

  /** Records a socket about to open. Refused when the session was revoked (closes the connect/revoke race). */
  register(sessionId: string, room: string, connectionId: string, now: number): RegisterResult {
    return this.#store.transactionSync(() => {
      const { sql } = this.#store;
      sql.exec(`DELETE FROM revoked_sessions WHERE revoked_at < ?`, now - REVOKED_SESSION_TTL_MS);
      sql.exec(`DELETE FROM session_sockets WHERE created_at < ?`, now - STALE_CONNECTION_MS);
      if (sql.exec(`SELECT 1 FROM revoked_sessions WHERE session_id = ?`, sessionId).toArray().length > 0) {
        return "revoked";
      }
      const count = sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM session_sockets`).one().n;
      if (count >= MAX_CONNECTIONS_PER_USER) return "too_many";
      sql.exec(
        `INSERT OR REPLACE INTO session_sockets (connection_id, session_id, room, created_at) VALUES (?, ?, ?, ?)`,
        connectionId,
        sessionId,
        room,
        now,
      );
      return "registered";
    });
  }

  unregister(connectionId: string): void {
    this.#store.sql.exec(`DELETE FROM session_sockets WHERE connection_id = ?`, connectionId);
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
      .exec<{ room: string }>(`SELECT DISTINCT room FROM session_sockets WHERE session_id = ?`, sessionId)
      .toArray()
      .map((r) => r.room);
  }

  /** Forgets the session's sockets in `room` once that room confirmed it closed them. */
  forgetRoom(sessionId: string, room: string): void {
    this.#store.sql.exec(`DELETE FROM session_sockets WHERE session_id = ? AND room = ?`, sessionId, room);
  }
}
