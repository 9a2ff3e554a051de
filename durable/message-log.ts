/**
 * The room's ordered message log in the object's SQLite storage. Each message gets the next
 * sequence number and is stored as its encoded `message` frame, so replay and broadcast send the
 * stored text as is. Retention is bounded by count, by age and by total size: the size bound is
 * what keeps a full replay (buffered on one socket) well inside the object's memory.
 */

export interface RetentionPolicy {
  maxMessages: number;
  maxAgeMs: number;
  /** Total UTF-8 bytes of retained frames. */
  maxBytes: number;
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
const RETAINED_BYTES_KEY = "retained_bytes";
const utf8 = new TextEncoder();

export class MessageLog {
  readonly #store: SqlStore;
  readonly #retention: RetentionPolicy;
  // Mirror room_meta (latest_seq, retained_bytes); loaded once in init(), written with every change.
  #latest = 0;
  #bytes = 0;

  constructor(store: SqlStore, retention: RetentionPolicy) {
    this.#store = store;
    this.#retention = retention;
  }

  /** Creates the tables (idempotent) and loads the latest sequence number. Call inside blockConcurrencyWhile. */
  init(): void {
    const { sql } = this.#store;
    sql.exec(
      `CREATE TABLE IF NOT EXISTS messages (seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, bytes INTEGER NOT NULL DEFAULT 0, frame TEXT NOT NULL)`,
    );
    // Objects created before the size bound existed have no bytes column; their rows count as 0
    // until retention drops them (count and age still bound them).
    const columns = sql.exec<{ name: string }>(`PRAGMA table_info(messages)`).toArray();
    if (!columns.some((c) => c.name === "bytes")) {
      sql.exec(`ALTER TABLE messages ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0`);
    }
    sql.exec(`CREATE INDEX IF NOT EXISTS messages_ts_idx ON messages (ts)`);
    // The latest seq lives apart from the messages: retention may delete every message, and the
    // next one must still continue the sequence rather than restart it.
    sql.exec(`CREATE TABLE IF NOT EXISTS room_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)`);
    this.#latest = this.#meta(LATEST_SEQ_KEY);
    this.#bytes = this.#meta(RETAINED_BYTES_KEY);
  }

  #meta(key: string): number {
    const row = this.#store.sql.exec<{ value: number }>(`SELECT value FROM room_meta WHERE key = ?`, key).toArray()[0];
    return row?.value ?? 0;
  }

  #setMeta(key: string, value: number): void {
    this.#store.sql.exec(
      `INSERT INTO room_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      key,
      value,
    );
  }

  /** Runs a DELETE … RETURNING bytes and returns how many bytes it freed. */
  #deleteReturningBytes(query: string, ...bindings: number[]): number {
    let freed = 0;
    for (const row of this.#store.sql.exec<{ bytes: number }>(`${query} RETURNING bytes`, ...bindings))
      freed += row.bytes;
    return freed;
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
    return this.appendBatch(now, [encode])[0] as StoredMessage;
  }

  /**
   * Stores several messages under consecutive seqs in ONE transaction (the room's group commit:
   * everything published within a tick costs one write), then prunes. All or nothing: a failed
   * write burns no sequence number.
   */
  appendBatch(now: number, encoders: ReadonlyArray<(seq: number, ts: number) => string>): StoredMessage[] {
    if (encoders.length === 0) return [];
    const first = this.#latest + 1;
    const stored = encoders.map((encode, i) => {
      const seq = first + i;
      const frame = encode(seq, now);
      return { seq, ts: now, frame, size: utf8.encode(frame).byteLength };
    });
    const last = first + stored.length - 1;
    const bytes = this.#store.transactionSync(() => {
      const { sql } = this.#store;
      let total = this.#bytes;
      for (const m of stored) {
        sql.exec(`INSERT INTO messages (seq, ts, bytes, frame) VALUES (?, ?, ?, ?)`, m.seq, now, m.size, m.frame);
        total += m.size;
      }
      total -= this.#deleteReturningBytes(`DELETE FROM messages WHERE seq <= ?`, last - this.#retention.maxMessages);
      total -= this.#deleteReturningBytes(`DELETE FROM messages WHERE ts < ?`, now - this.#retention.maxAgeMs);
      if (total > this.#retention.maxBytes) total -= this.#trimToSize(total, last);
      this.#setMeta(LATEST_SEQ_KEY, last);
      this.#setMeta(RETAINED_BYTES_KEY, total);
      return total;
    });
    // Only after the transaction committed: a failed write must not burn a sequence number.
    this.#latest = last;
    this.#bytes = bytes;
    return stored.map(({ seq, ts, frame }) => ({ seq, ts, frame }));
  }

  /** Deletes the oldest messages (never `keep`, the one just written) until `total` fits; returns bytes freed. */
  #trimToSize(total: number, keep: number): number {
    let freed = 0;
    let cutoff = 0;
    const oldest = this.#store.sql.exec<{ seq: number; bytes: number }>(
      `SELECT seq, bytes FROM messages WHERE seq < ? ORDER BY seq`,
      keep,
    );
    for (const row of oldest) {
      if (total - freed <= this.#retention.maxBytes) break;
      freed += row.bytes;
      cutoff = row.seq;
    }
    if (cutoff > 0) this.#store.sql.exec(`DELETE FROM messages WHERE seq <= ?`, cutoff);
    return freed;
  }

  /** Drops messages older than the age limit (appends prune too; this covers a room that went quiet). */
  pruneExpired(now: number): void {
    // A read first: every connect and history call prunes, and a write (even one deleting nothing)
    // would make the answer wait for a storage flush behind the output gate.
    const oldest = this.#store.sql.exec<{ ts: number | null }>(`SELECT MIN(ts) AS ts FROM messages`).toArray()[0];
    if (oldest?.ts === null || oldest?.ts === undefined || oldest.ts >= now - this.#retention.maxAgeMs) return;
    this.#store.transactionSync(() => {
      const freed = this.#deleteReturningBytes(`DELETE FROM messages WHERE ts < ?`, now - this.#retention.maxAgeMs);
      if (freed > 0) this.#setMeta(RETAINED_BYTES_KEY, this.#bytes - freed);
      this.#bytes -= freed;
    });
  }

  /** Total bytes of the retained frames. */
  get retainedBytes(): number {
    return this.#bytes;
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
