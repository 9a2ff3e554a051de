import { beforeAll, describe, expect, it } from "vitest";
import {
  bearer,
  call,
  join,
  joinedOf,
  leavesOf,
  leftOf,
  presenceBarrier,
  signIn,
  uniqueRoom,
  WARM_UP_TIMEOUT_MS,
  warmUp,
  untilPresence,
} from "./support/rooms.ts";

beforeAll(warmUp, WARM_UP_TIMEOUT_MS);

const presenceOf = async (room: string, token: { token: string }) => {
  const res = await call(`/v1/rooms/${room}/presence`, { headers: { Authorization: `Bearer ${token.token}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as { users: { id: string; connections: number }[] };
};

describe("presence", () => {
  it("announces a user's join once, counts their tabs, and announces leave only when the last tab closes", async () => {
    const room = uniqueRoom();
    const alice = await signIn();
    const bob = await signIn();
    const watcher = await join(room, alice);

    const tab1 = await join(room, bob);
    expect(await watcher.next("presence", joinedOf(bob.userId))).toEqual({
      type: "presence",
      action: "diff",
      joined: expect.arrayContaining([{ id: bob.userId }]),
      left: [],
    });
    const tab2 = await join(room, bob);
    const sync = await tab2.next("presence", (p) => p.action === "sync");
    expect(sync.action === "sync" && sync.users).toEqual(
      expect.arrayContaining([
        { id: alice.userId, connections: 1 },
        { id: bob.userId, connections: 2 },
      ]),
    );
    expect((await presenceOf(room, alice)).users).toContainEqual({ id: bob.userId, connections: 2 });

    tab1.close();
    await untilPresence(room, alice, (users) => users.some((u) => u.id === bob.userId && u.connections === 1));
    await presenceBarrier(room, [watcher]);
    // A second tab, and one of two tabs closing, announce nothing: bob's only diff so far is his join.
    const aboutBob = watcher.frames.filter(
      (f) => f.type === "presence" && f.action === "diff" && [...f.joined, ...f.left].some((u) => u.id === bob.userId),
    );
    expect(aboutBob).toHaveLength(1);
    expect(leavesOf(watcher, bob.userId)).toEqual([]);
    expect((await presenceOf(room, alice)).users).toContainEqual({ id: bob.userId, connections: 1 });

    tab2.close();
    expect(await watcher.next("presence", leftOf(bob.userId))).toEqual({
      type: "presence",
      action: "diff",
      joined: [],
      left: [{ id: bob.userId }],
    });
    expect((await presenceOf(room, alice)).users).toEqual([{ id: alice.userId, connections: 1 }]);
    watcher.close();
  });

  it("applies the room rule to GET presence", async () => {
    const owner = await signIn();
    const other = await signIn();
    const res = await call(`/v1/rooms/user:${owner.userId}/presence`, { headers: bearer(other) });
    expect(res.status).toBe(403);
    expect((await call(`/v1/rooms/${uniqueRoom()}/presence`)).status).toBe(401);
    expect((await presenceOf(`user:${owner.userId}`, owner)).users).toEqual([]);
  });
});
