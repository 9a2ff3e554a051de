import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { join, signIn, uniqueRoom, upgradeRequest, WARM_UP_TIMEOUT_MS, warmUp } from "./support/rooms.ts";

beforeAll(warmUp, WARM_UP_TIMEOUT_MS);

const upgrade = (request: Request) => exports.default.fetch(request);

async function expectProblem(res: Response, status: number) {
  expect(res.status).toBe(status);
  expect(res.webSocket).toBeNull();
  expect(res.headers.get("Content-Type")).toContain("application/problem+json");
  const body = (await res.json()) as Record<string, unknown>;
  expect(body).toMatchObject({ status });
  expect(body.requestId).toBe(res.headers.get("X-Request-Id"));
  return body;
}

describe("joining a room over WebSocket", () => {
  it("welcomes a signed-in user with the room, their id, the latest seq and a presence sync", async () => {
    const user = await signIn();
    const room = uniqueRoom();
    const socket = await join(room, user);
    const welcome = socket.frames[0];
    expect(welcome).toMatchObject({ type: "welcome", room, user: { id: user.userId }, seq: 0 });
    expect(welcome?.type === "welcome" && welcome.connectionId).toMatch(/^[0-9a-f-]{36}$/);
    const sync = await socket.next("presence");
    expect(sync).toEqual({ type: "presence", action: "sync", users: [{ id: user.userId, connections: 1 }] });
    socket.close();
  });

  it("accepts the token in ?token= on the upgrade route", async () => {
    const user = await signIn();
    const socket = await join(uniqueRoom(), user, { viaQuery: true });
    expect(socket.frames[0]).toMatchObject({ type: "welcome", user: { id: user.userId } });
    socket.close();
  });

  it("refuses an upgrade without a token with a 401 problem and a Bearer challenge", async () => {
    const res = await upgrade(upgradeRequest(uniqueRoom()));
    await expectProblem(res, 401);
    expect(res.headers.get("WWW-Authenticate")).toBe('Bearer error="invalid_token"');
  });

  it("refuses a forged or malformed token with 401 before upgrading", async () => {
    const user = await signIn();
    const [header, payload] = user.token.split(".");
    const forged = `${header}.${payload}.${"A".repeat(43)}`;
    await expectProblem(
      await upgrade(upgradeRequest(uniqueRoom(), { headers: { Authorization: `Bearer ${forged}` } })),
      401,
    );
    await expectProblem(await upgrade(upgradeRequest(uniqueRoom(), { headers: { Authorization: "Basic abc" } })), 401);
    const queryForged = new Request(`http://edge.test/v1/rooms/${uniqueRoom()}/ws?token=${forged}`, {
      headers: { Upgrade: "websocket" },
    });
    await expectProblem(await upgrade(queryForged), 401);
  });

  it("refuses another user's private room with 403 and lets its owner in", async () => {
    const owner = await signIn();
    const other = await signIn();
    await expectProblem(await upgrade(upgradeRequest(`user:${owner.userId}`, { user: other })), 403);
    const socket = await join(`user:${owner.userId}`, owner);
    socket.close();
  });

  it("keeps admin:* rooms to admins", async () => {
    const user = await signIn();
    const admin = await signIn({ roles: ["user", "admin"] });
    const room = `admin:${uniqueRoom()}`;
    await expectProblem(await upgrade(upgradeRequest(room, { user })), 403);
    const socket = await join(room, admin);
    socket.close();
  });

  it("answers 404 for a name no room can have, before upgrading", async () => {
    const user = await signIn();
    for (const bad of ["Upper", "-dash-first", "x".repeat(65), "sp%20ace"]) {
      await expectProblem(await upgrade(upgradeRequest(bad, { user })), 404);
    }
  });

  it("checks the token before telling anyone whether the room name is valid", async () => {
    await expectProblem(await upgrade(upgradeRequest("Upper")), 401);
  });

  it("answers 426 when the request is not a WebSocket upgrade", async () => {
    const user = await signIn();
    const res = await exports.default.fetch(
      new Request(`http://edge.test/v1/rooms/${uniqueRoom()}/ws`, {
        headers: { Authorization: `Bearer ${user.token}` },
      }),
    );
    await expectProblem(res, 426);
  });

  it("answers 422 for a since that is not a sequence number", async () => {
    const user = await signIn();
    const res = await upgrade(
      new Request(`http://edge.test/v1/rooms/${uniqueRoom()}/ws?since=-1`, {
        headers: { Upgrade: "websocket", Authorization: `Bearer ${user.token}` },
      }),
    );
    const problem = await expectProblem(res, 422);
    expect(problem.errors).toEqual([expect.objectContaining({ path: "query.since" })]);
  });

  it("lets a client into system (read-only) but not into publishing there", async () => {
    const user = await signIn();
    const socket = await join("system", user);
    socket.send({ type: "publish", data: { hello: 1 }, id: "p1" });
    const error = await socket.next("error");
    expect(error).toMatchObject({ code: "read_only", id: "p1" });
    socket.close();
  });

  it("documents the four rooms routes in the OpenAPI document", async () => {
    const res = await exports.default.fetch(new Request("http://edge.test/openapi.json"));
    const doc = (await res.json()) as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(doc.paths["/v1/rooms/{room}/ws"] ?? {})).toEqual(["get"]);
    expect(Object.keys(doc.paths["/v1/rooms/{room}/messages"] ?? {}).sort()).toEqual(["get", "post"]);
    expect(Object.keys(doc.paths["/v1/rooms/{room}/presence"] ?? {})).toEqual(["get"]);
  });
});
