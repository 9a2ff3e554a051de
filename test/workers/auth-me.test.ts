import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createApp } from "../../src/app.ts";
import { configFor } from "../../src/core/config.ts";
import type { Deps } from "../../src/core/deps.ts";
import { onError } from "../../src/core/error-handler.ts";
import { createLogger } from "../../common/logger.ts";
import { createRouter } from "../../src/core/openapi.ts";
import { issueAccessToken } from "../../src/features/auth/access-token.ts";
import { authRoutes } from "../../src/features/auth/routes.ts";
import { call, callJson, createAuthUser, withTestDatabase } from "./support/auth.ts";
import { users } from "../../src/db/schema.ts";
import { eq } from "drizzle-orm";

/**
 * GET /v1/auth/me answers from the verified access token's claims, with no Redis or Postgres I/O;
 * `?fresh=true` reads the account row. Role changes still reach the caller: tokens carry roles, and
 * a refresh mints the next token from the row.
 */

const app = createApp();
const config = configFor(env);

async function meWith(overrides: Record<string, string>, auth: Record<string, string>, query = ""): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await app.fetch(
    new Request(`http://edge.test/v1/auth/me${query}`, { headers: auth }),
    { ...env, ...overrides },
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return res;
}

const POSTGRES_DOWN = { DATABASE_WS_PROXY: "ws://127.0.0.1:9/v1" };
const BOTH_DOWN = { ...POSTGRES_DOWN, UPSTASH_REDIS_REST_URL: "http://127.0.0.1:9" };

/** The real auth routes behind deps that throw on any touch: any I/O fails the request. */
function ioFreeAuthApp(touched: string[]) {
  const deps = new Proxy({} as Deps, {
    get(_target, prop) {
      touched.push(String(prop));
      throw new Error(`/me touched deps.${String(prop)}`);
    },
  });
  const probe = createRouter();
  probe.use(async (c, next) => {
    c.set("requestId", "probe");
    c.set("config", config);
    c.set("log", createLogger("error"));
    c.set("deps", deps);
    c.set("principal", undefined);
    await next();
  });
  probe.route("/v1/auth", authRoutes);
  probe.onError(onError);
  return probe;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("GET /v1/auth/me", () => {
  it("answers from the token alone: deps that throw on any touch, no fetch, no socket", async () => {
    const user = await createAuthUser({ loginable: false, name: "Ada" });
    const created = await withTestDatabase(
      async (db) => (await db.query.users.findFirst({ where: eq(users.id, user.id) }))?.createdAt,
    );
    const touched: string[] = [];
    const fetchSpy = vi.spyOn(globalThis, "fetch");
    const socketSpy = vi.spyOn(globalThis, "WebSocket");
    const probe = ioFreeAuthApp(touched);
    for (let i = 0; i < 3; i++) {
      const res = await probe.request("/v1/auth/me", { headers: user.auth });
      expect(res.status).toBe(200);
      expect(res.headers.get("Cache-Control")).toBe("private, no-store");
      expect(await res.json()).toEqual({
        id: user.id,
        email: user.email,
        name: "Ada",
        roles: ["user"],
        createdAt: created?.toISOString(),
        emailVerified: false,
      });
    }
    expect(touched).toEqual([]);
    expect(fetchSpy).not.toHaveBeenCalled();
    expect(socketSpy).not.toHaveBeenCalled();
  });

  it("shows email_verified from the token's claim, without asking the row", async () => {
    const user = await createAuthUser({ loginable: false });
    const { token } = await issueAccessToken(
      {
        userId: user.id,
        roles: ["user"],
        sessionId: user.sessionId,
        profile: { email: user.email, name: null, created_at: new Date(0).toISOString(), email_verified: true },
      },
      config,
    );
    const touched: string[] = [];
    const res = await ioFreeAuthApp(touched).request("/v1/auth/me", { headers: { Authorization: `Bearer ${token}` } });
    expect(await res.json()).toMatchObject({ emailVerified: true, createdAt: new Date(0).toISOString() });
    expect(touched).toEqual([]);
  });

  it("shows the same profile from the token as from the row (?fresh=true)", async () => {
    const user = await createAuthUser({ loginable: false, name: "Grace" });
    const fromToken = await (await call("/v1/auth/me", { headers: user.auth })).json();
    const fresh = await call("/v1/auth/me?fresh=true", { headers: user.auth });
    expect(fresh.status).toBe(200);
    expect(await fresh.json()).toEqual(fromToken);
  });

  it("reads the row with ?fresh=true: it touches the database (and fails where there is none)", async () => {
    const user = await createAuthUser({ loginable: false });
    const touched: string[] = [];
    const res = await ioFreeAuthApp(touched).request("/v1/auth/me?fresh=true", { headers: user.auth });
    expect(res.status).toBe(500);
    expect(touched).toEqual(["db"]);
    expect((await ioFreeAuthApp([]).request("/v1/auth/me?fresh=maybe", { headers: user.auth })).status).toBe(422);
  });

  it("answers with Redis and Postgres both down; a fresh read then answers 503", async () => {
    const user = await createAuthUser({ loginable: false });
    const res = await meWith(BOTH_DOWN, user.auth);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: user.id, email: user.email, roles: ["user"] });
    expect((await meWith(POSTGRES_DOWN, user.auth, "?fresh=true")).status).toBe(503);
  });

  it("reads the row for a token minted without profile claims (e.g. before they existed)", async () => {
    const user = await createAuthUser({ loginable: false, name: "Old" });
    const { token } = await issueAccessToken({ userId: user.id, roles: ["user"], sessionId: user.sessionId }, config);
    const res = await call("/v1/auth/me", { headers: { Authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: user.id, email: user.email, name: "Old" });
    expect((await meWith(POSTGRES_DOWN, { Authorization: `Bearer ${token}` })).status).toBe(503);
  });

  it("says 401 on a fresh read when the account no longer exists, while the token alone still answers", async () => {
    const user = await createAuthUser({ loginable: false });
    await withTestDatabase((db) => db.delete(users).where(eq(users.id, user.id)));
    expect((await call("/v1/auth/me?fresh=true", { headers: user.auth })).status).toBe(401);
    expect((await call("/v1/auth/me", { headers: user.auth })).status).toBe(200);
  });
});

