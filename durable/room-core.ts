/**
 * One realtime room, written once for every runtime: presence, rate buckets, the message log,
 * connect / replay / leave, publish, slow consumers and capacity. A host owns the sockets and the
 * clock and the core owns every rule: durable/room-object.ts (a Durable Object, hibernation API)
 * and runtimes/local-rooms.ts (Node, Deno and Bun, in process) are thin hosts of it, and a room
 * linked through Redis off Workers is one more (see docs/realtime.md, "Room core").
 *
 * Work is done in ticks. Publishes within one tick are stored in ONE transaction (group commit)
 * and reach each socket as one frame (a `batch` when there are several); joins and leaves are
 * coalesced into one presence `diff` per presence interval. Sends follow the write that stored
 * them: on Workers the output gate holds them until it is durable.
 */
import {
  CLOSE_CODES,
  ERROR_CODES,
  encodeBatchFrame,
  encodeServerFrame,
  type PresenceUser,
  type ServerFrame,
} from "../protocol/frames.ts";
import type { Logger } from "../src/core/logger.ts";
import type { SocketAttachment } from "./attachment.ts";
import type { ConnectRefusal } from "./connect-request.ts";
import { MessageLog, resumePoint, type SqlStore, type StoredMessage } from "./message-log.ts";
import { Presence, PresenceLedger } from "./presence.ts";
import { fullBucket, type TakeResult, takeToken, type TokenBucket } from "./rate-limit.ts";
import type { RoomLimits } from "./room-limits.ts";
import {
  type AcceptedPublish,
  checkPublish,
  decideClientFrame,
  type HistoryPage,
  messageFrame,
  type PublishOutcome,
  type PublishRequest,
  type RoomChecks,
  toHistoryItem,
} from "./room-logic.ts";

/**
 * What a room needs from the runtime holding its sockets. `S` is the host's socket handle. Every
 * method may be called from inside a tick; none may throw for a socket that is closing (the core
 * catches anyway).
 */
export interface RoomHost<S> {
  /** The room's open sockets (a Durable Object: the accepted ones still OPEN, hibernated or not). */
  sockets(): Iterable<S>;
  /** The open sockets of one session (a Durable Object finds them by tag). */
  socketsOfSession(sessionId: string): Iterable<S>;
  attachment(socket: S): SocketAttachment | undefined;
  setAttachment(socket: S, attachment: SocketAttachment): void;
  send(socket: S, text: string): void;
  close(socket: S, code: number, reason: string): void;
  /** Bytes queued on the socket and not yet sent; undefined where the runtime cannot tell (Workers). */
  bufferedAmount(socket: S): number | undefined;
  /** Runs `run` once after `delayMs`. A Durable Object stays in memory until it has run. */
  schedule(delayMs: number, run: () => void): void;
}

/**
 * Where a room keeps what must outlive its memory: the message log (append a batch → seqs, read
 * after a seq, retention) and the presence ledger, both over one SQL store (a Durable Object's
 * SQLite storage, or node:sqlite in memory in process).
 */
export function roomStorage(
  store: SqlStore,
  limits: RoomLimits,
): { log: MessageLog; ledger: PresenceLedger; transaction: SqlStore["transactionSync"] } {
  return {
    transaction: (closure) => store.transactionSync(closure),
    log: new MessageLog(store, {
      maxMessages: limits.ROOM_RETENTION_MESSAGES,
      maxAgeMs: limits.ROOM_RETENTION_SECONDS * 1000,
      maxBytes: limits.ROOM_RETENTION_BYTES,
    }),
    ledger: new PresenceLedger(store),
  };
}

/** HTTP publish buckets are trimmed past this many users (only full buckets are dropped). */
const MAX_HTTP_BUCKETS = 10_000;
/**
 * The shortest presence interval: a quiet room announces a change within about this long. While
 * diffs keep coming back to back the interval doubles up to ROOM_PRESENCE_INTERVAL_MS, so a member
 * of a filling room gets a handful of diffs, not one per join.
 */
const MIN_PRESENCE_INTERVAL_MS = 50;
/**
 * The presence interval grows by this much per connection, so a room sends at most about
 * 1000 / 5 = 200 presence frames a second in total, whatever its size (until the interval's cap).
 */
const PRESENCE_MS_PER_CONNECTION = 5;
/** Slow-consumer bound, in multiples of the retention bytes: room for a full replay plus live traffic. */
const SLOW_CONSUMER_RETENTIONS = 2;

/** How a queued publish is answered once its tick stored it (or failed to). */
type Settle = (result: { ok: true; seq: number } | { ok: false; error: unknown }) => void;

interface QueuedPublish {
  publish: AcceptedPublish;
  settle: Settle;
}

