/**
 * Which rooms each session has joined, so a revoked session can be closed everywhere, and which
 * sessions were revoked, so the next connect of one is refused without asking any store outside.
 * It lives in the SQLite storage of one of REGISTRY_SHARDS registry objects, chosen by the user id
 * (registryObjectName): a connect of a user never seen before reaches an object that already exists,
 * instead of creating one object per user (that creation was most of a first connect's cost).
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

export type RegisterResult = "registered" | "revoked" | "too_many" | "unavailable";

export { REGISTRY_SHARDS, registryObjectName } from "../protocol/room-rpc.ts";

/** Expired rows are swept at most this often (not on every registration: that was most of its cost). */
const SWEEP_INTERVAL_MS = 3600 * 1000;

interface PendingRegistration {
  userId: string;
  sessionId: string;
  room: string;
  now: number;
  settle: (result: RegisterResult) => void;
  /** `#revocations` when it was checked. */
  revocations: number;
}

export class SessionRegistry {
  readonly #store: SqlStore;
  // New registrations waiting for this turn's one transaction (group commit), by `session\0room`.
  #pending = new Map<string, PendingRegistration>();
  #lastSweep = Number.NEGATIVE_INFINITY;
  // Counts revoke() calls, so a pending registration is read again only if one happened since its check.
  #revocations = 0;

  constructor(store: SqlStore) {
    this.#store = store;
  }

  /** Creates the tables (idempotent), in one transaction. */
  init(): void {
    this.#store.transactionSync(() => {
      const { sql } = this.#store;
      sql.exec(
        `CREATE TABLE IF NOT EXISTS session_rooms (session_id TEXT NOT NULL, room TEXT NOT NULL, user_id TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (session_id, room))`,
      );
      sql.exec(`CREATE INDEX IF NOT EXISTS session_rooms_by_user ON session_rooms (user_id)`);
      sql.exec(`CREATE INDEX IF NOT EXISTS session_rooms_by_age ON session_rooms (created_at)`);
      sql.exec(
        `CREATE TABLE IF NOT EXISTS revoked_sessions (session_id TEXT PRIMARY KEY, revoked_at INTEGER NOT NULL)`,
      );
    });
  }

  /**
   * Records that the session is opening a socket in `room`. Refused when the session was revoked
   * (closes the connect/revoke race). A known pair is answered from a read; a new one is written
   * with every other new one of this turn in ONE transaction, and answered once it is stored (on
   * Workers the output gate holds the answer until the write is durable).
   */
  register(userId: string, sessionId: string, room: string, now: number): RegisterResult | Promise<RegisterResult> {
    const key = `${sessionId}\0${room}`;
    const waiting = this.#pending.get(key);
    if (waiting) {
      if (this.#revoked(sessionId, now)) return "revoked";
      return new Promise((resolve) => {
        const first = waiting.settle;
        waiting.settle = (result) => {
          first(result);
          resolve(result);
        };
      });
    }
    // One statement for the three facts a registration needs (revoked? this pair's row? the user's
    // row count): a first connect's share of the registry was mostly per-statement cost.
    const facts = this.#store.sql
      .exec<{ revoked_at: number | null; created_at: number | null; n: number }>(
        `SELECT (SELECT revoked_at FROM revoked_sessions WHERE session_id = ?1) AS revoked_at, (SELECT created_at FROM session_rooms WHERE session_id = ?1 AND room = ?2) AS created_at, (SELECT COUNT(*) FROM session_rooms WHERE user_id = ?3) AS n`,
        sessionId,
        room,
        userId,
      )
      .one();
    if (facts.revoked_at !== null && facts.revoked_at >= now - REVOKED_SESSION_TTL_MS) return "revoked";
    // A row past half its life is written again, so a "registered" answer always means a row that
    // lives at least STALE_REGISTRATION_MS / 2 more (a room trusts its answer that long, room-object.ts).
    if (facts.created_at !== null && facts.created_at >= now - STALE_REGISTRATION_MS / 2) return "registered";
    let pendingOfUser = 0;
    for (const p of this.#pending.values()) if (p.userId === userId) pendingOfUser++;
    if (facts.n + pendingOfUser >= MAX_REGISTRATIONS_PER_USER) return "too_many";
    return new Promise((settle) => {
      if (this.#pending.size === 0) setTimeout(() => this.#flush(), 0);
      this.#pending.set(key, { userId, sessionId, room, now, settle, revocations: this.#revocations });
    });
  }

  #flush(): void {
    const pending = [...this.#pending.values()];
    this.#pending = new Map();
    const results: RegisterResult[] = [];
    try {
      this.#store.transactionSync(() => {
        const { sql } = this.#store;
        const now = pending.at(-1)?.now ?? Date.now();
        if (now - this.#lastSweep >= SWEEP_INTERVAL_MS) {
          sql.exec(`DELETE FROM revoked_sessions WHERE revoked_at < ?`, now - REVOKED_SESSION_TTL_MS);
          sql.exec(`DELETE FROM session_rooms WHERE created_at < ?`, now - STALE_REGISTRATION_MS);
        }
        for (const p of pending) {
          // Revoked while it waited for this turn: refused, like a registration after the revocation.
          // Only a revocation since it was checked can have done that, so most skip the read.
          if (p.revocations !== this.#revocations && this.#revoked(p.sessionId, p.now)) {
            results.push("revoked");
            continue;
          }
          sql.exec(
            `INSERT OR REPLACE INTO session_rooms (session_id, room, user_id, created_at) VALUES (?, ?, ?, ?)`,
            p.sessionId,
            p.room,
            p.userId,
            p.now,
          );
          results.push("registered");
        }
        if (now - this.#lastSweep >= SWEEP_INTERVAL_MS) this.#lastSweep = now;
      });
    } catch {
      // Nothing stored: the connects fail closed (the room answers 503, the client retries).
      for (const p of pending) p.settle("unavailable");
      return;
    }
    for (const [i, p] of pending.entries()) p.settle(results[i] as RegisterResult);
  }

  #revoked(sessionId: string, now: number): boolean {
    const row = this.#store.sql
      .exec<{ revoked_at: number }>(`SELECT revoked_at FROM revoked_sessions WHERE session_id = ?`, sessionId)
      .toArray()[0];
    return row !== undefined && row.revoked_at >= now - REVOKED_SESSION_TTL_MS;
  }

  /**
   * Marks the session revoked and returns the rooms it has (or had) sockets in. Registrations still
   * waiting for their transaction are refused when it runs, so none slips past.
   */
  revoke(sessionId: string, now: number): string[] {
    this.#revocations++;
    const { sql } = this.#store;
    sql.exec(
      `INSERT INTO revoked_sessions (session_id, revoked_at) VALUES (?, ?) ON CONFLICT (session_id) DO UPDATE SET revoked_at = excluded.revoked_at`,
      sessionId,
      now,
    );
    return sql
      .exec<{ room: string }>(`SELECT room FROM session_rooms WHERE session_id = ?`, sessionId)
      .toArray()
      .map((r) => r.room);
  }

  /** Forgets the session's registration in `room` once that room confirmed it closed its sockets. */
  forgetRoom(sessionId: string, room: string): void {
    this.#store.sql.exec(`DELETE FROM session_rooms WHERE session_id = ? AND room = ?`, sessionId, room);
  }
}
