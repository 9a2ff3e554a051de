import { env, exports } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { RoomObject } from "../../durable/room-object.ts";
import { createRoomPublisher } from "../../src/adapters/rooms.ts";
import { join, settle, signIn, uniqueRoom, upgradeRequest, WARM_UP_TIMEOUT_MS, warmUp } from "./support/rooms.ts";

beforeAll(warmUp, WARM_UP_TIMEOUT_MS);

const registeredRooms = (userId: string, sessionId: string) =>
  runInDurableObject<RoomObject, string[]>(env.ROOMS.getByName(`user:${userId}`), (_instance, state) =>
    state.storage.sql
      .exec<{ room: string }>("SELECT room FROM session_sockets WHERE session_id = ? ORDER BY room", sessionId)
      .toArray()
      .map((r) => r.room),
  );

describe("session revocation", () => {
  it("closes every socket of the revoked session in every room, and only those", async () => {
    const alice = await signIn();
    const aliceOtherTab = await signIn({ userId: alice.userId });
    const bob = await signIn();
    const [r1, r2] = [uniqueRoom("r1"), uniqueRoom("r2")];
    const privateRoom = `user:${alice.userId}`;

    const revoked = [await join(r1, alice), await join(r2, alice), await join(privateRoom, alice)];
    const survivor = await join(r1, aliceOtherTab);
    const bobInR1 = await join(r1, bob);
    const bobInR2 = await join(r2, bob);
    expect(await registeredRooms(alice.userId, alice.sessionId)).toEqual([r1, r2, privateRoom].sort());

    await createRoomPublisher(env.ROOMS).disconnectSession(alice.userId, alice.sessionId);

    for (const socket of revoked) expect(await socket.waitClosed()).toMatchObject({ code: 4401 });
    // Alice is still in r1 through her other session; in r2 she is gone.
    expect(await bobInR2.next("presence", (p) => p.action === "leave")).toMatchObject({ user: { id: alice.userId } });
    await settle(200);
    expect(bobInR1.frames.some((f) => f.type === "presence" && f.action === "leave")).toBe(false);

    survivor.send({ type: "publish", data: "still here", id: "s" });
    expect(await survivor.next("ack")).toMatchObject({ id: "s" });
    expect((await bobInR1.messages(1))[0]).toMatchObject({ from: { id: alice.userId }, data: "still here" });
    expect(survivor.closed).toBeUndefined();
    expect(await registeredRooms(alice.userId, alice.sessionId)).toEqual([]);
    for (const s of [survivor, bobInR1, bobInR2]) s.close();
  });

  it("refuses the revoked session's next connect with 401, even where it never was", async () => {
    const alice = await signIn();
    await createRoomPublisher(env.ROOMS).disconnectSession(alice.userId, alice.sessionId);
    const res = await exports.default.fetch(upgradeRequest(uniqueRoom(), { user: alice }));
    expect(res.status).toBe(401);
    expect(res.webSocket).toBeNull();
    expect(res.headers.get("Content-Type")).toContain("application/problem+json");
    // Another session of the same user is unaffected.
    const fresh = await signIn({ userId: alice.userId });
    const socket = await join(uniqueRoom(), fresh);
    socket.close();
  });

  it("forgets a socket's registration when it closes normally", async () => {
    const alice = await signIn();
    const room = uniqueRoom();
    const socket = await join(room, alice);
    expect(await registeredRooms(alice.userId, alice.sessionId)).toEqual([room]);
    socket.close();
    await socket.waitClosed();
    await expect.poll(() => registeredRooms(alice.userId, alice.sessionId), { timeout: 3_000 }).toEqual([]);
  });
});
