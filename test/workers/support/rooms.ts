/**
 * Helpers for the rooms tests: access tokens for made-up users (rooms never read the users table,
 * so no rows are needed), real WebSockets through the Worker, and a frame collector to await on.
 */
import { env, exports } from "cloudflare:workers";
import { type ServerFrame, parseServerFrame } from "../../../protocol/frames.ts";
import { configFor } from "../../../src/core/config.ts";
import { issueAccessToken } from "../../../src/features/auth/access-token.ts";

export interface TestUser {
  userId: string;
  sessionId: string;
  roles: string[];
  token: string;
}

export async function signIn(
  options: { userId?: string; sessionId?: string; roles?: string[] } = {},
): Promise<TestUser> {
  const userId = options.userId ?? crypto.randomUUID();
  const sessionId = options.sessionId ?? crypto.randomUUID();
  const roles = options.roles ?? ["user"];
  const { token } = await issueAccessToken({ userId, roles, sessionId }, configFor(env));
  return { userId, sessionId, roles, token };
}

/** A room name no other test uses: storage is shared across tests in a run. */
export const uniqueRoom = (prefix = "room"): string => `${prefix}-${crypto.randomUUID().slice(0, 8)}`;

/**
 * The first request of a test file loads the whole Worker (seconds on a busy box); run it in a
 * beforeAll with a generous timeout so that cost is not charged to the first test's budget.
 */
export const WARM_UP_TIMEOUT_MS = 90_000;
export async function warmUp(): Promise<void> {
  await (await exports.default.fetch(new Request("http://edge.test/healthz"))).body?.cancel();
}

export const call = (path: string, init?: RequestInit): Promise<Response> =>
  exports.default.fetch(new Request(`http://edge.test${path}`, init));

export const bearer = (user: TestUser): Record<string, string> => ({ Authorization: `Bearer ${user.token}` });

export function upgradeRequest(
  room: string,
  options: { user?: TestUser; since?: number; viaQuery?: boolean; headers?: Record<string, string> } = {},
): Request {
  const url = new URL(`http://edge.test/v1/rooms/${room}/ws`);
  if (options.since !== undefined) url.searchParams.set("since", String(options.since));
  const headers: Record<string, string> = { Upgrade: "websocket", ...options.headers };
  if (options.user) {
    if (options.viaQuery) url.searchParams.set("token", options.user.token);
    else headers.Authorization = `Bearer ${options.user.token}`;
  }
  return new Request(url, { headers });
}

/** Opens a socket to `room` and waits for its welcome. Fails the test on any refusal. */
export async function join(
  room: string,
  user: TestUser,
  options: { since?: number; viaQuery?: boolean } = {},
): Promise<TestSocket> {
  const res = await exports.default.fetch(upgradeRequest(room, { user, ...options }));
  if (res.status !== 101 || !res.webSocket) {
    throw new Error(`upgrade refused: ${res.status} ${await res.text()}`);
  }
  const socket = new TestSocket(res.webSocket);
  await socket.next("welcome");
  return socket;
}

type FrameOf<T extends ServerFrame["type"]> = Extract<ServerFrame, { type: T }>;

/** Collects a socket's frames in order; `next` consumes them one type at a time. */
export class TestSocket {
  readonly ws: WebSocket;
  /** Every frame received, in order (including consumed ones). */
  readonly frames: ServerFrame[] = [];
  closed: { code: number; reason: string } | undefined;
  readonly #consumed = new Set<number>();
  readonly #listeners = new Set<() => void>();

  constructor(ws: WebSocket) {
    this.ws = ws;
    ws.accept();
    ws.addEventListener("message", (event) => {
      const parsed = parseServerFrame(typeof event.data === "string" ? event.data : "");
      if (!parsed.ok) throw new Error(`server sent an invalid frame: ${parsed.reason}`);
      this.frames.push(parsed.frame);
      this.#notify();
    });
    ws.addEventListener("close", (event) => {
      this.closed = { code: event.code, reason: event.reason };
      this.#notify();
    });
  }

  #notify(): void {
    for (const listener of this.#listeners) listener();
  }

