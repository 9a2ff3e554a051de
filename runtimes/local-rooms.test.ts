// The in-process rooms (Node, Deno, Bun entry points) against the protocol's rules, through a fake
// upgrader: every socket opens at once and records what the room sends it.
import { describe, expect, it } from "vitest";
import { parseRoomLimits } from "../durable/room-limits.ts";
import type { ConnectRequest } from "../durable/connect-request.ts";
import { createLogger } from "../common/logger.ts";
import { createLocalRooms, type RoomSocket, type SocketEvents, type SocketUpgrader } from "./local-rooms.ts";

type Frame = Record<string, unknown>;

interface FakeSocket extends RoomSocket {
  frames: Frame[];
  /** Called after every frame the room sends and on close (what `until` waits on). */
  changed: Set<() => void>;
  /** What bufferedAmount() reports (a slow client's backlog). */
  backlog: number;
  closedWith?: number;
  events: SocketEvents;
  /** Sends a client frame (as JSON) to the room. */
  publish(data: unknown, id?: string): void;
}

function setup(limits: Record<string, string> = {}) {
  const opened: FakeSocket[] = [];
  const upgrader: SocketUpgrader = {
    upgrade(_request, onOpen) {
      const socket: FakeSocket = {
        frames: [],
        changed: new Set(),
        backlog: 0,
        bufferedAmount() {
          return this.backlog;
        },
        events: { message: () => {}, closed: () => {} },
        send(text) {
          this.frames.push(JSON.parse(text) as Frame);
          for (const f of this.changed) f();
        },
        close(code) {
          this.closedWith = code;
          this.events.closed(code);
          for (const f of this.changed) f();
        },
        publish(data, id) {
          this.events.message(JSON.stringify({ type: "publish", data, ...(id && { id }) }));
        },
      };
      socket.events = onOpen(socket);
      opened.push(socket);
      return new Response(null);
    },
  };
  const rooms = createLocalRooms(upgrader, { limits: parseRoomLimits(limits), log: createLogger("error") });
  const connect = async (request: Partial<ConnectRequest> & { room: string }) => {
    const outcome = await rooms.gateway.connect(
      { userId: "u1", sessionId: "s1", canPublish: true, ...request },
      new Request("http://local/ws"),
    );
    return { outcome, socket: outcome.ok ? opened.at(-1) : undefined };
  };
  const open = async (request: Partial<ConnectRequest> & { room: string }): Promise<FakeSocket> => {
    const { socket } = await connect(request);
    if (!socket) throw new Error("connect was refused");
    return socket;
  };
  return { rooms, gateway: rooms.gateway, connect, open };
}

const ofType = (socket: FakeSocket, type: string) => socket.frames.filter((f) => f.type === type);
/** Messages received, plain or inside `batch` frames, in order. */
const messagesOf = (socket: FakeSocket): Frame[] =>
  socket.frames.flatMap((f) => (f.type === "message" ? [f] : f.type === "batch" ? (f.messages as Frame[]) : []));

/** Resolves once `check` holds, re-checking whenever the room sends the socket a frame or closes it. */
function until(socket: FakeSocket, check: () => boolean, what: string, timeoutMs = 2_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = () => {
      if (!check()) return;
      clearTimeout(timer);
      socket.changed.delete(done);
      resolve();
    };
    const timer = setTimeout(() => {
      socket.changed.delete(done);
      reject(new Error(`timed out waiting for ${what}; frames: ${JSON.stringify(socket.frames).slice(0, 1000)}`));
    }, timeoutMs);
    socket.changed.add(done);
    done();
  });
}
const diffWith = (key: "joined" | "left", id: string) => (f: Frame) =>
  f.type === "presence" && f.action === "diff" && (f[key] as Array<{ id: string }>).some((u) => u.id === id);

