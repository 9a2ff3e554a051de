import { env } from "cloudflare:workers";
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { RoomObject } from "../../durable/room-object.ts";
import {
  bearer,
  call,
  join,
  leavesOf,
  leftOf,
  presenceBarrier,
  signIn,
  uniqueRoom,
  untilPresence,
  WARM_UP_TIMEOUT_MS,
  warmUp,
} from "./support/rooms.ts";

beforeAll(warmUp, WARM_UP_TIMEOUT_MS);

// A marker set on the running instance: gone after eviction, so its absence proves a new instance.
const MARK = Symbol.for("rooms-test-instance-mark");
type Marked = RoomObject & { [MARK]?: true };

describe("hibernation", () => {
  it("rebuilds presence and identity from the sockets' attachments after the object is evicted", async () => {
    const room = uniqueRoom();
    const alice = await signIn();
    const bob = await signIn();
    const a = await join(room, alice);
    const b1 = await join(room, bob);
    const b2 = await join(room, bob);
    a.send({ type: "publish", data: "before", id: "before" });
    expect(await a.next("ack")).toMatchObject({ seq: 1 });

    const stub = env.ROOMS.getByName(room);
    await runInDurableObject<Marked, void>(stub, (instance) => {
      instance[MARK] = true;
    });
    await evictDurableObject(stub);

    // Presence comes back from the attachments alone.
    const presence = await call(`/v1/rooms/${room}/presence`, { headers: bearer(alice) });
    expect(((await presence.json()) as { users: unknown[] }).users).toEqual(
      [
        { id: alice.userId, connections: 1 },
        { id: bob.userId, connections: 2 },
      ].sort((x, y) => (x.id < y.id ? -1 : 1)),
    );
    expect(await runInDurableObject<Marked, boolean>(stub, (instance) => instance[MARK] === true)).toBe(false);

    // The sockets survived: a hibernated socket publishes, its sender id comes from its attachment,
    // and the sequence continues from storage.
    b1.send({ type: "publish", data: "after", id: "after" });
    expect(await b1.next("ack")).toEqual({ type: "ack", id: "after", seq: 2 });
    for (const socket of [a, b1, b2]) {
      const messages = await socket.messages(2);
      expect(messages[1]).toMatchObject({ seq: 2, from: { id: bob.userId }, data: "after" });
    }

    // Counting tabs still works on rebuilt presence: one of bob's two tabs closing is no leave.
    await evictDurableObject(stub);
    b2.close();
    await untilPresence(room, alice, (users) => users.some((u) => u.id === bob.userId && u.connections === 1));
    await presenceBarrier(room, [a]);
    expect(leavesOf(a, bob.userId)).toEqual([]);
    b1.close();
    await a.next("presence", leftOf(bob.userId));
    a.close();
  });

  it("announces a leave when the first event after a wake-up is a user's last socket closing", async () => {
    const room = uniqueRoom();
    const alice = await signIn();
    const bob = await signIn();
    const a = await join(room, alice);
    const b = await join(room, bob);
    await evictDurableObject(env.ROOMS.getByName(room));
    b.close();
    await a.next("presence", leftOf(bob.userId));
    await presenceBarrier(room, [a]);
    expect(leavesOf(a, bob.userId)).toHaveLength(1);
    const res = await call(`/v1/rooms/${room}/presence`, { headers: bearer(alice) });
    expect(await res.json()).toEqual({ users: [{ id: alice.userId, connections: 1 }] });
    a.close();
  });

  it("answers a ping of an evicted room through the runtime's auto-response", async () => {
    const user = await signIn();
    const room = uniqueRoom();
    const socket = await join(room, user);
    const stub = env.ROOMS.getByName(room);
    await evictDurableObject(stub);
    const sent = Date.now();
    socket.send('{"type":"ping"}');
    await socket.next("pong");
    // Only the auto-response path records this timestamp: the room's own code never answered.
    const last = await runInDurableObject<RoomObject, number | null>(stub, (_instance, state) => {
      const [ws] = state.getWebSockets();
      return ws ? (state.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? null) : null;
    });
    expect(last).toBeGreaterThanOrEqual(sent - 1_000);
    socket.close();
  });
});
