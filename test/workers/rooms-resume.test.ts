import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { RoomObject } from "../../durable/room-object.ts";
import { call, join, signIn, type TestUser, uniqueRoom, WARM_UP_TIMEOUT_MS, warmUp } from "./support/rooms.ts";

beforeAll(warmUp, WARM_UP_TIMEOUT_MS);

const post = (room: string, user: TestUser, data: unknown) =>
  call(`/v1/rooms/${room}/messages`, {
    method: "POST",
    headers: { Authorization: `Bearer ${user.token}`, "Content-Type": "application/json" },
    body: JSON.stringify({ data }),
  });

const roomStub = (room: string) => env.ROOMS.getByName(room);

/** Publishes `count` server messages inside the object itself (fast: no request per message). */
const publishInside = (room: string, count: number) =>
  runInDurableObject<RoomObject, void>(roomStub(room), async (instance) => {
    await Promise.all(Array.from({ length: count }, (_, i) => instance.publish({ from: "server", data: { i } })));
  });

describe("resuming with ?since=", () => {
  it("replays every missed message in order before live ones, with no gap while publishing continues", async () => {
    const room = uniqueRoom();
    const admin = await signIn({ roles: ["user", "admin"] });
    const reader = await signIn();
    const first = await join(room, reader);
    for (let i = 1; i <= 3; i++) expect((await post(room, admin, { i })).status).toBe(202);
    const seen = await first.messages(3);
    const lastSeen = seen.at(-1)!.seq;
    first.close();

    for (let i = 4; i <= 6; i++) expect((await post(room, admin, { i })).status).toBe(202);
    // Keep publishing while the client reconnects: live messages race the replay.
    const publishing = (async () => {
      for (let i = 7; i <= 16; i++) expect((await post(room, admin, { i })).status).toBe(202);
    })();
    const resumed = await join(room, reader, { since: lastSeen });
    await publishing;
    const messages = await resumed.messages(13);
    expect(messages.map((m) => m.seq)).toEqual(Array.from({ length: 13 }, (_, k) => k + 4));
    expect(messages.map((m) => (m.data as { i: number }).i)).toEqual(Array.from({ length: 13 }, (_, k) => k + 4));
    expect(resumed.frames.some((f) => f.type === "error")).toBe(false);
    // The welcome comes first, then presence, then the replay.
    expect(resumed.frames.slice(0, 2).map((f) => f.type)).toEqual(["welcome", "presence"]);
    resumed.close();
  });

  it("tells a client asking for more than the retained age to resync, then replays what is retained", async () => {
    const room = uniqueRoom();
    const user = await signIn();
    await publishInside(room, 5);
    // Age messages 1..3 past the retention window (default 24 h).
    await runInDurableObject(roomStub(room), (_instance, state) => {
      state.storage.sql.exec("UPDATE messages SET ts = ts - ? WHERE seq <= 3", 2 * 24 * 3600 * 1000);
    });
    const socket = await join(room, user, { since: 1 });
    const resync = await socket.next("error");
    expect(resync).toMatchObject({ code: "resync_required", oldestSeq: 4, seq: 5 });
    expect((await socket.messages(2)).map((m) => m.seq)).toEqual([4, 5]);
    const resyncIndex = socket.frames.indexOf(resync);
    expect(socket.frames.findIndex((f) => f.type === "message")).toBeGreaterThan(resyncIndex);
    socket.close();
  });

  it("keeps at most the retained count and resyncs a client that fell further behind", async () => {
    const room = uniqueRoom();
    const user = await signIn();
    await publishInside(room, 1_003);
    const socket = await join(room, user, { since: 2 });
    expect(await socket.next("error")).toMatchObject({ code: "resync_required", oldestSeq: 4, seq: 1_003 });
    const messages = await socket.messages(1_000);
    expect(messages[0]?.seq).toBe(4);
    expect(messages.at(-1)?.seq).toBe(1_003);
    socket.close();

    // One behind the oldest retained is complete: no resync.
    const caughtUp = await join(room, user, { since: 3 });
    expect((await caughtUp.messages(1_000))[0]?.seq).toBe(4);
    expect(caughtUp.frames.some((f) => f.type === "error")).toBe(false);
    caughtUp.close();
  });

  it("bounds retention by total size (default 8 MiB) so a full replay fits in the object's memory", async () => {
    const room = uniqueRoom();
    const user = await signIn();
    const pad = "x".repeat(60 * 1024);
    await runInDurableObject<RoomObject, void>(roomStub(room), async (instance) => {
      await Promise.all(Array.from({ length: 200 }, (_, i) => instance.publish({ from: "server", data: { i, pad } })));
    });
    const stored = await runInDurableObject(roomStub(room), (_instance, state) =>
      state.storage.sql
        .exec<{ n: number; total: number; oldest: number }>(
          "SELECT COUNT(*) AS n, SUM(bytes) AS total, MIN(seq) AS oldest FROM messages",
        )
        .one(),
    );
    expect(stored.total).toBeLessThanOrEqual(8 * 1024 * 1024);
    expect(stored.total).toBeGreaterThan(8 * 1024 * 1024 - 2 * 62 * 1024);
    expect(stored.oldest).toBe(200 - stored.n + 1);
    // The running total the log keeps (so appends never rescan the table) matches the rows.
    const tracked = await runInDurableObject(roomStub(room), (_instance, state) =>
      state.storage.sql.exec<{ value: number }>("SELECT value FROM room_meta WHERE key = 'retained_bytes'").one(),
    );
    expect(tracked.value).toBe(stored.total);
    const socket = await join(room, user, { since: 0 });
    expect(await socket.next("error")).toMatchObject({ code: "resync_required", oldestSeq: stored.oldest, seq: 200 });
    const messages = await socket.messages(stored.n, 15_000);
    expect(messages.map((m) => m.seq)).toEqual(Array.from({ length: stored.n }, (_, k) => stored.oldest + k));
    socket.close();
  });

  it("resyncs a client whose since is ahead of the room (its view belongs to another log)", async () => {
    const room = uniqueRoom();
    const user = await signIn();
    await publishInside(room, 2);
    const socket = await join(room, user, { since: 50 });
    expect(await socket.next("error")).toMatchObject({ code: "resync_required", oldestSeq: 1, seq: 2 });
    expect((await socket.messages(2)).map((m) => m.seq)).toEqual([1, 2]);
    socket.close();
  });

  it("continues the sequence after retention dropped every message", async () => {
    const room = uniqueRoom();
    const admin = await signIn({ roles: ["user", "admin"] });
    await publishInside(room, 2);
    await runInDurableObject(roomStub(room), (_instance, state) => {
      state.storage.sql.exec("UPDATE messages SET ts = ts - ?", 2 * 24 * 3600 * 1000);
    });
    expect(await (await post(room, admin, "next")).json()).toEqual({ seq: 3 });
  });
});

