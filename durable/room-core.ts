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
import type { Logger } from "../common/logger.ts";
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
  encodeMessageFrame,
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

/**
 * A log shared with other hosts of the same room (the Redis log of linked instances off Workers,
 * runtimes/linked/): it assigns the seqs, and every stored message, this host's own included, comes
 * back through `RoomCore.deliver()` in seq order, so each member sees one order whoever published.
 */
export interface SharedRoomLog {
  /** Stores the publishes atomically under consecutive seqs; resolves with the first one. */
  appendBatch(publishes: readonly AcceptedPublish[]): Promise<{ firstSeq: number }>;
  /** Retained messages after `since` (at most `limit`), with the latest and the oldest retained seq. */
  read(since: number, limit: number): Promise<{ messages: StoredMessage[]; latestSeq: number; oldestSeq: number }>;
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
/**
 * Shared log: how long a resuming socket waits for this host's delivery to reach what the client saw
 * elsewhere (normally milliseconds); past it the socket is closed with 1013 and the client retries.
 */
const SHARED_REPLAY_WAIT_MS = 10_000;
/** Slow-consumer bound, in multiples of the retention bytes: room for a full replay plus live traffic. */
const SLOW_CONSUMER_RETENTIONS = 2;

export interface RoomFootprint {
  connections: number;
  users: number;
  /** Users whose presence changed since the last diff. */
  changedUsers: number;
  /** Publish rate buckets (one per publishing socket, and per HTTP publisher up to a bound). */
  buckets: number;
  queuedPublishes: number;
  replaying: number;
  waitingAcks: number;
  remoteUsers: number;
}

/** How a queued publish is answered once its tick stored it (or failed to). */
type Settle = (result: { ok: true; seq: number } | { ok: false; error: unknown }) => void;

interface QueuedPublish {
  publish: AcceptedPublish;
  settle: Settle;
}

export interface RoomCoreOptions<S> {
  host: RoomHost<S>;
  /** The room's own log (synchronous, in its storage), or a log shared with other hosts. */
  log: MessageLog | SharedRoomLog;
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
  readonly #log: MessageLog | undefined;
  readonly #shared: SharedRoomLog | undefined;
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
  // Shared log only: the last seq delivered to the members (undefined while no member is here to
  // deliver to), sockets still being replayed to, acks waiting for their message to be delivered,
  // and other hosts' members (user id -> connections there).
  #delivered: number | undefined;
  readonly #replaying = new Set<S>();
  #waiting: Array<{ seq: number; run: () => void }> = [];
  readonly #remote = new Map<string, number>();

  constructor(options: RoomCoreOptions<S>) {
    this.#host = options.host;
    this.#log = options.log instanceof MessageLog ? options.log : undefined;
    this.#shared = options.log instanceof MessageLog ? undefined : options.log;
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
      this.#log?.init();
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
  admit(socket: S, attachment: SocketAttachment, since: number | undefined): void | Promise<void> {
    const presence = this.#presenceNow();
    this.#host.setAttachment(socket, attachment);
    if (presence.add(attachment.connectionId, attachment.userId) && !this.#remote.has(attachment.userId)) {
      this.#presenceChanged(attachment.userId);
    }
    if (this.#shared) return this.#admitShared(socket, attachment, since, this.#shared);
    const log = this.#log as MessageLog;
    log.pruneExpired(Date.now());
    const latest = log.latestSeq;
    const resume = since === undefined ? undefined : resumePoint(since, latest, log.oldestSeq());
    this.#greet(socket, attachment, latest, since, resume);
    if (resume) for (const message of log.after(resume.from)) this.#host.send(socket, message.frame);
  }

  /** Welcome, presence sync and (when resuming past retention) the resync signal. */
  #greet(
    socket: S,
    attachment: SocketAttachment,
    latest: number,
    since: number | undefined,
    resume: { from: number; resync: boolean } | undefined,
  ): void {
    const send = (frame: ServerFrame) => this.#host.send(socket, encodeServerFrame(frame));
    send({
      type: "welcome",
      room: attachment.room,
      connectionId: attachment.connectionId,
      user: { id: attachment.userId },
      seq: latest,
    });
    // The members' list is encoded once per presence change, not once per connect (room-core, presence.ts).
    this.#host.send(
      socket,
      this.#remote.size === 0
        ? this.#presenceNow().syncFrame()
        : encodeServerFrame({ type: "presence", action: "sync", users: this.presenceUsers() }),
    );
    if (resume?.resync) {
      send({
        type: "error",
        code: ERROR_CODES.resyncRequired,
        message: `Messages after ${since} are no longer retained; replaying from ${resume.from + 1}.`,
        oldestSeq: resume.from + 1,
        seq: latest,
      });
    }
  }

