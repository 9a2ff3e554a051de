// End to end: SDK clients in Node (partysocket over `ws`) against the Worker under `wrangler dev`
// with the local stack. A TCP proxy between client and Worker cuts the connection mid-stream.
import { WebSocket } from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectRoom, type MessageFrame, type RoomClient } from "../../client/index.ts";
import { startRoomsStack, type RoomsStack } from "./support/rooms-stack.ts";
import { startTcpProxy } from "./support/tcp-proxy.ts";

let stack: RoomsStack;

beforeAll(async () => {
  stack = await startRoomsStack();
}, 180_000);

afterAll(async () => {
  await stack?.close();
}, 30_000);

const uniqueRoom = () => `e2e-${crypto.randomUUID().slice(0, 8)}`;

async function until(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const opened: RoomClient[] = [];
afterAll(() => {
  for (const client of opened) client.close();
});

function client(url: string, room: string, token: () => Promise<string>): RoomClient {
  const c = connectRoom({
    url,
    room,
    token,
    WebSocket,
    heartbeatMs: 1_000,
    minReconnectionDelay: 100,
    maxReconnectionDelay: 400,
    connectionTimeout: 3_000,
  });
  opened.push(c);
  return c;
}

describe("rooms SDK against wrangler dev", () => {
  it("delivers every message exactly once, in order, when the connection is cut mid-stream", async () => {
    const room = uniqueRoom();
    const proxy = await startTcpProxy(stack.port);
    const admin = await stack.tokenFor({ userId: crypto.randomUUID(), roles: ["user", "admin"] });
    const readerId = crypto.randomUUID();
    let tokensIssued = 0;
    const reader = client(proxy.url, room, async () => {
      tokensIssued++;
      return stack.tokenFor({ userId: readerId });
    });
    const received: MessageFrame[] = [];
    const closes: number[] = [];
    let welcomes = 0;
    // How far behind the room each reconnect was: > 0 means the room had to replay for it.
    const behindAtReconnect: number[] = [];
    reader.on("message", (m) => received.push(m));
    reader.on("close", (e) => closes.push(e.code));
    reader.on("welcome", (w) => {
      if (welcomes++ > 0) behindAtReconnect.push(w.seq - (reader.lastSeq ?? 0));
    });
    await until(() => reader.connected, "the first welcome");

    const total = 60;
    for (let i = 1; i <= total; i++) {
      const res = await fetch(`${stack.baseUrl}/v1/rooms/${room}/messages`, {
        method: "POST",
        headers: { Authorization: `Bearer ${admin}`, "Content-Type": "application/json" },
        body: JSON.stringify({ data: { i } }),
      });
      expect(res.status).toBe(202);
      expect(await res.json()).toEqual({ seq: i });
      // Cut mid-stream, and keep the way back closed for a while as publishing goes on.
      if (i === 20) proxy.cut(600);
      if (i === 45) {
        // The second cut must hit an established connection, not the reconnect still under way.
        await until(() => welcomes >= 2, "the reconnect after the first cut");
        proxy.cut(0);
      }
      await new Promise((r) => setTimeout(r, 15));
    }

    await until(() => received.length >= total, `${total} messages (got ${received.length})`);
    await new Promise((r) => setTimeout(r, 300)); // anything extra would show up now
    expect(received.map((m) => m.seq)).toEqual(Array.from({ length: total }, (_, k) => k + 1));
    expect(received.map((m) => (m.data as { i: number }).i)).toEqual(Array.from({ length: total }, (_, k) => k + 1));
    expect(proxy.cutCount).toBeGreaterThanOrEqual(2);
    expect(closes.length).toBeGreaterThanOrEqual(2);
    expect(welcomes).toBeGreaterThanOrEqual(3);
    expect(Math.max(...behindAtReconnect)).toBeGreaterThan(0);
    // A fresh token was asked for before every connect.
    expect(tokensIssued).toBeGreaterThanOrEqual(welcomes);
    expect(reader.lastSeq).toBe(total);
    await proxy.close();
  });

  it("publishes from one SDK client to another with acks, presence and typed frames", async () => {
    const room = uniqueRoom();
    const aliceId = crypto.randomUUID();
    const bobId = crypto.randomUUID();
    const alice = client(stack.baseUrl, room, () => stack.tokenFor({ userId: aliceId }));
    await until(() => alice.connected, "alice connected");
    const joins: string[] = [];
    alice.on("presence", (p) => {
      if (p.action === "diff") joins.push(...p.joined.map((u) => u.id));
    });
    const bob = client(stack.baseUrl, room, () => stack.tokenFor({ userId: bobId }));
    const bobGot: MessageFrame[] = [];
    bob.on("message", (m) => bobGot.push(m));
    await until(() => bob.connected, "bob connected");
    await until(() => joins.includes(bobId), "alice seeing bob join");
    expect([...alice.members].sort()).toEqual([aliceId, bobId].sort());

    const acks = await Promise.all([alice.publish({ text: "hi" }), alice.publish({ text: "there" })]);
    expect(acks.map((a) => a.seq)).toEqual([1, 2]);
    await until(() => bobGot.length === 2, "bob's two messages");
    expect(bobGot.map((m) => [m.seq, m.from.id, m.data])).toEqual([
      [1, aliceId, { text: "hi" }],
      [2, aliceId, { text: "there" }],
    ]);
  });
});
