// The contract every runtime must honour (API.md), over the network only: HTTP and WebSocket
// against CONTRACT_BASE_URL. test/contract/run.ts starts the Worker (wrangler dev), Deno, Bun and
// Node in turn against one local stack and runs this file against each.
import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { WebSocket as NodeWebSocket } from "ws";
import { connectRoom } from "../../client/room-client.ts";
import type { MessageFrame } from "../../protocol/frames.ts";
import { startTcpProxy } from "../node/support/tcp-proxy.ts";

const BASE = process.env.CONTRACT_BASE_URL ?? "";
const RUNTIME = process.env.CONTRACT_RUNTIME ?? "unknown";
const unique = () => crypto.randomUUID().slice(0, 8);

interface TokenPair {
  user: { id: string; email: string; roles: string[] };
  accessToken: string;
  refreshToken: string;
}

async function call(path: string, init: RequestInit = {}, token?: string): Promise<Response> {
  const headers = new Headers(init.headers);
  if (token) headers.set("Authorization", `Bearer ${token}`);
  if (typeof init.body === "string") headers.set("Content-Type", "application/json");
  return fetch(`${BASE}${path}`, { ...init, headers, redirect: "manual", signal: AbortSignal.timeout(15_000) });
}

async function register(): Promise<TokenPair & { password: string }> {
  const password = `pw-${crypto.randomUUID()}`;
  const email = `contract-${unique()}@example.test`;
  const res = await call("/v1/auth/register", { method: "POST", body: JSON.stringify({ email, password }) });
  expect(res.status).toBe(201);
  return { ...((await res.json()) as TokenPair), password };
}

