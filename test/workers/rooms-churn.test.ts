// Reconnect churn leaves nothing behind in the room's Durable Object: after many sockets came and
// went, every in-memory structure (presence, rate buckets, queues, the socket set, the runtime's
// socket list, the remembered sessions) and the presence ledger hold only what is open now.
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { RoomObject, RoomObjectFootprint } from "../../durable/room-object.ts";
import { join, presenceBarrier, signIn, uniqueRoom, WARM_UP_TIMEOUT_MS, warmUp } from "./support/rooms.ts";

beforeAll(warmUp, WARM_UP_TIMEOUT_MS);

const footprintOf = (room: string) =>
  runInDurableObject<RoomObject, { footprint: RoomObjectFootprint; announced: number }>(
    env.ROOMS.getByName(room),
    async (instance, state) => ({
      footprint: instance.footprint(),
      announced: state.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM presence_announced`).one().n,
    }),
  );

describe("reconnect churn", () => {
  it("keeps the room's memory bounded by the sockets open now, not by how many came and went", async () => {
    const room = uniqueRoom("churn");
    const observer = await signIn();
    const watcher = await join(room, observer);
    const regulars = await Promise.all(Array.from({ length: 3 }, () => signIn()));
    const rounds = 12;
    for (let round = 0; round < rounds; round++) {
      // The same users reconnecting (the soak's churn), plus one user who comes once and never again.
      const passer = await signIn();
      const sockets = await Promise.all([...regulars, passer].map((u) => join(room, u)));
      // Each publishes once, so each socket gets a rate bucket that must go when it does.
      for (const [i, s] of sockets.entries()) s.send({ type: "publish", data: { round, i }, id: `${round}-${i}` });
      await Promise.all(sockets.map((s, i) => s.next("ack", (a) => a.id === `${round}-${i}`)));
      for (const s of sockets) s.close();
      // The room answers a client's close from its close handler, after dropping the socket.
      await Promise.all(sockets.map((s) => s.waitClosed()));
    }
    // Every leave announced: the ledger then lists only who is present.
    await presenceBarrier(room, [watcher]);

    const { footprint, announced } = await footprintOf(room);
    expect(footprint).toEqual({
      connections: 1,
      users: 1,
      changedUsers: 0,
      buckets: 0,
      queuedPublishes: 0,
      replaying: 0,
      waitingAcks: 0,
      remoteUsers: 0,
      openSockets: 1,
      runtimeSockets: 1,
      // One per session that connected (bounded by MAX_REMEMBERED_SESSIONS): the observer, the
      // regulars, each passer and the barrier's marker.
      registeredSessions: 1 + regulars.length + rounds + 1,
      revokedSessions: 0,
      // At most one registry call per new session (fewer when connects arrive in one turn), none waiting.
      registryCalls: expect.any(Number),
      waitingRegistrations: 0,
      // A room is no registry shard.
      registry: { batches: 0, commits: 0, pending: 0 },
    });
    expect(footprint.registryCalls).toBeGreaterThan(0);
    expect(footprint.registryCalls).toBeLessThanOrEqual(1 + regulars.length + rounds + 1);
    expect(announced).toBe(1);
    expect(watcher.closed).toBeUndefined();
    watcher.close();
  });
});
