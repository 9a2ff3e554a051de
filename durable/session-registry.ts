/**
 * Which rooms each session has joined, so a revoked session can be closed everywhere, and which
 * sessions were revoked, so the next connect of one is refused without asking any store outside.
 * It lives in the SQLite storage of one of REGISTRY_SHARDS registry objects, chosen by the ROOM
 * (registryObjectName): a room always talks to one shard, so it sends all the registrations of one
 * turn in one call, and a shard answers a whole batch with a constant number of statements (the
 * batch is one JSON parameter read with json_each: DO SQLite binds at most 100 parameters). A
 * revocation asks every shard, since a session's rooms may be in any of them.
 *
 * Rows are per session and room, not per socket: a reconnect to a room the session already joined
 * is a read (no write, so no storage flush on the connect path, which is what a reconnect storm is
 * made of), and a close costs nothing at all. A room the session has left keeps its row until the
 * session is revoked (one no-op call then) or the row is STALE_REGISTRATION_MS old.
 */
import type { SessionRef } from "../protocol/room-rpc.ts";
import type { SqlStore } from "./message-log.ts";

/** A revoked session's access tokens expire within minutes; remembering it a day covers any TTL in use. */
export const REVOKED_SESSION_TTL_MS = 24 * 3600 * 1000;
/** Bounds the table; far beyond any socket's life between deploys. */
export const STALE_REGISTRATION_MS = 30 * 24 * 3600 * 1000;
/**
 * A user's registered (session, room) pairs in ONE shard; registering beyond it is refused. Shards
 * are chosen by room, so a user's whole count is bounded by REGISTRY_SHARDS times this.
 */
export const MAX_REGISTRATIONS_PER_USER = 10_000;

export type RegisterResult = "registered" | "revoked" | "too_many" | "unavailable";

/** A registered pair a revocation found: the room to tell, and the session to close there. */
export interface SessionRoom {
  sessionId: string;
  room: string;
}

