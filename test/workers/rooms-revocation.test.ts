import { createExecutionContext, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import type { RoomObject } from "../../durable/room-object.ts";
import { registryObjectName } from "../../durable/session-registry.ts";
import { userRoom } from "../../protocol/frames.ts";
import { createRedis } from "../../src/adapters/redis.ts";
import { createRoomGateway } from "../../src/adapters/rooms.ts";
import { createApp } from "../../src/app.ts";
import { configFor } from "../../src/core/config.ts";
import { revokedSessionKey } from "../../src/features/auth/revocation.ts";
import {
  join,
  leavesOf,
  leftOf,
  presenceBarrier,
  signIn,
  uniqueRoom,
  upgradeRequest,
  WARM_UP_TIMEOUT_MS,
  warmUp,
} from "./support/rooms.ts";

beforeAll(warmUp, WARM_UP_TIMEOUT_MS);

const registry = (userId: string) => env.ROOMS.getByName(registryObjectName(userId));
const registeredRooms = (userId: string, sessionId: string) =>
  runInDurableObject<RoomObject, string[]>(registry(userId), (_instance, state) =>
    state.storage.sql
      .exec<{ room: string }>("SELECT room FROM session_rooms WHERE session_id = ? ORDER BY room", sessionId)
      .toArray()
      .map((r) => r.room),
  );

describe("session revocation", () => {
  it("closes every socket of the revoked session in every room, and only those", async () => {
    const alice = await signIn();
    const aliceOtherTab = await signIn({ userId: alice.userId });
    const bob = await signIn();
    const [r1, r2] = [uniqueRoom("r1"), uniqueRoom("r2")];
    const privateRoom = userRoom(alice.userId);

    const revoked = [await join(r1, alice), await join(r2, alice), await join(privateRoom, alice)];
    const survivor = await join(r1, aliceOtherTab);
    const bobInR1 = await join(r1, bob);
    const bobInR2 = await join(r2, bob);
    expect(await registeredRooms(alice.userId, alice.sessionId)).toEqual([r1, r2, privateRoom].sort());

    await createRoomGateway(env.ROOMS).disconnectSession(alice.userId, alice.sessionId);

    for (const socket of revoked) expect(await socket.waitClosed()).toMatchObject({ code: 4401 });
    // Alice is still in r1 through her other session; in r2 she is gone.
    await bobInR2.next("presence", leftOf(alice.userId));
    await presenceBarrier(r1, [bobInR1]);
    expect(leavesOf(bobInR1, alice.userId)).toEqual([]);

    survivor.send({ type: "publish", data: "still here", id: "s" });
    expect(await survivor.next("ack")).toMatchObject({ id: "s" });
    expect((await bobInR1.messages(1))[0]).toMatchObject({ from: { id: alice.userId }, data: "still here" });
    expect(survivor.closed).toBeUndefined();
    expect(await registeredRooms(alice.userId, alice.sessionId)).toEqual([]);
    for (const s of [survivor, bobInR1, bobInR2]) s.close();
  });

  it("refuses the revoked session's next connect with 401, even where it never was", async () => {
    const alice = await signIn();
    await createRoomGateway(env.ROOMS).disconnectSession(alice.userId, alice.sessionId);
    const res = await exports.default.fetch(upgradeRequest(uniqueRoom(), { user: alice }));
    expect(res.status).toBe(401);
    expect(res.webSocket).toBeNull();
    expect(res.headers.get("Content-Type")).toContain("application/problem+json");
    // Another session of the same user is unaffected.
    const fresh = await signIn({ userId: alice.userId });
    const socket = await join(uniqueRoom(), fresh);
    socket.close();
  });

  it("registers a session once per room: reconnects and closes write nothing, revocation still reaches the room", async () => {
    const alice = await signIn();
    const room = uniqueRoom();
    const first = await join(room, alice);
    const registeredAt = () =>
      runInDurableObject<RoomObject, number[]>(registry(alice.userId), (_instance, state) =>
        state.storage.sql
          .exec<{ created_at: number }>("SELECT created_at FROM session_rooms WHERE session_id = ?", alice.sessionId)
          .toArray()
          .map((r) => r.created_at),
      );
    const before = await registeredAt();
    expect(before).toHaveLength(1);
    first.close();
    await first.waitClosed();
    // The row outlives the socket; a reconnect finds it and leaves it untouched.
    const again = await join(room, alice);
    expect(await registeredAt()).toEqual(before);
    expect(await registeredRooms(alice.userId, alice.sessionId)).toEqual([room]);
    await createRoomGateway(env.ROOMS).disconnectSession(alice.userId, alice.sessionId);
    expect(await again.waitClosed()).toMatchObject({ code: 4401 });
    expect(await registeredRooms(alice.userId, alice.sessionId)).toEqual([]);
  });

  it("refuses a revoked session's connect from its registry alone, with both session stores unreachable", async () => {
    const alice = await signIn();
    const socket = await join(uniqueRoom(), alice);
    await createRoomGateway(env.ROOMS).disconnectSession(alice.userId, alice.sessionId);
    expect(await socket.waitClosed()).toMatchObject({ code: 4401 });
    // With both session stores unreachable the connect is still refused: no lookup outside the registry.
    const res = await fetchWith(
      { UPSTASH_REDIS_REST_URL: deadPort, DATABASE_WS_PROXY: "ws://127.0.0.1:9" },
      upgradeRequest(uniqueRoom(), { user: alice }),
    );
    expect(res.status).toBe(401);
    expect(res.webSocket).toBeNull();
  });

  it("makes no revocation lookup on connect: a sid listed only in Redis is admitted until its registry hears of it", async () => {
    const alice = await signIn();
    const config = configFor(env);
    const redis = createRedis({
      url: config.UPSTASH_REDIS_REST_URL as string,
      token: config.UPSTASH_REDIS_REST_TOKEN as string,
      timeoutMs: config.REDIS_TIMEOUT_MS,
    });
    await redis.set(revokedSessionKey(config, alice.sessionId), "1", { ex: 60 });
    // The connect path makes no Redis round trip: it is admitted, like the socket it would have been.
    const socket = await join(uniqueRoom(), alice);
    socket.close();
    // Once the registry hears of it (the logout path), the session is refused everywhere.
    await createRoomGateway(env.ROOMS).disconnectSession(alice.userId, alice.sessionId);
    const res = await exports.default.fetch(upgradeRequest(uniqueRoom(), { user: alice }));
    expect(res.status).toBe(401);
  });
});

const deadPort = "http://127.0.0.1:9";
async function fetchWith(overrides: Record<string, string>, request: Request): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await createApp().fetch(request, { ...env, ...overrides }, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

describe("connecting while the session stores are down", () => {
  it("connects: the Worker asks neither Redis nor Postgres, the registry decides", async () => {
    const alice = await signIn();
    const res = await fetchWith(
      { UPSTASH_REDIS_REST_URL: deadPort, DATABASE_WS_PROXY: "ws://127.0.0.1:9" },
      upgradeRequest(uniqueRoom(), { user: alice }),
    );
    expect(res.status).toBe(101);
    res.webSocket?.accept();
    res.webSocket?.close(1000, "done");
  });
});
