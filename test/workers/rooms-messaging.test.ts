import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { createRoomGateway } from "../../src/adapters/rooms.ts";
import { call, join, settle, signIn, uniqueRoom, WARM_UP_TIMEOUT_MS, warmUp } from "./support/rooms.ts";

beforeAll(warmUp, WARM_UP_TIMEOUT_MS);

const post = (room: string, token: string, body: unknown) =>
  call(`/v1/rooms/${room}/messages`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

describe("publishing in a room", () => {
  it("broadcasts a socket's publish to every member, in seq order, and acks the publisher with its id", async () => {
    const room = uniqueRoom();
    const alice = await signIn();
    const bob = await signIn();
    const a = await join(room, alice);
    const b1 = await join(room, bob);
    const b2 = await join(room, bob);

    a.send({ type: "publish", data: { n: 1 }, id: "m1" });
    a.send({ type: "publish", data: { n: 2 } });
    const ack = await a.next("ack", (f) => f.id === "m1");
    expect(ack).toEqual({ type: "ack", id: "m1", seq: 1 });
    expect(await a.next("ack")).toEqual({ type: "ack", seq: 2 });

    for (const socket of [a, b1, b2]) {
      const messages = await socket.messages(2);
      expect(messages.map((m) => [m.seq, m.from.id, m.data])).toEqual([
        [1, alice.userId, { n: 1 }],
        [2, alice.userId, { n: 2 }],
      ]);
      expect(messages[0]?.ts).toBeGreaterThan(Date.now() - 60_000);
    }
    for (const s of [a, b1, b2]) s.close();
  });

  it("answers POST /messages with 202 and the seq only after every member was sent the message", async () => {
    const room = uniqueRoom();
    const alice = await signIn();
    const bob = await signIn();
    const a = await join(room, alice);
    const b = await join(room, bob);
    const res = await post(room, bob.token, { data: ["hello", 42] });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ seq: 1 });
    for (const socket of [a, b]) {
      const [message] = await socket.messages(1);
      expect(message).toMatchObject({ type: "message", seq: 1, from: { id: bob.userId }, data: ["hello", 42] });
    }
    a.close();
    b.close();
  });

  it("publishes server events through the room gateway as from 'server'", async () => {
    const user = await signIn();
    const socket = await join("system", user);
    const publisher = createRoomGateway(env.ROOMS);
    const { seq } = await publisher.publish("system", { type: "setting.changed", key: "k", version: 2 });
    const message = await socket.next("message", (m) => m.seq === seq);
    expect(message).toMatchObject({ from: { id: "server" }, data: { type: "setting.changed", key: "k", version: 2 } });
    socket.close();
  });

  it("keeps POST to system for admins, and never accepts the token from the query on plain routes", async () => {
    const user = await signIn();
    const admin = await signIn({ roles: ["user", "admin"] });
    expect((await post("system", user.token, { data: 1 })).status).toBe(403);
    expect((await post("system", admin.token, { data: 1 })).status).toBe(202);
    const viaQuery = await call(`/v1/rooms/${uniqueRoom()}/messages?token=${user.token}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ data: 1 }),
    });
    expect(viaQuery.status).toBe(401);
    expect((await call(`/v1/rooms/${uniqueRoom()}/presence?token=${user.token}`)).status).toBe(401);
  });

  it("validates the POST body: data is required JSON, at most the frame limit", async () => {
    const user = await signIn();
    const room = uniqueRoom();
    const missing = await post(room, user.token, {});
    expect(missing.status).toBe(422);
    expect(((await missing.json()) as { errors: { path: string }[] }).errors[0]?.path).toBe("data");
    const tooLarge = await post(room, user.token, { data: "x".repeat(64 * 1024) });
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.headers.get("Content-Type")).toContain("application/problem+json");
    expect((await post(`user:${crypto.randomUUID()}`, user.token, { data: 1 })).status).toBe(403);
    expect((await post("Bad Name", user.token, { data: 1 })).status).toBe(404);
  });

  it("rate limits non-admin POSTs per user with 429 and Retry-After", async () => {
    const user = await signIn();
    const room = uniqueRoom();
    // Sent at once, so the burst (20) is exceeded however slow the machine is.
    const responses = await Promise.all(Array.from({ length: 60 }, (_, i) => post(room, user.token, { data: i })));
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 202).length).toBeGreaterThanOrEqual(20);
    const limited = responses.find((r) => r.status === 429);
    expect(limited?.headers.get("Retry-After")).toMatch(/^\d+$/);
    expect(statuses.every((s) => s === 202 || s === 429)).toBe(true);
  });
});

describe("frames a room refuses", () => {
  it("answers an oversized frame with a too_large error and keeps the socket usable", async () => {
    const user = await signIn();
    const socket = await join(uniqueRoom(), user);
    socket.send({ type: "publish", data: "é".repeat(33 * 1024), id: "big" });
    expect(await socket.next("error")).toMatchObject({ code: "too_large" });
    socket.send({ type: "publish", data: "small", id: "after" });
    expect(await socket.next("ack")).toEqual({ type: "ack", id: "after", seq: 1 });
    socket.close();
  });

  it("answers malformed JSON, unknown frames, missing data and binary frames with bad_frame errors", async () => {
    const user = await signIn();
    const socket = await join(uniqueRoom(), user);
    socket.send("{not json");
    socket.send({ type: "shout", data: 1 });
    socket.send({ type: "publish" });
    socket.send({ type: "publish", data: 1, id: "x".repeat(65) });
    socket.ws.send(new Uint8Array([1, 2, 3]));
    for (let i = 0; i < 5; i++) expect(await socket.next("error")).toMatchObject({ code: "bad_frame" });
    socket.send({ type: "publish", data: null, id: "ok" });
    expect(await socket.next("ack")).toMatchObject({ id: "ok", seq: 1 });
    expect(socket.closed).toBeUndefined();
    socket.close();
  });

  it("answers ping with pong, verbatim through the auto-response and otherwise by the room", async () => {
    const user = await signIn();
    const socket = await join(uniqueRoom(), user);
    socket.send('{"type":"ping"}');
    await socket.next("pong");
    socket.send({ type: "ping", extra: "ignored" });
    await socket.next("pong");
    socket.close();
  });

  it("rate limits a connection's publishes with retryAfterMs and acks again once tokens refill", async () => {
    const user = await signIn();
    const socket = await join(uniqueRoom(), user);
    for (let i = 0; i < 60; i++) socket.send({ type: "publish", data: i, id: `p${i}` });
    // Every publish is answered, by an ack or an error naming its id.
    const answered = () =>
      socket.frames.filter((f) => (f.type === "ack" || f.type === "error") && f.id?.startsWith("p")).length === 60;
    await vi.waitFor(() => expect(answered()).toBe(true), { timeout: 5_000 });
    const errors = socket.frames.filter((f) => f.type === "error");
    expect(errors.length).toBeGreaterThan(0);
    const limited = await socket.next("error", (e) => e.code === "rate_limited");
    expect(limited.retryAfterMs).toBeGreaterThan(0);
    expect(limited.id).toMatch(/^p\d+$/);
    await settle(limited.retryAfterMs! + 50);
    socket.send({ type: "publish", data: "again", id: "later" });
    expect(await socket.next("ack", (a) => a.id === "later")).toBeDefined();
    socket.close();
  });
});
