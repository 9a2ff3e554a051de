// The room's ticks: publishes within one tick stored together and sent as one frame per socket,
// presence coalesced into diffs (bounded per member while a room fills), and diffs that eviction
// cut short recovered from the presence ledger.
import { env } from "cloudflare:workers";
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { RoomObject } from "../../durable/room-object.ts";
import type { ServerFrame } from "../../protocol/frames.ts";
import {
  bearer,
  call,
  join,
  leftOf,
  signIn,
  type TestSocket,
  uniqueRoom,
  WARM_UP_TIMEOUT_MS,
  warmUp,
} from "./support/rooms.ts";

beforeAll(warmUp, WARM_UP_TIMEOUT_MS);

const roomStub = (room: string) => env.ROOMS.getByName(room);

/** The members a socket knows of: its sync, then every diff applied in order. */
function membersSeenBy(socket: TestSocket): string[] {
  let members = new Set<string>();
  for (const f of socket.frames as ServerFrame[]) {
    if (f.type !== "presence") continue;
    if (f.action === "sync") members = new Set(f.users.map((u) => u.id));
    else {
      for (const u of f.left) members.delete(u.id);
      for (const u of f.joined) members.add(u.id);
    }
  }
  return [...members].sort();
}

describe("ticks", () => {
  it("stores the publishes of one tick in one go and sends each member one batch frame, acks after it", async () => {
    const room = uniqueRoom();
    const alice = await signIn();
    const bob = await signIn();
    const a = await join(room, alice);
    const b = await join(room, bob);
    // Five publishes inside one event: one tick, one transaction, one frame per socket.
    const seqs = await runInDurableObject<RoomObject, number[]>(roomStub(room), async (instance) => {
      const outcomes = await Promise.all(
        Array.from({ length: 5 }, (_, i) => instance.publish({ from: "server", data: { i } })),
      );
      return outcomes.map((o) => (o.ok ? o.seq : -1));
    });
    expect(seqs).toEqual([1, 2, 3, 4, 5]);
    for (const socket of [a, b]) {
      const messages = await socket.messages(5);
      expect(messages.map((m) => [m.seq, (m.data as { i: number }).i])).toEqual([0, 1, 2, 3, 4].map((i) => [i + 1, i]));
      expect(socket.frames.filter((f) => f.type === "batch")).toHaveLength(1);
      expect(socket.frames.filter((f) => f.type === "message")).toHaveLength(0);
    }

    // A socket's own publishes: each reaches it before its ack, and the seqs continue.
    a.send({ type: "publish", data: "x", id: "x" });
    a.send({ type: "publish", data: "y", id: "y" });
    expect(await a.next("ack", (f) => f.id === "y")).toEqual({ type: "ack", id: "y", seq: 7 });
    const carrying = (seq: number) =>
      a.frames.findIndex(
        (f) => (f.type === "message" && f.seq === seq) || (f.type === "batch" && f.messages.some((m) => m.seq === seq)),
      );
    const ackAt = (id: string) => a.frames.findIndex((f) => f.type === "ack" && f.id === id);
    expect(carrying(6)).toBeGreaterThanOrEqual(0);
    expect(carrying(6)).toBeLessThan(ackAt("x"));
    expect(carrying(7)).toBeLessThan(ackAt("y"));
    expect((await b.messages(7)).map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    a.close();
    b.close();
  });

  it("costs each member a bounded number of presence frames while a room fills, and every view ends right", async () => {
    const room = uniqueRoom();
    const users = await Promise.all(Array.from({ length: 40 }, () => signIn()));
    const sockets = await Promise.all(users.map((u) => join(room, u)));
    const everyone = users.map((u) => u.userId).sort();
    // Each view converges on the full room (the last diff may still be on its way).
    await Promise.all(
      sockets.map(
        (s) =>
          new Promise<void>((resolve, reject) => {
            const deadline = Date.now() + 5_000;
            const check = () => {
              if (membersSeenBy(s).length === everyone.length) return resolve();
              if (Date.now() > deadline) return reject(new Error(`view stuck at ${membersSeenBy(s).length}`));
              s.next("presence", () => true, 5_000).then(check, reject);
            };
            check();
          }),
      ),
    );
    for (const s of sockets) expect(membersSeenBy(s)).toEqual(everyone);
    // One frame per join would be 20 per member on average here (O(N²) in total); diffs keep it flat.
    const presenceFrames = sockets.map((s) => s.frames.filter((f) => f.type === "presence").length);
    expect(Math.max(...presenceFrames)).toBeLessThanOrEqual(10);
    for (const s of sockets) s.close();
  });

  it("sends after an eviction the leave a cut-short diff never sent, from the presence ledger", async () => {
    const room = uniqueRoom();
    const alice = await signIn();
    const a = await join(room, alice);
    const stub = roomStub(room);
    // As if a user's leave was pending when the object was evicted: announced, but no socket.
    await runInDurableObject(stub, (_instance, state) => {
      state.storage.sql.exec("INSERT INTO presence_announced (user_id) VALUES ('ghost')");
    });
    await evictDurableObject(stub);
    const res = await call(`/v1/rooms/${room}/presence`, { headers: bearer(alice) });
    expect(await res.json()).toEqual({ users: [{ id: alice.userId, connections: 1 }] });
    expect(await a.next("presence", leftOf("ghost"))).toMatchObject({ action: "diff", left: [{ id: "ghost" }] });
    const ledger = await runInDurableObject(stub, (_instance, state) =>
      state.storage.sql.exec<{ user_id: string }>("SELECT user_id FROM presence_announced").toArray(),
    );
    expect(ledger).toEqual([{ user_id: alice.userId }]);
    a.close();
  });
});