describe("role changes seen through /me", () => {
  it("shows the token's roles until the next refresh, the row's with ?fresh=true, and the new ones after refresh", async () => {
    const admin = await createAuthUser({ roles: ["admin", "user"], loginable: false });
    const user = await createAuthUser({ loginable: false });
    const changed = await callJson(
      `/v1/users/${user.id}/roles`,
      { roles: ["user", "editor"] },
      { method: "PUT", headers: admin.auth },
    );
    expect(changed.status).toBe(200);
    // What the presented token grants: an added role takes effect at the next refresh.
    expect(await (await call("/v1/auth/me", { headers: user.auth })).json()).toMatchObject({ roles: ["user"] });
    const fresh = (await (await call("/v1/auth/me?fresh=true", { headers: user.auth })).json()) as { roles: string[] };
    expect(fresh.roles.sort()).toEqual(["editor", "user"]);
    const refreshed = await callJson("/v1/auth/refresh", { refreshToken: user.refreshToken });
    expect(refreshed.status).toBe(200);
    const { accessToken } = (await refreshed.json()) as { accessToken: string };
    const after = (await (
      await call("/v1/auth/me", { headers: { Authorization: `Bearer ${accessToken}` } })
    ).json()) as {
      roles: string[];
    };
    expect(after.roles.sort()).toEqual(["editor", "user"]);
  });

  it("refuses a removed role's token on sensitive routes at once, though /me still shows what it lists", async () => {
    const admin = await createAuthUser({ roles: ["admin", "user"], loginable: false });
    const demoted = await createAuthUser({ roles: ["admin", "user"], loginable: false });
    const res = await callJson(
      `/v1/users/${demoted.id}/roles`,
      { roles: ["user"] },
      { method: "PUT", headers: admin.auth },
    );
    expect(res.status).toBe(200);
    // The demoted account's sessions were revoked: its token no longer passes requireActiveSession.
    const attempt = await callJson(
      `/v1/users/${admin.id}/roles`,
      { roles: ["user"] },
      { method: "PUT", headers: demoted.auth },
    );
    expect(attempt.status).toBe(401);
    expect((await callJson("/v1/auth/refresh", { refreshToken: demoted.refreshToken })).status).toBe(401);
  });
});
