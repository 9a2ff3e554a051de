/**
 * The room's ordered message log in the object's SQLite storage. Each message gets the next
 * sequence number and is stored as its encoded `message` frame, so replay and broadcast send the
 * stored text as is. Retention is bounded by count and by age.
 */

export interface RetentionPolicy {
  maxMessages: number;
  maxAgeMs: number;
}

export interface StoredMessage {
  seq: number;
  ts: number;
  /** The encoded `message` frame. */
  frame: string;
}

/** The part of DurableObjectStorage the log uses (a narrow seam, so the log is testable on its own). */
export interface SqlStore {
  sql: SqlStorage;
  transactionSync<T>(closure: () => T): T;
}

const LATEST_SEQ_KEY = "latest_seq";

export class MessageLog {
  readonly #store: SqlStore;
  readonly #retention: RetentionPolicy;
  // Mirrors room_meta.latest_seq; loaded once in init(), written with every append.
  #latest = 0;

  constructor(store: SqlStore, retention: RetentionPolicy) {
    this.#store = store;
    this.#retention = retention;
  }

  /** Creates the tables (idempotent) and loads the latest sequence number. Call inside blockConcurrencyWhile. */
  init(): void {
    const { sql } = this.#store;
    sql.exec(`CREATE TABLE IF NOT EXISTS messages (seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, frame TEXT NOT NULL)`);
    sql.exec(`CREATE INDEX IF NOT EXISTS messages_ts_idx ON messages (ts)`);
    // The latest seq lives apart from the messages: retention may delete every message, and the
    // next one must still continue the sequence rather than restart it.
    sql.exec(`CREATE TABLE IF NOT EXISTS room_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)`);
    const row = sql.exec<{ value: number }>(`SELECT value FROM room_meta WHERE key = ?`, LATEST_SEQ_KEY).toArray()[0];
    this.#latest = row?.value ?? 0;
  }

  /** The latest sequence number (0 before the first message). */
  get latestSeq(): number {
    return this.#latest;
  }

  /**
   * Stores the next message and prunes what retention no longer covers, in one transaction.
   * `encode` builds the frame text from the assigned seq and timestamp.
   */
  append(now: number, encode: (seq: number, ts: number) => string): StoredMessage {
    const seq = this.#latest + 1;
    const frame = encode(seq, now);
    this.#store.transactionSync(() => {
      const { sql } = this.#store;
      sql.exec(`INSERT INTO messages (seq, ts, frame) VALUES (?, ?, ?)`, seq, now, frame);
      sql.exec(
        `INSERT INTO room_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
        LATEST_SEQ_KEY,
        seq,
      );
      sql.exec(`DELETE FROM messages WHERE seq <= ?`, seq - this.#retention.maxMessages);
      sql.exec(`DELETE FROM messages WHERE ts < ?`, now - this.#retention.maxAgeMs);
    });
    // Only after the transaction committed: a failed write must not burn a sequence number.
    this.#latest = seq;
    return { seq, ts: now, frame };
  }

  /** Drops messages older than the age limit (appends prune too; this covers a room that went quiet). */
  pruneExpired(now: number): void {
    this.#store.sql.exec(`DELETE FROM messages WHERE ts < ?`, now - this.#retention.maxAgeMs);
  }

  /** The first retained sequence number; latestSeq + 1 when nothing is retained. */
  oldestSeq(): number {
    const row = this.#store.sql.exec<{ seq: number | null }>(`SELECT MIN(seq) AS seq FROM messages`).toArray()[0];
    return row?.seq ?? this.#latest + 1;
  }

  /** Retained messages with seq > `after`, in order, at most `limit` (default: everything retained). */
  after(after: number, limit = this.#retention.maxMessages): StoredMessage[] {
    return this.#store.sql
      .exec<{ seq: number; ts: number; frame: string }>(
        `SELECT seq, ts, frame FROM messages WHERE seq > ? ORDER BY seq LIMIT ?`,
        after,
        limit,
      )
      .toArray();
  }
}

/**
 * Where a client that last saw `since` resumes. Messages after `since` are complete when
 * `since >= oldest - 1`; otherwise some were pruned and the client must be told (resync).
 * A `since` beyond the latest seq means the client's view does not belong to this room's log
 * (e.g. the room's storage was reset): it is resynced too, never silently skipped.
 */
export function resumePoint(since: number, latest: number, oldest: number): { from: number; resync: boolean } {
  if (since > latest || since < oldest - 1) return { from: oldest - 1, resync: true };
  return { from: since, resync: false };
}
