/**
 * The realtime rooms client: one room connection that survives network loss. Built on partysocket's
 * reconnecting WebSocket; works in browsers (global WebSocket) and Node (pass `WebSocket` from "ws").
 *
 * - The token provider runs before every (re)connect, so a reconnect never reuses an expired token.
 * - It resumes with `?since=<last seq seen>`: the room replays what was missed, in order, before live
 *   messages. Messages are delivered once each (deduplicated by seq) and never out of order; if the
 *   room no longer retains what was missed, a `resync` event says so before the replay continues.
 * - Frames are parsed with the same zod union the room uses (protocol/frames.ts).
 */
import ReconnectingWebSocket from "partysocket/ws";
import {
  ERROR_CODES,
  encodeClientFrame,
  type ErrorFrame,
  type MessageFrame,
  PING_FRAME,
  type PresenceFrame,
  type PublishFrame,
  parseServerFrame,
  ROOM_NAME_PATTERN,
  type WelcomeFrame,
} from "../protocol/frames.ts";

export interface RoomClientOptions {
  /** The service's base URL, e.g. `https://api.example.com` (ws/wss is derived from it). */
  url: string;
  room: string;
  /** Returns a current access token; called before every connect and reconnect. */
  token: () => string | Promise<string>;
  /** A WebSocket implementation: required in Node (`import { WebSocket } from "ws"`), optional in browsers. */
  WebSocket?: unknown;
  /** Resume after this seq on the first connect (e.g. one persisted from an earlier session). */
  since?: number;
  /** Keep-alive interval; a connection silent for two intervals is replaced. Default 25 s; 0 turns it off. */
  heartbeatMs?: number;
  /** How long `publish` waits for its ack. Default 10 s. */
  publishTimeoutMs?: number;
  /**
   * Reconnect backoff bounds (ms) and connect timeout, passed to partysocket. Both bounds are
   * scaled by a per-client random factor in [0.5, 1.5) (jitter), so a storm of reconnects spreads out.
   */
  minReconnectionDelay?: number;
  maxReconnectionDelay?: number;
  connectionTimeout?: number;
  /** Give up after this many consecutive failed connects. Default: never. */
  maxRetries?: number;
}

export interface RoomClientEvents {
  /** Each (re)connect: who the room thinks we are and its latest seq. */
  welcome: WelcomeFrame;
  /** A message, exactly once, in seq order. */
  message: MessageFrame;
  presence: PresenceFrame;
  /** The room no longer had everything after our last seq; messages from `oldestSeq` follow. */
  resync: { from: number; oldestSeq: number; latestSeq: number };
  /** An `error` frame from the room (resync is reported as `resync` instead). */
  error: ErrorFrame;
  open: undefined;
  /** The connection closed; it reconnects unless `close()` was called. 4401: the session was revoked. */
  close: { code: number; reason: string };
}

type Listener<T> = (event: T) => void;

/** A publish the room refused (rate_limited, too_large, read_only, ...) or that got no ack. */
export class RoomPublishError extends Error {
  readonly code: string;
  readonly retryAfterMs: number | undefined;
  constructor(code: string, message: string, retryAfterMs?: number) {
    super(message);
    this.name = "RoomPublishError";
    this.code = code;
    this.retryAfterMs = retryAfterMs;
  }
}

interface PendingPublish {
  resolve: (value: { seq: number }) => void;
  reject: (error: RoomPublishError) => void;
  timer: ReturnType<typeof setTimeout>;
}

const DEFAULT_HEARTBEAT_MS = 25_000;
const DEFAULT_PUBLISH_TIMEOUT_MS = 10_000;

export class RoomClient {
  readonly room: string;
  readonly #options: RoomClientOptions;
  readonly #socket: ReconnectingWebSocket;
  readonly #listeners = new Map<keyof RoomClientEvents, Set<Listener<never>>>();
  readonly #pending = new Map<string, PendingPublish>();
  #lastSeq: number | undefined;
  #welcomed = false;
  #lastReceivedAt = 0;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #publishCounter = 0;
  #closed = false;
  #members = new Set<string>();