export interface RoomCoreOptions<S> {
  host: RoomHost<S>;
  log: MessageLog;
  ledger: PresenceLedger;
  /** Runs the table creation in one transaction (one commit for a new object instead of several). */
  transaction?: SqlStore["transactionSync"];
  limits: RoomLimits;
  logger: Logger;
  /** Called once for every socket the room forgot (closed, errored, revoked, too slow). */
  onDropped?: (attachment: SocketAttachment) => void;
}

export class RoomCore<S> {
  readonly #host: RoomHost<S>;
  readonly #log: MessageLog;
  readonly #ledger: PresenceLedger;
  readonly #limits: RoomLimits;
  readonly #logger: Logger;
  readonly #onDropped: (attachment: SocketAttachment) => void;
  readonly #checks: RoomChecks;
  readonly #transaction: SqlStore["transactionSync"];
  // Rebuilt lazily from the sockets' attachments after every wake-up (hibernation, eviction).
  #presence: Presence | undefined;
  // Users whose presence changed since the last diff (their final status goes out in the next one).
  readonly #changed = new Set<string>();
  #lastDiffAt = Number.NEGATIVE_INFINITY;
  // Doubles while diffs keep coming back to back (a room filling or emptying), resets once quiet.
  #diffBackoffMs = MIN_PRESENCE_INTERVAL_MS;
  // Publish rate buckets by connection id (sockets) or `http:<user>`. Lost on eviction, which only
  // refills them: an evicted room has been idle longer than a bucket takes to refill.
  readonly #buckets = new Map<string, TokenBucket>();
  #queue: QueuedPublish[] = [];
  // The earliest pending tick, so a burst schedules one timer rather than one per event.
  #tickAt: number | undefined;

  constructor(options: RoomCoreOptions<S>) {
    this.#host = options.host;
    this.#log = options.log;
    this.#ledger = options.ledger;
    this.#limits = options.limits;
    this.#logger = options.logger;
    this.#onDropped = options.onDropped ?? (() => {});
    this.#transaction = options.transaction ?? ((closure) => closure());
    this.#checks = { maxFrameBytes: options.limits.ROOM_MAX_FRAME_BYTES, take: (key) => this.#take(key) };
  }