  /** Resolves once `check` returns a value, re-checking on every frame or close. */
  #until<T>(check: () => T | undefined, what: string, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const done = () => {
        const value = check();
        if (value === undefined) return;
        cleanup();
        resolve(value);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(`timed out waiting for ${what}; frames so far: ${JSON.stringify(this.frames).slice(0, 2000)}`),
        );
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.#listeners.delete(done);
      };
      this.#listeners.add(done);
      done();
    });
  }

  /** The next unconsumed frame of `type` (optionally matching `where`), consuming it. */
  next<T extends ServerFrame["type"]>(
    type: T,
    where: (f: FrameOf<T>) => boolean = () => true,
    timeoutMs = 5_000,
  ): Promise<FrameOf<T>> {
    return this.#until(
      () => {
        const index = this.frames.findIndex(
          (f, i) => !this.#consumed.has(i) && f.type === type && where(f as FrameOf<T>),
        );
        if (index < 0) return undefined;
        this.#consumed.add(index);
        return this.frames[index] as FrameOf<T>;
      },
      `a ${type} frame`,
      timeoutMs,
    );
  }

  /** Every message received so far, in order: plain `message` frames and those inside `batch` frames. */
  allMessages(): FrameOf<"message">[] {
    return this.frames.flatMap((f) => (f.type === "message" ? [f] : f.type === "batch" ? f.messages : []));
  }

  /** Waits until `count` messages (plain or batched) have arrived in total; returns all of them. */
  messages(count: number, timeoutMs = 5_000): Promise<FrameOf<"message">[]> {
    return this.#until(
      () => {
        const messages = this.allMessages();
        return messages.length >= count ? messages : undefined;
      },
      `${count} messages`,
      timeoutMs,
    );
  }

  waitClosed(timeoutMs = 5_000): Promise<{ code: number; reason: string }> {
    return this.#until(() => this.closed, "close", timeoutMs);
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  close(): void {
    try {
      this.ws.close(1000, "bye");
    } catch {
      // already closed
    }
  }
}

type PresenceOf = FrameOf<"presence">;
/** Matches a presence diff that announces `userId` joining. */
export const joinedOf =
  (userId: string) =>
  (p: PresenceOf): boolean =>
    p.action === "diff" && p.joined.some((u) => u.id === userId);
/** Matches a presence diff that announces `userId` leaving. */
export const leftOf =
  (userId: string) =>
  (p: PresenceOf): boolean =>
    p.action === "diff" && p.left.some((u) => u.id === userId);
/** Every presence diff frame received that announces `userId` leaving. */
export const leavesOf = (socket: TestSocket, userId: string): PresenceOf[] =>
  socket.frames.filter((f): f is PresenceOf => f.type === "presence" && leftOf(userId)(f));

/** Sleeps (a rate bucket refilling); never to wait for frames that should not arrive (presenceBarrier). */
export const settle = (ms = 150): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until the room's presence (GET /presence) satisfies `check`: the room has handled what preceded it. */
export async function untilPresence(
  room: string,
  reader: TestUser,
  check: (users: Array<{ id: string; connections: number }>) => boolean,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await call(`/v1/rooms/${room}/presence`, { headers: bearer(reader) });
    const { users } = (await res.json()) as { users: Array<{ id: string; connections: number }> };
    if (check(users)) return;
    if (Date.now() > deadline) throw new Error(`presence of ${room} never matched: ${JSON.stringify(users)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A presence barrier: a fresh user joins `room` and every watcher waits for the diff announcing them
 * (then for their leave).
 * A diff carries every change the room had not announced yet, so once it arrived any join or leave
 * the room handled before this join has been announced too: what did not show up by then never will.
 */
export async function presenceBarrier(room: string, watchers: TestSocket[]): Promise<void> {
  const marker = await signIn();
  const socket = await join(room, marker);
  await Promise.all(watchers.map((w) => w.next("presence", joinedOf(marker.userId), 10_000)));
  // Gone again before the test goes on, so no later diff the test asserts on carries the marker.
  socket.close();
  await Promise.all(watchers.map((w) => w.next("presence", leftOf(marker.userId), 10_000)));
}