/** The admin the runner seeded (CONTRACT_ADMIN_EMAIL / CONTRACT_ADMIN_PASSWORD), signed in. */
async function adminToken(): Promise<string> {
  const res = await call("/v1/auth/login", {
    method: "POST",
    body: JSON.stringify({ email: process.env.CONTRACT_ADMIN_EMAIL, password: process.env.CONTRACT_ADMIN_PASSWORD }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as TokenPair).accessToken;
}

/** Collects a socket's frames; `next` waits for the first frame (after those seen) matching a test. */
function openSocket(url: string) {
  const ws = new WebSocket(url);
  const frames: Array<Record<string, unknown>> = [];
  let seen = 0;
  ws.addEventListener("message", (e) => frames.push(JSON.parse(String(e.data)) as Record<string, unknown>));
  const opened = new Promise<void>((resolve, reject) => {
    ws.addEventListener("open", () => resolve());
    ws.addEventListener("error", () => reject(new Error(`socket to ${url} failed`)));
  });
  return {
    ws,
    frames,
    opened,
    async next(match: (f: Record<string, unknown>) => boolean, what: string): Promise<Record<string, unknown>> {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const index = frames.findIndex((f, i) => i >= seen && match(f));
        if (index >= 0) {
          seen = index + 1;
          return frames[index] as Record<string, unknown>;
        }
        if (Date.now() > deadline) throw new Error(`no ${what} frame; got ${JSON.stringify(frames)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

describe(`the service contract on ${RUNTIME}`, () => {
  it("answers liveness and readiness with every dependency up", async () => {
    const live = await call("/healthz");
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ status: "ok" });
    const ready = await call("/readyz");
    const body = (await ready.json()) as { status: string; checks: Record<string, { ok: boolean }> };
    expect(ready.status).toBe(200);
    expect(body.status).toBe("ok");
    expect(body.checks.postgres?.ok).toBe(true);
    expect(body.checks.redis?.ok).toBe(true);
    expect(body.checks.storage?.ok).toBe(true);
  });

  it("serves one OpenAPI document, byte for byte, on every runtime", async () => {
    // The Worker serves the prebuilt document (its bundle has no generator), Node, Deno and Bun
    // generate it at run time: all of them must send exactly these bytes for this origin.
    const prebuilt = JSON.parse(
      await readFile(new URL("../../public/_templates/openapi-routes.json", import.meta.url), "utf8"),
    ) as Record<string, unknown>;
    const res = await call("/openapi.json");
    expect(res.status).toBe(200);
    const text = await res.text();
    const { openapi, info, servers } = JSON.parse(text) as Record<string, unknown>;
    expect(openapi).toBe("3.1.0");
    expect(servers).toEqual([{ url: new URL(BASE).origin }]);
    // The per-request fields first, then what the routes decide, exactly as prebuilt.
    expect(text).toBe(JSON.stringify({ openapi, info, servers, ...prebuilt }));
    // The template is the Worker's to read (wrangler.toml run_worker_first), never served as a file.
    const template = await call("/_templates/openapi-routes.json");
    expect(template.status).toBe(404);
    expect(await template.text()).not.toContain('"paths"');
  });

  it("answers a listed browser origin's preflight and reads with CORS headers, and an unlisted one with none", async () => {
    // The runner sets CORS_ORIGINS=https://app.contract.test on every runtime.
    const preflight = await call("/v1/auth/me", {
      method: "OPTIONS",
      headers: { Origin: "https://app.contract.test", "Access-Control-Request-Method": "GET" },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("Access-Control-Allow-Origin")).toBe("https://app.contract.test");
    expect(preflight.headers.get("Access-Control-Allow-Headers")).toContain("Authorization");
    const read = await call("/v1/auth/me", { headers: { Origin: "https://app.contract.test" } });
    expect(read.status).toBe(401);
    expect(read.headers.get("Access-Control-Allow-Origin")).toBe("https://app.contract.test");
    expect(read.headers.get("Access-Control-Expose-Headers")).toContain("X-Request-Id");
    const foreign = await call("/healthz", { headers: { Origin: "https://other.contract.test" } });
    expect(foreign.headers.get("Access-Control-Allow-Origin")).toBeNull();
    expect(foreign.headers.get("Vary")).toContain("Origin");
  });

  it("registers, logs in, refreshes once, and shows the signed-in user", async () => {
    const registered = await register();
    const login = await call("/v1/auth/login", {
      method: "POST",
      body: JSON.stringify({ email: registered.user.email, password: registered.password }),
    });
    expect(login.status).toBe(200);
    const pair = (await login.json()) as TokenPair;
    expect(pair.user.id).toBe(registered.user.id);

    const wrong = await call("/v1/auth/login", {
      method: "POST",
      body: JSON.stringify({ email: registered.user.email, password: "not-the-password" }),
    });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("content-type")).toContain("application/problem+json");

    const refreshed = await call("/v1/auth/refresh", {
      method: "POST",
      body: JSON.stringify({ refreshToken: pair.refreshToken }),
    });
    expect(refreshed.status).toBe(200);
    const next = (await refreshed.json()) as TokenPair;
    expect(next.refreshToken).not.toBe(pair.refreshToken);

    const me = await call("/v1/auth/me", {}, next.accessToken);
    expect(me.status).toBe(200);
    expect(((await me.json()) as { id: string }).id).toBe(registered.user.id);
    expect((await call("/v1/auth/me")).status).toBe(401);
  });

  it("creates, reads, updates and deletes a setting with ETag preconditions", async () => {
    const admin = await adminToken();
    const key = `contract.${unique()}`;
    const created = await call(
      `/v1/settings/${key}`,
      {
        method: "PUT",
        body: JSON.stringify({ value: { n: 1 }, visibility: "public" }),
        headers: { "If-None-Match": "*" },
      },
      admin,
    );
    expect(created.status).toBe(201);
    const etag = created.headers.get("ETag");
    expect(etag).toMatch(/^"/);

    const read = await call(`/v1/settings/${key}`);
    expect(read.status).toBe(200);
    expect(read.headers.get("ETag")).toBe(etag);
    expect(((await read.json()) as { value: unknown }).value).toEqual({ n: 1 });

    const noPrecondition = await call(
      `/v1/settings/${key}`,
      { method: "PUT", body: JSON.stringify({ value: 2 }) },
      admin,
    );
    expect(noPrecondition.status).toBe(428);
    const updated = await call(
      `/v1/settings/${key}`,
      { method: "PUT", body: JSON.stringify({ value: { n: 2 } }), headers: { "If-Match": etag ?? "" } },
      admin,
    );
    expect(updated.status).toBe(200);
    const stale = await call(
      `/v1/settings/${key}`,
      { method: "PUT", body: JSON.stringify({ value: { n: 3 } }), headers: { "If-Match": etag ?? "" } },
      admin,
    );
    expect(stale.status).toBe(412);

    const removed = await call(
      `/v1/settings/${key}`,
      { method: "DELETE", headers: { "If-Match": updated.headers.get("ETag") ?? "" } },
      admin,
    );
    expect(removed.status).toBe(204);
    expect((await call(`/v1/settings/${key}`)).status).toBe(404);
  });

  it("stores a raw upload and serves back identical bytes", async () => {
    const { accessToken } = await register();
    // A PNG signature (the type is sniffed) followed by bytes of every value.
    const bytes = new Uint8Array(300_000);
    bytes.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    for (let i = 8; i < bytes.length; i++) bytes[i] = (i * 31) & 0xff;
    const uploaded = await call(
      "/v1/assets?filename=contract.png&visibility=public",
      { method: "POST", body: bytes, headers: { "Content-Type": "image/png" } },
      accessToken,
    );
    expect(uploaded.status).toBe(201);
    const asset = (await uploaded.json()) as { id: string };
    const content = await call(`/v1/assets/${asset.id}/content`, {}, accessToken);
    expect(content.status).toBe(302);
    const location = content.headers.get("Location") ?? "";
    const downloaded = await fetch(location, { signal: AbortSignal.timeout(15_000) });
    expect(downloaded.status).toBe(200);
    expect(Buffer.compare(Buffer.from(await downloaded.arrayBuffer()), Buffer.from(bytes))).toBe(0);
  });

  it("broadcasts a room message to members with acks, presence and sequence numbers, and resumes with ?since", async () => {
    const alice = await register();
    const bob = await register();
    const room = `contract-${unique()}`;
    const wsBase = BASE.replace(/^http/, "ws");
    const url = (token: string, since?: number) =>
      `${wsBase}/v1/rooms/${room}/ws?token=${encodeURIComponent(token)}${since === undefined ? "" : `&since=${since}`}`;

    const a = openSocket(url(alice.accessToken));
    await a.opened;
    const welcome = await a.next((f) => f.type === "welcome", "welcome");
    expect(welcome.seq).toBe(0);
    await a.next((f) => f.type === "presence" && f.action === "sync", "presence sync");

    const b = openSocket(url(bob.accessToken));
    await b.opened;
    await b.next((f) => f.type === "welcome", "welcome");
    const joined = await a.next(
      (f) => f.type === "presence" && f.action === "diff" && JSON.stringify(f.joined).includes(bob.user.id),
      "presence diff with bob's join",
    );
    expect(joined.joined).toContainEqual({ id: bob.user.id });

    a.ws.send(JSON.stringify({ type: "publish", id: "m1", data: { text: "hello" } }));
    const ack = await a.next((f) => f.type === "ack", "ack");
    expect(ack).toEqual({ type: "ack", id: "m1", seq: 1 });
    const delivered = await b.next((f) => f.type === "message", "message");
    expect(delivered).toMatchObject({ seq: 1, from: { id: alice.user.id }, data: { text: "hello" } });

    const posted = await call(
      `/v1/rooms/${room}/messages`,
      { method: "POST", body: JSON.stringify({ data: { n: 2 } }) },
      bob.accessToken,
    );
    expect(posted.status).toBe(202);
    expect(await posted.json()).toEqual({ seq: 2 });
    await b.next((f) => f.type === "message" && f.seq === 2, "message 2");

    const presence = await call(`/v1/rooms/${room}/presence`, {}, alice.accessToken);
    const users = ((await presence.json()) as { users: Array<{ id: string }> }).users.map((u) => u.id).sort();
    expect(users).toEqual([alice.user.id, bob.user.id].sort());

    b.ws.close();
    await a.next(
      (f) => f.type === "presence" && f.action === "diff" && JSON.stringify(f.left).includes(bob.user.id),
      "presence diff with bob's leave",
    );
    a.ws.send(JSON.stringify({ type: "publish", id: "m3", data: { n: 3 } }));
    await a.next((f) => f.type === "ack" && f.seq === 3, "ack 3");

    // Bob saw up to 2: resuming replays exactly what he missed.
    const resumed = openSocket(url(bob.accessToken, 2));
    await resumed.opened;
    await resumed.next((f) => f.type === "welcome" && f.seq === 3, "welcome at 3");
    const replayed = await resumed.next((f) => f.type === "message", "replayed message");
    expect(replayed).toMatchObject({ seq: 3, data: { n: 3 } });

    // A `since` beyond the room's log is resynced, never silently skipped.
    const ahead = openSocket(url(bob.accessToken, 99));
    await ahead.opened;
    const resync = await ahead.next((f) => f.type === "error", "resync signal");
    expect(resync).toMatchObject({ code: "resync_required", seq: 3 });

    const history = await call(`/v1/rooms/${room}/messages?since=1`, {}, alice.accessToken);
    expect(((await history.json()) as { items: Array<{ seq: number }> }).items.map((i) => i.seq)).toEqual([2, 3]);
    for (const s of [a, resumed, ahead]) s.ws.close();
  });

  it("refuses a socket upgrade without a token, or to a room the user may not join, with plain HTTP before any upgrade", async () => {
    const statusOf = (url: string, headers: Record<string, string> = {}) =>
      new Promise<number>((resolve, reject) => {
        const ws = new NodeWebSocket(url, { headers });
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
    const wsBase = BASE.replace(/^http/, "ws");
    expect(await statusOf(`${wsBase}/v1/rooms/contract-${unique()}/ws`)).toBe(401);
    const someone = await register();
    const other = await register();
    const auth = { Authorization: `Bearer ${someone.accessToken}` };
    expect(await statusOf(`${wsBase}/v1/rooms/user:${other.user.id}/ws`, auth)).toBe(403);
    // Still serving after the refusals (on Node they are written on the raw socket).
    expect((await call("/healthz")).status).toBe(200);
  });

  it("delivers every message exactly once and in order to an SDK client whose connection is cut mid-stream", async () => {
    const reader = await register();
    const admin = await adminToken();
    const room = `contract-sdk-${unique()}`;
    const proxy = await startTcpProxy(Number(new URL(BASE).port));
    const client = connectRoom({
      url: proxy.url,
      room,
      token: async () => reader.accessToken,
      WebSocket: NodeWebSocket,
      heartbeatMs: 1_000,
      minReconnectionDelay: 100,
      maxReconnectionDelay: 400,
      connectionTimeout: 3_000,
    });
    const received: MessageFrame[] = [];
    let welcomes = 0;
    client.on("message", (m) => received.push(m));
    client.on("welcome", () => welcomes++);
    const until = async (check: () => boolean, what: string) => {
      const deadline = Date.now() + 20_000;
      while (!check()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    try {
      await until(() => client.connected, "the first welcome");
      const total = 40;
      for (let i = 1; i <= total; i++) {
        const res = await call(
          `/v1/rooms/${room}/messages`,
          { method: "POST", body: JSON.stringify({ data: { i } }) },
          admin,
        );
        expect(res.status).toBe(202);
        // Cut the way a network does (no close frame), once keeping reconnects out for a while.
        if (i === 15) proxy.cut(600);
        if (i === 30) {
          await until(() => welcomes >= 2, "the reconnect after the first cut");
          proxy.cut(0);
        }
        await new Promise((r) => setTimeout(r, 10));
      }
      await until(() => received.length >= total, `${total} messages (got ${received.length})`);
      await new Promise((r) => setTimeout(r, 300)); // a duplicate would show up now
      expect(received.map((m) => m.seq)).toEqual(Array.from({ length: total }, (_, k) => k + 1));
      expect(proxy.cutCount).toBeGreaterThanOrEqual(2);
      expect(welcomes).toBeGreaterThanOrEqual(3);
    } finally {
      client.close();
      await proxy.close();
    }
  });
});