  constructor(options: RoomClientOptions) {
    if (!ROOM_NAME_PATTERN.test(options.room)) throw new TypeError(`"${options.room}" is not a valid room name`);
    this.room = options.room;
    this.#options = options;
    this.#lastSeq = options.since;
    // Jitter: each client scales its whole backoff by its own factor in [0.5, 1.5), so clients
    // dropped together (a deploy, a network blip) do not all come back in the same instant.
    const jitter = 0.5 + Math.random();
    this.#socket = new ReconnectingWebSocket(() => this.#nextUrl(), undefined, {
      WebSocket: options.WebSocket,
      minReconnectionDelay: Math.round((options.minReconnectionDelay ?? 500) * jitter),
      maxReconnectionDelay: Math.round((options.maxReconnectionDelay ?? 10_000) * jitter),
      connectionTimeout: options.connectionTimeout ?? 10_000,
      maxRetries: options.maxRetries ?? Number.POSITIVE_INFINITY,
      // Publishes are only sent on an open socket (see publish): nothing is queued across connections.
      maxEnqueuedMessages: 0,
    });
    this.#socket.addEventListener("open", () => {
      this.#welcomed = false;
      this.#lastReceivedAt = Date.now();
      this.#emit("open", undefined);
    });
    this.#socket.addEventListener("message", (event) => this.#onMessage(event.data));
    this.#socket.addEventListener("close", (event) => {
      this.#welcomed = false;
      this.#failPending("connection_lost", "The connection closed before the publish was acknowledged.");
      this.#emit("close", { code: event.code, reason: event.reason });
    });
    const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    if (heartbeatMs > 0) this.#heartbeat = setInterval(() => this.#beat(heartbeatMs), heartbeatMs);
  }

  /** The last message seq delivered (or the room's seq at first welcome); what a reconnect resumes after. */
  get lastSeq(): number | undefined {
    return this.#lastSeq;
  }

  /** The ids of the users in the room, as of the last presence frame (sync, then diffs applied). */
  get members(): ReadonlySet<string> {
    return this.#members;
  }

  /** True between a welcome and the next close. */
  get connected(): boolean {
    return this.#welcomed && this.#socket.readyState === ReconnectingWebSocket.OPEN;
  }

  on<K extends keyof RoomClientEvents>(event: K, listener: Listener<RoomClientEvents[K]>): () => void {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener as Listener<never>);
    return () => set.delete(listener as Listener<never>);
  }

  /**
   * Publishes `data` (any JSON value) and resolves with its seq once the room acked it. Rejects when
   * not connected, when the room refuses it, or when the connection drops first (the message may then
   * have been stored: retrying can publish it twice).
   */
  publish(data: unknown, options: { id?: string } = {}): Promise<{ seq: number }> {
    if (!this.connected) {
      return Promise.reject(new RoomPublishError("not_connected", "Not connected to the room."));
    }
    if (data === undefined) return Promise.reject(new TypeError("data must be a JSON value"));
    const id = options.id ?? `p${++this.#publishCounter}-${Date.now().toString(36)}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new RoomPublishError("timeout", "No ack from the room in time."));
      }, this.#options.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS);
      this.#pending.set(id, { resolve, reject, timer });
      this.#socket.send(encodeClientFrame({ type: "publish", data: data as PublishFrame["data"], id }));
    });
  }

  /** Drops the current connection and connects again (resuming from lastSeq). */
  reconnect(): void {
    if (!this.#closed) this.#socket.reconnect();
  }

  /** Closes for good: no more reconnects, pending publishes rejected. */
  close(): void {
    this.#closed = true;
    if (this.#heartbeat !== undefined) clearInterval(this.#heartbeat);
    this.#failPending("closed", "The client was closed.");
    this.#socket.close(1000, "client closed");
  }

  async #nextUrl(): Promise<string> {
    const token = await this.#options.token();
    const url = new URL(this.#options.url);
    url.protocol = url.protocol === "https:" || url.protocol === "wss:" ? "wss:" : "ws:";
    url.pathname = `${url.pathname.replace(/\/+$/, "")}/v1/rooms/${this.room}/ws`;
    url.search = "";
    url.searchParams.set("token", token);
    if (this.#lastSeq !== undefined) url.searchParams.set("since", String(this.#lastSeq));
    return url.toString();
  }

  #onMessage(raw: unknown): void {
    this.#lastReceivedAt = Date.now();
    if (typeof raw !== "string") return;
    const parsed = parseServerFrame(raw);
    if (!parsed.ok) {
      this.#emit("error", {
        type: "error",
        code: "client_invalid_frame",
        message: `Unreadable frame from the room (${parsed.reason}).`,
      });
      return;
    }
    const frame = parsed.frame;
    switch (frame.type) {
      case "welcome":
        this.#welcomed = true;
        // A fresh client starts at the room's present; a resuming one keeps its own position.
        if (this.#lastSeq === undefined) this.#lastSeq = frame.seq;
        this.#emit("welcome", frame);
        return;
      case "message":
        this.#onRoomMessage(frame);
        return;
      case "batch":
        // Several messages the room stored in one tick: delivered one by one, exactly as if sent apart.
        for (const message of frame.messages) if (!this.#onRoomMessage(message)) return;
        return;
      case "presence":
        if (frame.action === "sync") this.#members = new Set(frame.users.map((u) => u.id));
        else {
          for (const u of frame.left) this.#members.delete(u.id);
          for (const u of frame.joined) this.#members.add(u.id);
        }
        this.#emit("presence", frame);
        return;
      case "ack":
        if (frame.id !== undefined) this.#settle(frame.id, (p) => p.resolve({ seq: frame.seq }));
        return;
      case "error":
        this.#onError(frame);
        return;
      case "pong":
        return;
    }
  }

  #onRoomMessage(frame: MessageFrame): boolean {
    const last = this.#lastSeq;
    if (last !== undefined && frame.seq <= last) return true; // already delivered
    if (last !== undefined && frame.seq > last + 1) {
      // Never deliver past a hole: reconnect, and the room replays from the last delivered seq.
      this.#socket.reconnect();
      return false;
    }
    this.#lastSeq = frame.seq;
    this.#emit("message", frame);
    return true;
  }

  #onError(frame: ErrorFrame): void {
    if (frame.code === ERROR_CODES.resyncRequired && frame.oldestSeq !== undefined) {
      const from = this.#lastSeq ?? 0;
      this.#lastSeq = frame.oldestSeq - 1;
      this.#emit("resync", { from, oldestSeq: frame.oldestSeq, latestSeq: frame.seq ?? frame.oldestSeq - 1 });
      return;
    }
    if (frame.id !== undefined && this.#pending.has(frame.id)) {
      this.#settle(frame.id, (p) => p.reject(new RoomPublishError(frame.code, frame.message, frame.retryAfterMs)));
    }
    this.#emit("error", frame);
  }

  #beat(heartbeatMs: number): void {
    if (this.#socket.readyState !== ReconnectingWebSocket.OPEN) return;
    if (Date.now() - this.#lastReceivedAt > 2 * heartbeatMs) {
      // Nothing, not even a pong, for two intervals: the path is dead even if the socket thinks not.
      this.#socket.reconnect();
      return;
    }
    this.#socket.send(PING_FRAME);
  }

  #settle(id: string, action: (pending: PendingPublish) => void): void {
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    action(pending);
  }

  #failPending(code: string, message: string): void {
    for (const id of [...this.#pending.keys()]) this.#settle(id, (p) => p.reject(new RoomPublishError(code, message)));
  }

  #emit<K extends keyof RoomClientEvents>(event: K, payload: RoomClientEvents[K]): void {
    for (const listener of this.#listeners.get(event) ?? []) {
      try {
        (listener as Listener<RoomClientEvents[K]>)(payload);
      } catch (error) {
        // A throwing listener must not break delivery to the others or the connection.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}

/** Connects to a room; see RoomClient. */
export const connectRoom = (options: RoomClientOptions): RoomClient => new RoomClient(options);