describe("in-process rooms", () => {
  it("welcomes with the latest seq and presence, and acks a publish after every member got the message", async () => {
    const { open } = setup();
    const alice = await open({ room: "r", userId: "alice" });
    const bob = await open({ room: "r", userId: "bob", sessionId: "s2" });
    expect(alice.frames[0]).toMatchObject({ type: "welcome", room: "r", seq: 0, user: { id: "alice" } });
    await until(alice, () => alice.frames.some(diffWith("joined", "bob")), "bob's join");
    // Both joins fell in one tick: one diff for the two (alice's own is a no-op after her sync).
    expect(ofType(alice, "presence")).toEqual([
      { type: "presence", action: "sync", users: [{ id: "alice", connections: 1 }] },
      { type: "presence", action: "diff", joined: [{ id: "alice" }, { id: "bob" }], left: [] },
    ]);

    // Two publishes within one tick: stored together, sent as one batch frame, then both acks.
    alice.publish({ text: "hi" }, "m1");
    alice.publish({ text: "again" });
    await until(alice, () => ofType(alice, "ack").length === 2, "two acks");
    expect(messagesOf(bob).map((m) => m.seq)).toEqual([1, 2]);
    expect(messagesOf(bob)[0]).toMatchObject({ from: { id: "alice" }, data: { text: "hi" } });
    expect(ofType(bob, "batch")).toHaveLength(1);
    // The sender sees its own messages before the acks.
    expect(alice.frames.slice(-3).map((f) => f.type)).toEqual(["batch", "ack", "ack"]);
    expect(ofType(alice, "ack")[0]).toEqual({ type: "ack", id: "m1", seq: 1 });
  });

  it("replays exactly what a resuming socket missed, and signals a resync for a since it cannot serve", async () => {
    const { gateway, open } = setup({ ROOM_RETENTION_MESSAGES: "3" });
    for (let i = 1; i <= 5; i++) await gateway.publish("r", { i });

    const resumed = await open({ room: "r", since: 3 });
    expect(messagesOf(resumed).map((m) => m.seq)).toEqual([4, 5]);
    expect(ofType(resumed, "error")).toEqual([]);

    // Only 3..5 are retained: resuming after 1 misses 2, so the room says so and replays from 3.
    const behind = await open({ room: "r", since: 1 });
    expect(ofType(behind, "error")).toEqual([
      expect.objectContaining({ code: "resync_required", oldestSeq: 3, seq: 5 }),
    ]);
    expect(messagesOf(behind).map((m) => m.seq)).toEqual([3, 4, 5]);

    const ahead = await open({ room: "r", since: 9 });
    expect(ofType(ahead, "error")[0]).toMatchObject({ code: "resync_required", seq: 5 });

    const history = await gateway.history("r", 0, 10);
    expect(history.items.map((i) => i.seq)).toEqual([3, 4, 5]);
    expect(history.oldestSeq).toBe(3);
  });

  it("refuses oversized frames, non-JSON frames, read-only publishes and bursts, storing none of them", async () => {
    const { gateway, open } = setup({
      ROOM_MAX_FRAME_BYTES: "100",
      ROOM_RETENTION_BYTES: "1000",
      ROOM_PUBLISH_BURST: "2",
      ROOM_PUBLISH_RATE_PER_SECOND: "0.01",
    });
    const writer = await open({ room: "r" });
    writer.publish("x".repeat(200), "big");
    writer.events.message("not json");
    writer.publish(1, "a");
    writer.publish(2, "b");
    writer.publish(3, "c");
    await until(writer, () => ofType(writer, "ack").length === 2, "two acks");
    const errors = ofType(writer, "error");
    expect(errors.map((e) => e.code)).toEqual(["too_large", "bad_frame", "rate_limited"]);
    expect(errors[2]).toMatchObject({ id: "c" });
    expect(errors[2]?.retryAfterMs).toBeGreaterThan(0);

    const reader = await open({ room: "r", userId: "reader", sessionId: "s9", canPublish: false });
    reader.publish("hello", "ro");
    expect(ofType(reader, "error")[0]).toMatchObject({ code: "read_only", id: "ro" });
    expect((await gateway.history("r", 0, 10)).items.map((i) => i.data)).toEqual([1, 2]);

    await expect(gateway.publishAs("r", { from: "u1", data: "y".repeat(200) })).resolves.toMatchObject({
      ok: false,
      reason: "too_large",
    });
  });

  it("closes a revoked session's sockets in every room with 4401 and refuses its reconnects", async () => {
    const { gateway, open, connect } = setup();
    const inRoom = await open({ room: "r", sessionId: "gone" });
    const inOwn = await open({ room: "user:u1", sessionId: "gone" });
    const other = await open({ room: "r", userId: "u2", sessionId: "kept" });
    await gateway.disconnectSession("u1", "gone");
    expect(inRoom.closedWith).toBe(4401);
    expect(inOwn.closedWith).toBe(4401);
    expect(other.closedWith).toBeUndefined();
    await until(other, () => other.frames.some(diffWith("left", "u1")), "u1's leave");
    expect((await connect({ room: "r", sessionId: "gone" })).outcome).toEqual({
      ok: false,
      refusal: "session_revoked",
    });
  });

  it("refuses connections past the per-user and per-room limits, and counts presence per user", async () => {
    const { gateway, open, connect } = setup({ ROOM_MAX_CONNECTIONS: "3", ROOM_MAX_CONNECTIONS_PER_USER: "2" });
    await open({ room: "r", userId: "a" });
    await open({ room: "r", userId: "a" });
    expect((await connect({ room: "r", userId: "a" })).outcome).toEqual({ ok: false, refusal: "too_many_connections" });
    await open({ room: "r", userId: "b" });
    expect((await connect({ room: "r", userId: "c" })).outcome).toEqual({ ok: false, refusal: "room_full" });
    expect(await gateway.presence("r")).toEqual({
      users: expect.arrayContaining([
        { id: "a", connections: 2 },
        { id: "b", connections: 1 },
      ]),
    });
  });

  it("continues the sequence after retention dropped every message", async () => {
    const { gateway } = setup({ ROOM_RETENTION_MESSAGES: "1" });
    await gateway.publish("r", 1);
    await gateway.publish("r", 2);
    expect(await gateway.publish("r", 3)).toEqual({ seq: 3 });
    expect((await gateway.history("r", 0, 10)).items.map((i) => i.seq)).toEqual([3]);
  });

  it("closes a member whose send backlog passes twice the retention bytes, and keeps serving the others", async () => {
    const { gateway, open } = setup({ ROOM_MAX_FRAME_BYTES: "1000", ROOM_RETENTION_BYTES: "4000" });
    const slow = await open({ room: "r", userId: "slow" });
    const fast = await open({ room: "r", userId: "fast", sessionId: "s2" });
    slow.backlog = 8_001;
    await gateway.publish("r", { n: 1 });
    expect(slow.closedWith).toBe(1013);
    expect(messagesOf(slow)).toEqual([]);
    expect(messagesOf(fast).map((m) => m.seq)).toEqual([1]);
    await until(fast, () => fast.frames.some(diffWith("left", "slow")), "slow's leave");
  });
});