describe("GET /messages history", () => {
  it("pages through retained messages oldest first with an opaque cursor", async () => {
    const room = uniqueRoom();
    const user = await signIn();
    await publishInside(room, 5);
    const get = async (query: string) => {
      const res = await call(`/v1/rooms/${room}/messages${query}`, {
        headers: { Authorization: `Bearer ${user.token}` },
      });
      expect(res.status).toBe(200);
      return (await res.json()) as {
        items: { seq: number; data: unknown; from: { id: string } }[];
        nextCursor: string | null;
        seq: number;
        oldestSeq: number;
      };
    };
    const page1 = await get("?since=1&limit=2");
    expect(page1.items.map((m) => m.seq)).toEqual([2, 3]);
    expect(page1.items[0]).toMatchObject({ from: { id: "server" }, data: { i: 1 } });
    expect(page1).toMatchObject({ seq: 5, oldestSeq: 1 });
    const page2 = await get(`?cursor=${page1.nextCursor}&limit=2`);
    expect(page2.items.map((m) => m.seq)).toEqual([4, 5]);
    expect(page2.nextCursor).toBeNull();
    // Not base64url of a seq cursor: garbage, another list's cursor ("v3"), a negative seq.
    for (const cursor of ["nope", btoa("v3"), btoa("s-1")]) {
      const res = await call(`/v1/rooms/${room}/messages?cursor=${encodeURIComponent(cursor)}`, {
        headers: { Authorization: `Bearer ${user.token}` },
      });
      expect({ cursor, status: res.status }).toEqual({ cursor, status: 422 });
    }
  });
});
