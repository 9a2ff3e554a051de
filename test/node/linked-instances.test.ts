// Three linked Node instances on one Redis, as behind a load balancer without sticky sessions:
// clients on each, publishes through all of them (sockets and HTTP), one instance SIGKILLed in the
// middle of the stream and its clients resuming on the others with ?since=. Every client must get
// every message exactly once, in order, without gaps; presence must converge across instances, and
// the killed instance's member who never comes back must leave within the stated bound.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { Client, type Frame } from "./support/frame-client.ts";
import { type LinkedFleet, type LinkedInstance, startLinkedFleet } from "./support/linked-fleet.ts";

const LEASE_SECONDS = 3;
/** The bound docs/runtimes.md states: the lease, one heartbeat (a third of it), one presence interval. */
const LEAVE_BOUND_MS = LEASE_SECONDS * 1000 + (LEASE_SECONDS * 1000) / 3 + 1_000;

// LINKED_FLEET_RUNTIMES=deno,bun,node runs the same scenario across runtimes (test/contract/run.ts
// does); the second instance is the one killed.
const RUNTIMES = (process.env.LINKED_FLEET_RUNTIMES ?? "node,node,node").split(",").map((r) => r.trim()) as Array<
  "node" | "deno" | "bun"
>;

let fleet: LinkedFleet;

beforeAll(async () => {
  fleet = await startLinkedFleet(RUNTIMES, {
    ROOM_PRESENCE_LEASE_SECONDS: String(LEASE_SECONDS),
    ROOM_PUBLISH_RATE_PER_SECOND: "1000",
    ROOM_PUBLISH_BURST: "1000",
  });
}, 180_000);

afterAll(async () => {
  await fleet?.close();
});