export { REGISTRY_OBJECT_NAMES, REGISTRY_SHARDS, registryObjectName } from "../protocol/room-rpc.ts";

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
  // How many of `#pending` each user has (the per-user cap counts them).
  #pendingOfUser = new Map<string, number>();
  #lastSweep = Number.NEGATIVE_INFINITY;
  // Counts revoke() calls, so a pending registration is read again only if one happened since its check.
  #revocations = 0;
  // Batches answered and transactions run, for tests and diagnostics.
  #batches = 0;
  #commits = 0;

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

  /** Batches answered and transactions committed since this instance started. */
  footprint(): { batches: number; commits: number; pending: number } {
    return { batches: this.#batches, commits: this.#commits, pending: this.#pending.size };
  }

  /**
   * Records that each session is opening a socket in `room`; the answers come in the entries' order.
   * Refused when the session was revoked (closes the connect/revoke race). Known pairs are answered
   * from one read (with no write, and no transaction at all when nothing is new); new ones are written
   * with every other new one of this turn in ONE transaction, and answered once it is stored (on
   * Workers the output gate holds the answer until the write is durable).
   */
  registerAll(entries: readonly SessionRef[], room: string, now: number): RegisterResult[] | Promise<RegisterResult[]> {
    this.#batches++;
    if (entries.length === 0) return [];
    // One statement for the three facts of every registration (revoked? this pair's row? the user's
    // row count): the batch is one JSON parameter, whatever its size.
    const facts = this.#store.sql
      .exec<{ revoked_at: number | null; created_at: number | null; n: number }>(
        `SELECT (SELECT revoked_at FROM revoked_sessions WHERE session_id = j.value ->> 0) AS revoked_at, (SELECT created_at FROM session_rooms WHERE session_id = j.value ->> 0 AND room = ?2) AS created_at, (SELECT COUNT(*) FROM session_rooms WHERE user_id = j.value ->> 1) AS n FROM json_each(?1) AS j ORDER BY j.key`,
        JSON.stringify(entries.map((e) => [e.sessionId, e.userId])),
        room,
      )
      .toArray();
    const results: (RegisterResult | Promise<RegisterResult>)[] = [];
    let waits = false;
    entries.forEach(({ userId, sessionId }, i) => {
      const result = this.#answer(userId, sessionId, room, now, facts[i]);
      if (typeof result !== "string") waits = true;
      results.push(result);
    });
    return waits ? Promise.all(results) : (results as RegisterResult[]);
  }

  #answer(
    userId: string,
    sessionId: string,
    room: string,
    now: number,
    facts: { revoked_at: number | null; created_at: number | null; n: number } | undefined,
  ): RegisterResult | Promise<RegisterResult> {
    if (facts === undefined) return "unavailable";
    if (facts.revoked_at !== null && facts.revoked_at >= now - REVOKED_SESSION_TTL_MS) return "revoked";
    const key = `${sessionId}\0${room}`;
    const waiting = this.#pending.get(key);
    if (waiting) {
      return new Promise((resolve) => {
        const first = waiting.settle;
        waiting.settle = (result) => {
          first(result);
          resolve(result);
        };
      });
    }
    // A row past half its life is written again, so a "registered" answer always means a row that
    // lives at least STALE_REGISTRATION_MS / 2 more (a room trusts its answer that long, room-object.ts).
    if (facts.created_at !== null && facts.created_at >= now - STALE_REGISTRATION_MS / 2) return "registered";
    const pendingOfUser = this.#pendingOfUser.get(userId) ?? 0;
    if (facts.n + pendingOfUser >= MAX_REGISTRATIONS_PER_USER) return "too_many";
    return new Promise((settle) => {
      if (this.#pending.size === 0) setTimeout(() => this.#flush(), 0);
      this.#pending.set(key, { userId, sessionId, room, now, settle, revocations: this.#revocations });
      this.#pendingOfUser.set(userId, pendingOfUser + 1);
    });
  }

  #flush(): void {
    const pending = [...this.#pending.values()];
    this.#pending = new Map();
    this.#pendingOfUser = new Map();
    const results: RegisterResult[] = [];
    try {
      this.#store.transactionSync(() => {
        const { sql } = this.#store;
        const now = pending.at(-1)?.now ?? Date.now();
        if (now - this.#lastSweep >= SWEEP_INTERVAL_MS) {
          sql.exec(`DELETE FROM revoked_sessions WHERE revoked_at < ?`, now - REVOKED_SESSION_TTL_MS);
          sql.exec(`DELETE FROM session_rooms WHERE created_at < ?`, now - STALE_REGISTRATION_MS);
        }
        // Revoked while they waited for this turn: refused, like a registration after the revocation.
        // Only a revocation since they were checked can have done that, so usually nothing is read.
        const recheck = pending.filter((p) => p.revocations !== this.#revocations).map((p) => p.sessionId);
        const revokedAt = new Map<string, number>();
        if (recheck.length > 0) {
          for (const row of sql
            .exec<{ session_id: string; revoked_at: number }>(
              `SELECT session_id, revoked_at FROM revoked_sessions WHERE session_id IN (SELECT value FROM json_each(?))`,
              JSON.stringify([...new Set(recheck)]),
            )
            .toArray()) {
            revokedAt.set(row.session_id, row.revoked_at);
          }
        }
        const rows: [string, string, string, number][] = [];
        for (const p of pending) {
          const at = revokedAt.get(p.sessionId);
          if (at !== undefined && at >= p.now - REVOKED_SESSION_TTL_MS) {
            results.push("revoked");
            continue;
          }
          rows.push([p.sessionId, p.room, p.userId, p.now]);
          results.push("registered");
        }
        // One multi-row write for the whole turn.
        if (rows.length > 0) {
          sql.exec(
            `INSERT OR REPLACE INTO session_rooms (session_id, room, user_id, created_at) SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each(?)`,
            JSON.stringify(rows),
          );
        }
        if (now - this.#lastSweep >= SWEEP_INTERVAL_MS) this.#lastSweep = now;
      });
      this.#commits++;
    } catch {
      // Nothing stored: the connects fail closed (the room answers 503, the client retries).
      for (const p of pending) p.settle("unavailable");
      return;
    }
    for (const [i, p] of pending.entries()) p.settle(results[i] as RegisterResult);
  }

  /**
   * Marks the sessions revoked and returns the rooms of this shard they have (or had) sockets in.
   * Registrations still waiting for their transaction are refused when it runs, so none slips past.
   */
  revoke(sessionIds: readonly string[], now: number): SessionRoom[] {
    this.#revocations++;
    if (sessionIds.length === 0) return [];
    const { sql } = this.#store;
    const ids = JSON.stringify([...new Set(sessionIds)]);
    // `WHERE true`: an INSERT ... SELECT with an upsert clause needs one to parse.
    sql.exec(
      `INSERT INTO revoked_sessions (session_id, revoked_at) SELECT value, ?2 FROM json_each(?1) WHERE true ON CONFLICT (session_id) DO UPDATE SET revoked_at = excluded.revoked_at`,
      ids,
      now,
    );
    return sql
      .exec<{ session_id: string; room: string }>(
        `SELECT session_id, room FROM session_rooms WHERE session_id IN (SELECT value FROM json_each(?))`,
        ids,
      )
      .toArray()
      .map((r) => ({ sessionId: r.session_id, room: r.room }));
  }

  /** Forgets these registrations once their rooms confirmed they closed the sessions' sockets. */
  forget(pairs: readonly SessionRoom[]): void {
    if (pairs.length === 0) return;
    this.#store.sql.exec(
      `DELETE FROM session_rooms WHERE (session_id, room) IN (SELECT value ->> 0, value ->> 1 FROM json_each(?))`,
      JSON.stringify(pairs.map((p) => [p.sessionId, p.room])),
    );
  }
}