  /**
   * Admission over a shared log: the socket gets no live frame until its replay is complete. The
   * replay is read from the log up to what this host has delivered (waiting for the delivery to
   * reach what the client already saw elsewhere), then sent in the same synchronous step that makes
   * the socket live, so it sees every message once, in order. The host must have called
   * `startDelivery` first.
   */
  async #admitShared(socket: S, attachment: SocketAttachment, since: number | undefined, log: SharedRoomLog) {
    this.#replaying.add(socket);
    const live = () => this.#replaying.has(socket) && this.#host.attachment(socket)?.dropped !== true;
    try {
      let resume: { from: number; resync: boolean } | undefined;
      const replay: StoredMessage[] = [];
      if (since !== undefined) {
        const first = await log.read(since, this.#limits.ROOM_RETENTION_MESSAGES);
        resume = resumePoint(since, first.latestSeq, first.oldestSeq);
        const page = resume.from === since ? first : await log.read(resume.from, this.#limits.ROOM_RETENTION_MESSAGES);
        replay.push(...page.messages);
        // Until this host delivered at least what the read saw, then read what it delivered beyond.
        for (;;) {
          const last = replay.at(-1)?.seq ?? resume.from;
          if (!(await this.#deliveredAtLeast(last, SHARED_REPLAY_WAIT_MS))) {
            throw new Error(`delivery did not reach seq ${last} within ${SHARED_REPLAY_WAIT_MS} ms`);
          }
          if (!live()) return;
          if ((this.#delivered ?? 0) <= last) break;
          const more = await log.read(last, this.#limits.ROOM_RETENTION_MESSAGES);
          if (more.messages.length === 0) break;
          replay.push(...more.messages);
        }
      }
      if (!live()) return;
      const delivered = this.#delivered ?? 0;
      this.#greet(socket, attachment, delivered, since, resume);
      for (const message of replay) if (message.seq <= delivered) this.#host.send(socket, message.frame);
      this.#replaying.delete(socket);
    } catch (error) {
      this.#logger.warn("replay from the shared log failed; closing the socket", { error });
      this.drop(socket);
      try {
        this.#host.close(socket, 1013, "try again");
      } catch {
        // closing already
      }
    }
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
    this.#replaying.delete(socket);
    presence.add(attachment.connectionId, attachment.userId);
    const left = presence.remove(attachment.connectionId);
    if (left !== undefined && !this.#remote.has(left)) this.#presenceChanged(left);
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

  /**
   * How much the room holds in memory, per structure (entries, not bytes). Everything here is
   * bounded by the sockets open now, not by how many came and went: tests assert that under churn.
   */
  footprint(): RoomFootprint {
    const presence = this.#presenceNow();
    return {
      connections: presence.connectionCount,
      users: presence.userCount,
      changedUsers: this.#changed.size,
      buckets: this.#buckets.size,
      queuedPublishes: this.#queue.length,
      replaying: this.#replaying.size,
      waitingAcks: this.#waiting.length,
      remoteUsers: this.#remote.size,
    };
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

  /** Retained messages after `since`, oldest first, at most `limit` (the room's own log). */
  history(since: number, limit: number): HistoryPage {
    const log = this.#log as MessageLog;
    log.pruneExpired(Date.now());
    const items = log.after(since, limit).map((m) => toHistoryItem(m.frame));
    return { items, seq: log.latestSeq, oldestSeq: log.oldestSeq() };
  }

  /** `history` for either log. */
  async readHistory(since: number, limit: number): Promise<HistoryPage> {
    if (!this.#shared) return this.history(since, limit);
    const page = await this.#shared.read(since, limit);
    return {
      items: page.messages.map((m) => toHistoryItem(m.frame)),
      seq: page.latestSeq,
      oldestSeq: page.oldestSeq,
    };
  }

  /** Present users: this host's members, and other hosts' (shared log) as last reported. */
  presenceUsers(): PresenceUser[] {
    const users = this.#presenceNow().users();
    if (this.#remote.size === 0) return users;
    const counts = new Map(users.map((u) => [u.id, u.connections]));
    for (const [id, n] of this.#remote) counts.set(id, (counts.get(id) ?? 0) + n);
    return [...counts.entries()]
      .map(([id, connections]) => ({ id, connections }))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  // ---------------------------------------------------------------- shared log

  /** Shared log: this host's members have seen everything up to `seq`; what follows comes through `deliver`. */
  startDelivery(seq: number): void {
    this.#delivered = seq;
  }

  /** Shared log: nobody here to deliver to any more; waiting acks go out (their messages are stored). */
  stopDelivery(): void {
    this.#delivered = undefined;
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const w of waiting) w.run();
  }

  /** Shared log: the next messages in seq order (any host's), ending at `lastSeq`; sent as one frame. */
  deliver(frames: readonly string[], lastSeq: number): void {
    if (this.#delivered === undefined || lastSeq <= this.#delivered || frames.length === 0) return;
    this.#fanOut(undefined, frames.length === 1 ? (frames[0] as string) : encodeBatchFrame([...frames]));
    this.#delivered = lastSeq;
    const due = this.#waiting.filter((w) => w.seq <= lastSeq);
    this.#waiting = this.#waiting.filter((w) => w.seq > lastSeq);
    for (const w of due) w.run();
  }

  /**
   * Shared log: the users present on other hosts (user id -> their connections there). Changes go
   * out in the next presence diff, as local joins and leaves do.
   */
  setRemotePresence(remote: ReadonlyMap<string, number>): void {
    const presence = this.#presenceNow();
    for (const id of new Set([...this.#remote.keys(), ...remote.keys()])) {
      const was = this.#remote.has(id);
      const is = (remote.get(id) ?? 0) > 0;
      if (is) this.#remote.set(id, remote.get(id) as number);
      else this.#remote.delete(id);
      if (was !== is && !presence.has(id)) this.#presenceChanged(id);
    }
  }

  /** Runs `run` once this host delivered `seq` (at once when it has, or delivers to nobody). */
  #afterDelivered(seq: number, run: () => void): void {
    if (this.#delivered === undefined || this.#delivered >= seq) run();
    else this.#waiting.push({ seq, run });
  }

  /** Whether this host delivered `seq` within `timeoutMs`. */
  #deliveredAtLeast(seq: number, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.#afterDelivered(seq, () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
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
    if (queued.length > 0 && this.#shared) {
      this.#appendShared(queued.splice(0), this.#shared); // acked once delivered, below in #appendShared
    } else if (queued.length > 0) {
      try {
        stored = (this.#log as MessageLog).appendBatch(
          Date.now(),
          queued.map(
            ({ publish }) =>
              (seq: number, ts: number) =>
                encodeMessageFrame(seq, publish.from, publish.dataText, ts),
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

  /**
   * One append per tick to the shared log; the messages come back through `deliver` (to every
   * member, in seq order) and each ack goes out once its message has.
   */
  #appendShared(queued: QueuedPublish[], log: SharedRoomLog): void {
    log.appendBatch(queued.map((q) => q.publish)).then(
      ({ firstSeq }) => {
        for (const [i, q] of queued.entries()) {
          const seq = firstSeq + i;
          this.#afterDelivered(seq, () => q.settle({ ok: true, seq }));
        }
      },
      (error: unknown) => {
        this.#logger.error("storing messages failed", { error, count: queued.length });
        for (const q of queued) q.settle({ ok: false, error });
      },
    );
  }

  #fanOut(diff: string | undefined, messages: string | undefined): void {
    const maxBuffered = SLOW_CONSUMER_RETENTIONS * this.#limits.ROOM_RETENTION_BYTES;
    // Per socket only what it needs: this runs once per socket per tick (it is most of a tick's own CPU).
    const host = this.#host;
    const replaying = this.#replaying.size > 0 ? this.#replaying : undefined;
    // No copy: a socket dropped meanwhile (too slow) leaves a host's Map or Set safely mid-iteration.
    for (const socket of host.sockets()) {
      if (replaying?.has(socket)) continue; // its replay is read, and ends where live frames start
      const buffered = host.bufferedAmount(socket);
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
    for (const id of [...this.#changed].sort()) (presence.has(id) || this.#remote.has(id) ? joined : left).push(id);
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