describe(`three linked instances (${RUNTIMES.join(", ")})`, () => {
  it("deliver every message to every client exactly once, in order, across a SIGKILLed instance", async () => {
    const room = `linked-${Date.now().toString(36)}`;
    const [one, two, three] = fleet.instances as [LinkedInstance, LinkedInstance, LinkedInstance];
    const tokens = new Map<string, string>();
    const url = async (instance: LinkedInstance, user: string, since?: number) => {
      if (!tokens.has(user)) tokens.set(user, await fleet.tokenFor({ userId: user }));
      const query = `token=${encodeURIComponent(tokens.get(user) as string)}${since === undefined ? "" : `&since=${since}`}`;
      return `${instance.wsBase}/v1/rooms/${room}/ws?${query}`;
    };

    // Two clients per instance, plus one on instance two who will not come back after the crash.
    const placement: Array<[LinkedInstance, string]> = [
      [one, "u1"],
      [one, "u2"],
      [two, "u3"],
      [two, "u4"],
      [three, "u5"],
      [three, "u6"],
      [two, "gone"],
    ];
    const clients = new Map<string, Client>();
    for (const [instance, user] of placement) {
      const client = new Client(user);
      await client.open(await url(instance, user));
      clients.set(user, client);
    }
    const everyone = placement.map(([, u]) => u);
    // Presence converges: each client, wherever it connected, sees all seven users.
    await Promise.all(
      [...clients.values()].map((c) => c.until(() => everyone.every((u) => c.present.has(u)), "full presence")),
    );

    const acked = new Set<number>();
    const survivors = [...clients.values()].filter((c) => c.user !== "gone");
    let publishing = true;
    // Socket publishes from a client on each instance, acked with their seq.
    for (const c of survivors) {
      c.ws.on("message", (data) => {
        const frame = JSON.parse(String(data)) as Frame;
        if (frame.type === "ack") acked.add(frame.seq as number);
      });
    }
    // Publishing goes on until the crash is well behind: the cap only guards against a runaway loop.
    const MAX_PUBLISHES = 20_000;
    const sockets = [clients.get("u1"), clients.get("u3"), clients.get("u5")] as Client[];
    const httpTargets = [one, two, three];
    let sent = 0;
    const publishOne = async (i: number): Promise<void> => {
      if (i % 2 === 0) {
        const c = sockets[(i / 2) % sockets.length] as Client;
        if (c.ws.readyState === WebSocket.OPEN)
          c.ws.send(JSON.stringify({ type: "publish", id: `m${i}`, data: { i } }));
        return;
      }
      const target = httpTargets[i % httpTargets.length] as LinkedInstance;
      if (target === two && two.child.signalCode !== null) return;
      try {
        const res = await fetch(`${target.baseUrl}/v1/rooms/${room}/messages`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${tokens.get("u2")}` },
          body: JSON.stringify({ data: { i } }),
        });
        if (res.status === 202) acked.add(((await res.json()) as { seq: number }).seq);
        else await res.body?.cancel();
      } catch {
        // the killed instance: not acknowledged, so not owed to anyone
      }
    };
    const stream = (async () => {
      while (publishing && sent < MAX_PUBLISHES) {
        await Promise.all(Array.from({ length: 4 }, (_, k) => publishOne(sent + k)));
        sent += 4;
        await new Promise((r) => setTimeout(r, 5));
      }
    })();

    // Mid-stream: instance two dies without a word.
    await clients.get("u1")?.until(() => (clients.get("u1")?.seqs.length ?? 0) >= 60, "60 messages");
    const killedAt = Date.now();
    const sentBeforeKill = sent;
    await two.kill();
    // Its surviving users resume on the others, each from the last seq it saw.
    for (const [user, instance] of [
      ["u3", one],
      ["u4", three],
    ] as const) {
      const before = clients.get(user) as Client;
      const resumed = new Client(user);
      resumed.seqs.push(...before.seqs);
      await resumed.open(await url(instance, user, before.lastSeq));
      resumed.ws.on("message", (data) => {
        const frame = JSON.parse(String(data)) as Frame;
        if (frame.type === "ack") acked.add(frame.seq as number);
      });
      clients.set(user, resumed);
      if (user === "u3") sockets[1] = resumed;
    }

    // The member who never came back leaves within the bound, on both surviving instances.
    await Promise.all(
      ["u1", "u5"].map((u) =>
        (clients.get(u) as Client).until(() => !clients.get(u)?.present.has("gone"), "the dead member's leave", 20_000),
      ),
    );
    const leftAfterMs = Date.now() - killedAt;
    expect(leftAfterMs).toBeLessThanOrEqual(LEAVE_BOUND_MS);

    // The resumed clients keep receiving live messages on their new instances, then the stream stops.
    for (const u of ["u3", "u4"]) {
      const c = clients.get(u) as Client;
      const resumedAt = c.lastSeq;
      await c.until(() => c.lastSeq >= resumedAt + 50, "50 live messages after resuming");
    }
    publishing = false;
    await stream;
    expect(sent).toBeGreaterThan(sentBeforeKill + 100);
    // The log's latest seq, read through any instance, is what every client must have reached.
    const history = await fetch(`${one.baseUrl}/v1/rooms/${room}/messages?since=0&limit=1`, {
      headers: { authorization: `Bearer ${tokens.get("u1")}` },
    });
    expect(history.status).toBe(200);
    const latest = ((await history.json()) as { seq: number }).seq;
    expect(latest).toBeGreaterThan(100);
    const finalClients = ["u1", "u2", "u3", "u4", "u5", "u6"].map((u) => clients.get(u) as Client);
    await Promise.all(finalClients.map((c) => c.until(() => c.lastSeq >= latest, `seq ${latest}`)));
    const expected = Array.from({ length: latest }, (_, i) => i + 1);
    for (const c of finalClients) expect(c.seqs, c.user).toEqual(expected);
    // Nothing acknowledged was lost: every acked seq is in the log every client read.
    for (const seq of acked) expect(seq).toBeLessThanOrEqual(latest);
    expect(acked.size).toBeGreaterThan(100);
    // Presence after the crash: everyone but the member who left, on every surviving client.
    const remaining = everyone.filter((u) => u !== "gone").sort();
    for (const c of finalClients) {
      await c.until(() => remaining.every((u) => c.present.has(u)) && !c.present.has("gone"), "converged presence");
    }
    const presence = await fetch(`${three.baseUrl}/v1/rooms/${room}/presence`, {
      headers: { authorization: `Bearer ${tokens.get("u1")}` },
    });
    const users = ((await presence.json()) as { users: Array<{ id: string }> }).users.map((u) => u.id).sort();
    expect(users).toEqual(remaining);
    for (const c of finalClients) c.ws.close();
    console.log(
      `linked: ${latest} messages (${acked.size} acked), the dead member left after ${leftAfterMs} ms (bound ${LEAVE_BOUND_MS} ms)`,
    );
  }, 120_000);
});
