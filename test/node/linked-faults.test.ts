// Two linked Node instances on one Redis, the first one reaching Redis through a TCP proxy the test
// can cut: a Redis outage fails publishes with a clear error while sockets stay open and resume
// once it is back; connection limits and revocation hold across instances.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { Client, type Frame } from "./support/frame-client.ts";
import { type LinkedFleet, type LinkedInstance, startLinkedFleet, TEST_REDIS_URL } from "./support/linked-fleet.ts";
import { startTcpProxy, type TcpProxy } from "./support/tcp-proxy.ts";

let fleet: LinkedFleet;
let proxy: TcpProxy;
let a: LinkedInstance;
let b: LinkedInstance;

beforeAll(async () => {
  const redis = new URL(TEST_REDIS_URL);
  proxy = await startTcpProxy(Number(redis.port || 6379), redis.hostname);
  const viaProxy = new URL(TEST_REDIS_URL);
  viaProxy.port = new URL(proxy.url).port;
  fleet = await startLinkedFleet(
    ["node", "node"],
    { ROOM_MAX_CONNECTIONS_PER_USER: "2", ROOM_PRESENCE_LEASE_SECONDS: "3" },
    [{ REDIS_URL: viaProxy.toString() }],
  );
  [a, b] = fleet.instances as [LinkedInstance, LinkedInstance];
}, 180_000);

afterAll(async () => {
  await fleet?.close();
  await proxy?.close();
});

const unique = () => `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

async function socketUrl(instance: LinkedInstance, room: string, token: string, since?: number): Promise<string> {
  const query = `token=${encodeURIComponent(token)}${since === undefined ? "" : `&since=${since}`}`;
  return `${instance.wsBase}/v1/rooms/${room}/ws?${query}`;
}

/** The HTTP status a refused upgrade answers with. */
function refusedStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once("unexpected-response", (_request, response) => {
      resolve(response.statusCode ?? 0);
      ws.terminate();
    });
    ws.once("open", () => {
      ws.close();
      reject(new Error("the upgrade was accepted"));
    });
    ws.once("error", () => {});
  });
}

const publish = (instance: LinkedInstance, room: string, token: string, data: unknown) =>
  fetch(`${instance.baseUrl}/v1/rooms/${room}/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ data }),
    signal: AbortSignal.timeout(10_000),
  });

describe("linked instances under faults and limits", () => {
  it("count a user's connections across instances against the per-user limit", async () => {
    const room = `limits-${unique()}`;
    const token = await fleet.tokenFor({ userId: `user-${unique()}` });
    const first = new Client("first");
    const second = new Client("second");
    await first.open(await socketUrl(a, room, token));
    await second.open(await socketUrl(b, room, token));
    // The limit is 2: a third socket is refused on either instance.
    expect(await refusedStatus(await socketUrl(a, room, token))).toBe(429);
    expect(await refusedStatus(await socketUrl(b, room, token))).toBe(429);
    // A closed socket gives its place back to the whole fleet.
    first.ws.close();
    await first.until(() => first.closedWith !== undefined, "close");
    const third = new Client("third");
    let opened = false;
    for (let attempt = 0; attempt < 50 && !opened; attempt++) {
      try {
        await third.open(await socketUrl(b, room, token));
        opened = true;
      } catch {
        await new Promise((r) => setTimeout(r, 100)); // the release is on its way to Redis
      }
    }
    expect(opened).toBe(true);
    second.ws.close();
    third.ws.close();
  });

  it("closes a signed-out session's sockets on every instance and refuses its reconnect", async () => {
    const email = `linked-${unique()}@example.test`;
    const registered = await fetch(`${a.baseUrl}/v1/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password: `pw-${crypto.randomUUID()}` }),
    });
    expect(registered.status).toBe(201);
    const pair = (await registered.json()) as { accessToken: string; refreshToken: string };
    const room = `revoke-${unique()}`;
    const onA = new Client("on-a");
    const onB = new Client("on-b");
    await onA.open(await socketUrl(a, room, pair.accessToken));
    await onB.open(await socketUrl(b, room, pair.accessToken));
    const logout = await fetch(`${a.baseUrl}/v1/auth/logout`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ refreshToken: pair.refreshToken }),
    });
    expect(logout.status).toBe(204);
    await Promise.all([onA, onB].map((c) => c.until(() => c.closedWith !== undefined, "the revocation close")));
    expect([onA.closedWith, onB.closedWith]).toEqual([4401, 4401]);
    expect(await refusedStatus(await socketUrl(b, room, pair.accessToken))).toBe(401);
  });

  it("fails publishes clearly while Redis is unreachable, keeps the sockets, and resumes without losing anything", async () => {
    const room = `outage-${unique()}`;
    const token = await fleet.tokenFor({ userId: `user-${unique()}` });
    const onA = new Client("on-a");
    const onB = new Client("on-b");
    await onA.open(await socketUrl(a, room, token));
    await onB.open(await socketUrl(b, room, token));
    expect((await publish(a, room, token, { n: 1 })).status).toBe(202);
    await onB.until(() => onB.lastSeq === 1, "seq 1");

    // Redis drops off for instance A (the connections die, new ones are refused for 3 s).
    proxy.cut(3_000);
    const failed = await publish(a, room, token, { n: "lost" });
    expect(failed.status).toBe(503);
    expect(failed.headers.get("content-type")).toMatch(/problem\+json/);
    // A new socket cannot be admitted (the fleet's limits are unknown): 503, try again.
    expect(await refusedStatus(await socketUrl(a, room, token))).toBe(503);
    onA.ws.send(JSON.stringify({ type: "publish", id: "during", data: { n: "lost" } }));
    const error = (await new Promise<Frame>((resolve) => {
      const check = () => {
        const found = onA.frames.find((f) => f.type === "error" && f.id === "during");
        if (found) resolve(found);
      };
      onA.ws.on("message", check);
      check();
    })) as Frame;
    expect(error.code).toBe("internal");
    // Instance B still publishes, and instance A's socket is still open.
    expect((await publish(b, room, token, { n: 2 })).status).toBe(202);
    expect(onA.ws.readyState).toBe(WebSocket.OPEN);

    // Redis is back for A: what B stored meanwhile reaches A's socket, and A publishes again.
    let seq3 = 0;
    for (let attempt = 0; attempt < 100 && seq3 === 0; attempt++) {
      const res = await publish(a, room, token, { n: 3 });
      if (res.status === 202) seq3 = ((await res.json()) as { seq: number }).seq;
      else await new Promise((r) => setTimeout(r, 200));
    }
    expect(seq3).toBe(3);
    await Promise.all([onA, onB].map((c) => c.until(() => c.lastSeq === 3, "seq 3")));
    expect(onA.seqs).toEqual([1, 2, 3]);
    expect(onB.seqs).toEqual([1, 2, 3]);
    expect(onA.closedWith).toBeUndefined();
    onA.ws.close();
    onB.ws.close();
  }, 60_000);
});