  /** Creates the tables (idempotent). A Durable Object calls it inside blockConcurrencyWhile. */
  init(): void {
    this.#transaction(() => {
      this.#log.init();
      this.#ledger.init();
    });
  }

  // ---------------------------------------------------------------- connect, frames, leave

  /** Why a connect of `userId` would be refused now (capacity), or undefined to admit it. */
  refusal(userId: string): ConnectRefusal | undefined {
    const presence = this.#presenceNow();
    if (presence.connectionCount >= this.#limits.ROOM_MAX_CONNECTIONS) return "room_full";
    if (presence.connectionsOf(userId) >= this.#limits.ROOM_MAX_CONNECTIONS_PER_USER) return "too_many_connections";
    return undefined;
  }

  /**
   * Takes in a socket the host just accepted: stores its identity, then welcome, presence sync and
   * the replay after `since`, synchronously, so the replay reaches it before any live message. Its
   * join goes to the others in the next presence diff.
   */
  admit(socket: S, attachment: SocketAttachment, since: number | undefined): void {
    const presence = this.#presenceNow();
    this.#host.setAttachment(socket, attachment);
    if (presence.add(attachment.connectionId, attachment.userId)) this.#presenceChanged(attachment.userId);
    this.#log.pruneExpired(Date.now());
    const latest = this.#log.latestSeq;
    const send = (frame: ServerFrame) => this.#host.send(socket, encodeServerFrame(frame));
    send({
      type: "welcome",
      room: attachment.room,
      connectionId: attachment.connectionId,
      user: { id: attachment.userId },
      seq: latest,
    });
    send({ type: "presence", action: "sync", users: presence.users() });
    if (since === undefined) return;
    const { from, resync } = resumePoint(since, latest, this.#log.oldestSeq());
    if (resync) {
      send({
        type: "error",
        code: ERROR_CODES.resyncRequired,
        message: `Messages after ${since} are no longer retained; replaying from ${from + 1}.`,
        oldestSeq: from + 1,
        seq: latest,
      });
    }
    for (const message of this.#log.after(from)) this.#host.send(socket, message.frame);
  }

  /** One frame from a socket: answered at once (pong, errors) or queued for the tick (publish, then ack). */
  receive(socket: S, message: string | ArrayBuffer): void {
    const attachment = typeof message === "string" ? this.#host.attachment(socket) : undefined;
    const decision = decideClientFrame(message, attachment, this.#checks);
    if (decision.kind === "answer") {
      this.#host.send(socket, decision.text);
      return;
    }
    const idField = decision.id === undefined ? {} : { id: decision.id };
    this.#enqueue(decision.publish, (result) => {
      const frame: ServerFrame = result.ok
        ? { type: "ack", ...idField, seq: result.seq }
        : { type: "error", code: ERROR_CODES.internal, message: "The room could not store the message.", ...idField };
      this.#trySend(socket, encodeServerFrame(frame));
    });
  }

  /**
   * Forgets a socket: presence (its user's leave goes out in the next diff when it was their last),
   * rate bucket, and the host's `onDropped`. Once per socket: the mark lives in the attachment, so
   * it holds across hibernation too. Returns whether this call dropped it.
   */
  drop(socket: S): boolean {
    const attachment = this.#host.attachment(socket);
    if (!attachment || attachment.dropped) return false;
    // Presence first: a rebuild right after a wake-up skips sockets no longer open, and this one
    // is counted below either way.
    const presence = this.#presenceNow();
    try {
      this.#host.setAttachment(socket, { ...attachment, dropped: true });
    } catch {
      // The runtime already released the socket; it cannot be seen again either way.
    }
    this.#buckets.delete(attachment.connectionId);
    presence.add(attachment.connectionId, attachment.userId);
    const left = presence.remove(attachment.connectionId);
    if (left !== undefined) this.#presenceChanged(left);
    this.#onDropped(attachment);
    return true;
  }

  /** Closes every socket of the session (revoked). Returns how many were closed. */
  closeSession(sessionId: string): number {
    let closed = 0;
    for (const socket of [...this.#host.socketsOfSession(sessionId)]) {
      try {
        this.drop(socket);
        this.#host.close(socket, CLOSE_CODES.sessionRevoked, "session revoked");
        closed++;
      } catch (error) {
        this.#logger.warn("closing a revoked socket failed", { error });
      }
    }
    return closed;
  }

  /** Closes every socket (the process is shutting down); nothing is announced. */
  closeAll(code: number, reason: string): void {
    for (const socket of [...this.#host.sockets()]) {
      try {
        this.#host.close(socket, code, reason);
      } catch {
        // already closed
      }
    }
  }

  get connectionCount(): number {
    return this.#presenceNow().connectionCount;
  }

  // ---------------------------------------------------------------- server side

  /** Stores the message (in the next tick's transaction), sends it to every member, and returns its seq. */
  publish(request: PublishRequest): Promise<PublishOutcome> {
    const checked = checkPublish(request, this.#checks);
    if (!checked.ok) return Promise.resolve(checked);
    return new Promise((resolve, reject) => {
      this.#enqueue(checked.publish, (result) => (result.ok ? resolve(result) : reject(result.error)));
    });
  }

  /** Retained messages after `since`, oldest first, at most `limit`. */
  history(since: number, limit: number): HistoryPage {
    this.#log.pruneExpired(Date.now());
    const items = this.#log.after(since, limit).map((m) => toHistoryItem(m.frame));
    return { items, seq: this.#log.latestSeq, oldestSeq: this.#log.oldestSeq() };
  }

  presenceUsers(): PresenceUser[] {
    return this.#presenceNow().users();
  }

  // ---------------------------------------------------------------- the tick

  /**
   * One tick: stores every queued publish in one transaction, computes the presence diff when one
   * is due, sends each socket the diff and the messages (one frame each), then acks. Never throws.
   */
  flush(): void {
    this.#tickAt = undefined;
    try {
      this.#flush();
    } catch (error) {
      this.#logger.error("room tick failed", { error });
    }
    if (this.#queue.length > 0) this.#scheduleTick(this.#limits.ROOM_TICK_MS);
    else if (this.#changed.size > 0) this.#scheduleTick(Math.max(0, this.#nextDiffAt() - Date.now()));
  }

  #flush(): void {
    const queued = this.#queue;
    this.#queue = [];
    let stored: StoredMessage[] = [];
    if (queued.length > 0) {
      try {
        stored = this.#log.appendBatch(
          Date.now(),
          queued.map(
            ({ publish }) =>
              (seq: number, ts: number) =>
                messageFrame(seq, publish.from, publish.dataText, ts),
          ),
        );
      } catch (error) {
        // Nothing was stored, so nothing is sent: each publisher hears of the failure instead.
        this.#logger.error("storing messages failed", { error, count: queued.length });
        for (const q of queued) q.settle({ ok: false, error });
        queued.length = 0;
      }
    }
    const diff = this.#changed.size > 0 && Date.now() >= this.#nextDiffAt() ? this.#takeDiff() : undefined;
    const messages =
      stored.length === 0
        ? undefined
        : stored.length === 1
          ? (stored[0] as StoredMessage).frame
          : encodeBatchFrame(stored.map((m) => m.frame));
    if (diff !== undefined || messages !== undefined) this.#fanOut(diff, messages);
    // Acks after the messages: a publisher sees its own message before its ack, as every member does.
    for (const [i, q] of queued.entries()) q.settle({ ok: true, seq: (stored[i] as StoredMessage).seq });
  }

  #fanOut(diff: string | undefined, messages: string | undefined): void {
    const maxBuffered = SLOW_CONSUMER_RETENTIONS * this.#limits.ROOM_RETENTION_BYTES;
    for (const socket of [...this.#host.sockets()]) {
      const buffered = this.#host.bufferedAmount(socket);
      if (buffered !== undefined && buffered > maxBuffered) {
        // A member that cannot keep up is closed rather than buffered without bound; it resumes with ?since.
        try {
          this.drop(socket);
          this.#host.close(socket, 1013, "too slow");
        } catch {
          // Closing already.
        }
        continue;
      }
      if (diff !== undefined) this.#trySend(socket, diff);
      if (messages !== undefined) this.#trySend(socket, messages);
    }
  }

  #takeDiff(): string {
    const presence = this.#presenceNow();
    const joined: string[] = [];
    const left: string[] = [];
    for (const id of [...this.#changed].sort()) (presence.has(id) ? joined : left).push(id);
    this.#changed.clear();
    const now = Date.now();
    const busy = now - this.#lastDiffAt <= 2 * this.#diffBackoffMs;
    this.#diffBackoffMs = busy
      ? Math.min(this.#limits.ROOM_PRESENCE_INTERVAL_MS, this.#diffBackoffMs * 2)
      : MIN_PRESENCE_INTERVAL_MS;
    this.#lastDiffAt = now;
    this.#ledger.record(joined, left);
    return encodeServerFrame({
      type: "presence",
      action: "diff",
      joined: joined.map((id) => ({ id })),
      left: left.map((id) => ({ id })),
    });
  }

  #nextDiffAt(): number {
    const connections = this.#presence?.connectionCount ?? 0;
    const interval = Math.min(
      this.#limits.ROOM_PRESENCE_INTERVAL_MS,
      Math.max(this.#diffBackoffMs, connections * PRESENCE_MS_PER_CONNECTION),
    );
    return this.#lastDiffAt + interval;
  }

  #presenceChanged(userId: string): void {
    this.#changed.add(userId);
    this.#scheduleTick(Math.max(0, this.#nextDiffAt() - Date.now()));
  }

  #enqueue(publish: AcceptedPublish, settle: Settle): void {
    this.#queue.push({ publish, settle });
    this.#scheduleTick(this.#limits.ROOM_TICK_MS);
  }

  #scheduleTick(delayMs: number): void {
    const at = Date.now() + delayMs;
    if (this.#tickAt !== undefined && this.#tickAt <= at) return;
    this.#tickAt = at;
    this.#host.schedule(delayMs, () => this.flush());
  }

  #trySend(socket: S, text: string): void {
    try {
      this.#host.send(socket, text);
    } catch {
      // A socket closing right now; its close event cleans up.
    }
  }

  // ---------------------------------------------------------------- presence and buckets

  /**
   * Presence, rebuilt from the open sockets' attachments when this instance has none yet; what the
   * ledger says was last announced but differs now (a diff lost to eviction) goes out next.
   */
  #presenceNow(): Presence {
    if (this.#presence) return this.#presence;
    const presence = new Presence();
    for (const socket of this.#host.sockets()) {
      const attachment = this.#host.attachment(socket);
      if (attachment && !attachment.dropped) presence.add(attachment.connectionId, attachment.userId);
    }
    this.#presence = presence;
    const announced = this.#ledger.load();
    for (const id of announced) if (!presence.has(id)) this.#presenceChanged(id);
    for (const { id } of presence.users()) if (!announced.has(id)) this.#presenceChanged(id);
    return presence;
  }

  #take(key: string): TakeResult {
    const limit = { ratePerSecond: this.#limits.ROOM_PUBLISH_RATE_PER_SECOND, burst: this.#limits.ROOM_PUBLISH_BURST };
    const now = Date.now();
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      if (this.#buckets.size >= MAX_HTTP_BUCKETS) this.#trimBuckets(now);
      bucket = fullBucket(limit, now);
      this.#buckets.set(key, bucket);
    }
    return takeToken(bucket, limit, now);
  }

  /** Drops HTTP buckets that have refilled (forgetting them changes nothing). */
  #trimBuckets(now: number): void {
    const refillMs = (this.#limits.ROOM_PUBLISH_BURST / this.#limits.ROOM_PUBLISH_RATE_PER_SECOND) * 1000;
    for (const [key, bucket] of this.#buckets) {
      if (key.startsWith("http:") && now - bucket.updatedAt >= refillMs) this.#buckets.delete(key);
    }
  }
}
