import { createExecutionContext, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import type { RoomObject } from "../../durable/room-object.ts";
import { REGISTRY_OBJECT_NAMES, REGISTRY_SHARDS, registryObjectName } from "../../durable/session-registry.ts";
import { CONNECT_HEADER } from "../../protocol/room-rpc.ts";
import { userRoom } from "../../protocol/frames.ts";
import { createRedis } from "../../src/adapters/redis.ts";
import { createRoomGateway, SessionDisconnectError } from "../../src/adapters/rooms.ts";
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

// Registry shards are chosen by room; a session's rows may be in any of them.
const registry = (room: string) => env.ROOMS.getByName(registryObjectName(room));
const shard = (name: string) => env.ROOMS.getByName(name);
const roomsInShard = (name: string, sessionId: string) =>
  runInDurableObject<RoomObject, string[]>(shard(name), (_instance, state) => {
    // A shard that never answered has no tables yet.
    if (state.storage.sql.exec("SELECT name FROM sqlite_master WHERE name = 'session_rooms'").toArray().length === 0) {
      return [];
    }
    return state.storage.sql
      .exec<{ room: string }>("SELECT room FROM session_rooms WHERE session_id = ? ORDER BY room", sessionId)
      .toArray()
      .map((r) => r.room);
  });
const registeredRooms = async (sessionId: string) =>
  (await Promise.all(REGISTRY_OBJECT_NAMES.map((name) => roomsInShard(name, sessionId)))).flat().sort();
/** `count` room names, each in a different registry shard. */
function roomsInDistinctShards(count: number): string[] {
  const byShard = new Map<string, string>();
  while (byShard.size < count) {
    const room = uniqueRoom("spread");
    if (!byShard.has(registryObjectName(room))) byShard.set(registryObjectName(room), room);
  }
  return [...byShard.values()];
}
/** The Worker's connect request to a room object, as src/adapters/rooms.ts builds it. */
const roomConnect = (room: string, userId: string, sessionId: string) =>
  new Request("https://room.internal/connect", {
    headers: { Upgrade: "websocket", [CONNECT_HEADER]: JSON.stringify({ room, userId, sessionId, canPublish: true }) },
  });

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
    expect(await registeredRooms(alice.sessionId)).toEqual([r1, r2, privateRoom].sort());

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
    expect(await registeredRooms(alice.sessionId)).toEqual([]);
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
      runInDurableObject<RoomObject, number[]>(registry(room), (_instance, state) =>
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
    expect(await registeredRooms(alice.sessionId)).toEqual([room]);
    await createRoomGateway(env.ROOMS).disconnectSession(alice.userId, alice.sessionId);
    expect(await again.waitClosed()).toMatchObject({ code: 4401 });
    expect(await registeredRooms(alice.sessionId)).toEqual([]);
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

describe("registry shards chosen by room", () => {
  it("has 16 shards", () => {
    expect(REGISTRY_SHARDS).toBe(16);
    expect(new Set(REGISTRY_OBJECT_NAMES).size).toBe(16);
    expect(REGISTRY_OBJECT_NAMES).toContain(registryObjectName(uniqueRoom()));
  });

  it("sends a burst of connects from distinct users to the room's shard in ONE call, stored in one transaction", async () => {
    const room = uniqueRoom("burst");
    const n = 40;
    const users = Array.from({ length: n }, () => ({ userId: crypto.randomUUID(), sessionId: crypto.randomUUID() }));
    const registryBefore = await runInDurableObject<RoomObject, number>(
      registry(room),
      (instance) => instance.footprint().registry.commits,
    );
    const { calls, statuses } = await runInDurableObject<RoomObject, { calls: number; statuses: number[] }>(
      env.ROOMS.getByName(room),
      async (instance) => {
        const before = instance.footprint().registryCalls;
        // All in one turn, as connects arriving together are.
        const responses = await Promise.all(users.map((u) => instance.fetch(roomConnect(room, u.userId, u.sessionId))));
        for (const res of responses) {
          res.webSocket?.accept();
          res.webSocket?.close(1000, "done");
        }
        return { calls: instance.footprint().registryCalls - before, statuses: responses.map((r) => r.status) };
      },
    );
    expect(statuses).toEqual(users.map(() => 101));
    expect(calls).toBe(1);
    const { rows, commits } = await runInDurableObject<RoomObject, { rows: number; commits: number }>(
      registry(room),
      (instance, state) => ({
        rows: state.storage.sql
          .exec<{ n: number }>("SELECT COUNT(*) AS n FROM session_rooms WHERE room = ?", room)
          .one().n,
        commits: instance.footprint().registry.commits,
      }),
    );
    expect(rows).toBe(n);
    expect(commits - registryBefore).toBe(1);
    // The same sessions again (a reconnect storm in a room that forgot them): one call, no transaction.
    const again = await runInDurableObject<RoomObject, RegisterAnswer>(registry(room), async (instance) => {
      const answers = await instance.registerSockets(users, room);
      return { answers, commits: instance.footprint().registry.commits };
    });
    expect(again.answers).toEqual(users.map(() => "registered"));
    expect(again.commits).toBe(commits);
  });

  it("reaches the session's sockets in rooms of different shards", async () => {
    const alice = await signIn();
    const bob = await signIn();
    const rooms = roomsInDistinctShards(3);
    const sockets = await Promise.all(rooms.map((room) => join(room, alice)));
    const bobs = await Promise.all(rooms.map((room) => join(room, bob)));
    for (const room of rooms) expect(await roomsInShard(registryObjectName(room), alice.sessionId)).toEqual([room]);

    await createRoomGateway(env.ROOMS).disconnectSession(alice.userId, alice.sessionId);

    for (const socket of sockets) expect(await socket.waitClosed()).toMatchObject({ code: 4401 });
    expect(await registeredRooms(alice.sessionId)).toEqual([]);
    for (const socket of bobs) expect(socket.closed).toBeUndefined();
    // Every shard recorded it: a connect to a room of any shard is refused.
    for (const room of roomsInDistinctShards(4)) {
      const res = await exports.default.fetch(upgradeRequest(room, { user: alice }));
      expect(res.status).toBe(401);
    }
    for (const socket of bobs) socket.close();
  });

  it("refuses a registration still waiting for its transaction when the revocation lands", async () => {
    const room = uniqueRoom("race");
    const alice = { userId: crypto.randomUUID(), sessionId: crypto.randomUUID() };
    const other = { userId: crypto.randomUUID(), sessionId: crypto.randomUUID() };
    const answers = await runInDurableObject<RoomObject, string[]>(registry(room), async (instance) => {
      const pending = instance.registerSockets([alice, other], room);
      // Same turn: both registrations are new, so they wait for the group commit.
      const revoked = instance.revokeSessions([alice.sessionId]);
      const [registered] = await Promise.all([pending, revoked]);
      return registered;
    });
    expect(answers).toEqual(["revoked", "registered"]);
    expect(await roomsInShard(registryObjectName(room), alice.sessionId)).toEqual([]);
  });

  it("refuses a connect whose registry call was out when the revocation reached the room", async () => {
    const room = uniqueRoom("race");
    const alice = { userId: crypto.randomUUID(), sessionId: crypto.randomUUID() };
    const status = await runInDurableObject<RoomObject, number>(env.ROOMS.getByName(room), async (instance) => {
      const connecting = instance.fetch(roomConnect(room, alice.userId, alice.sessionId));
      instance.closeSessions([alice.sessionId]);
      return (await connecting).status;
    });
    expect(status).toBe(401);
  });

  it("throws when a shard fails during a revocation; the other shards still record it", async () => {
    const alice = await signIn();
    const [broken, healthy] = roomsInDistinctShards(2) as [string, string];
    const brokenShard = registryObjectName(broken);
    const namespace = new Proxy(env.ROOMS, {
      get(target, key) {
        if (key !== "getByName") return Reflect.get(target, key);
        return (name: string) => {
          if (name !== brokenShard) return target.getByName(name);
          return { revokeSessions: () => Promise.reject(new Error("shard down")) };
        };
      },
    });
    const failure = await createRoomGateway(namespace)
      .disconnectSession(alice.userId, alice.sessionId)
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(failure).toBeInstanceOf(SessionDisconnectError);
    expect(failure).toMatchObject({ failedShards: 1, failedRooms: 0 });
    expect((await exports.default.fetch(upgradeRequest(healthy, { user: alice }))).status).toBe(401);
    // The broken shard never heard of it (the retry is what reaches it).
    const socket = await join(broken, alice);
    await createRoomGateway(env.ROOMS).disconnectSession(alice.userId, alice.sessionId);
    expect(await socket.waitClosed()).toMatchObject({ code: 4401 });
  });
});

interface RegisterAnswer {
  answers: string[];
  commits: number;
}

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
