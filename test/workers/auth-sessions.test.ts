import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createRedis } from "../../src/adapters/redis.ts";
import type { RoomGateway } from "../../src/adapters/rooms.ts";
import type { Bindings } from "../../src/core/app-env.ts";
import { configFor } from "../../src/core/config.ts";
import { createDeps } from "../../src/composition/deps.ts";
import type { Deps } from "../../src/core/deps.ts";
import { createLogger } from "../../common/logger.ts";
import { refreshTokens } from "../../src/db/schema.ts";
import { revocationTtlSeconds, revokedSessionKey } from "../../src/features/auth/revocation.ts";
import { logout } from "../../src/features/auth/service.ts";
import { REFRESH_REUSE_GRACE_SECONDS } from "../../src/features/auth/sessions.ts";
import { type AuthTestUser, call, callJson, createAuthUser, withTestDatabase } from "./support/auth.ts";
import { join, uniqueRoom } from "./support/rooms.ts";

interface TokenPair {
  accessToken: string;
  refreshToken: string;
  user: { id: string; roles: string[] };
}

const config = configFor(env);
const refresh = (refreshToken: string) => callJson("/v1/auth/refresh", { refreshToken });
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/** An admin write: the sensitive route every test here uses to see whether a session still counts. */
async function adminWrite(admin: { accessToken: string }, targetId: string): Promise<number> {
  const res = await callJson(
    `/v1/users/${targetId}/roles`,
    { roles: ["user"] },
    { method: "PUT", headers: bearer(admin.accessToken) },
  );
  return res.status;
}

/** Moves a user's spent-at times back, as if the spends happened long ago (past the grace window). */
async function ageSpentTokens(userId: string, seconds: number): Promise<void> {
  await withTestDatabase((db) =>
    db
      .update(refreshTokens)
      .set({ spentAt: sql`${refreshTokens.spentAt} - make_interval(secs => ${seconds})` })
      .where(eq(refreshTokens.userId, userId)),
  );
}

async function revokedInRedis(sessionId: string): Promise<{ present: boolean; ttl: number }> {
  const redis = createRedis({
    url: config.UPSTASH_REDIS_REST_URL as string,
    token: config.UPSTASH_REDIS_REST_TOKEN as string,
    timeoutMs: 2_000,
  });
  const key = revokedSessionKey(config, sessionId);
  const [value, ttl] = await Promise.all([redis.get(key), redis.ttl(key)]);
  return { present: value !== null, ttl };
}

describe("refresh-token rotation", () => {
  it("spends the token and returns a new pair in the same session", async () => {
    const user = await createAuthUser({ loginable: false });
    const res = await refresh(user.refreshToken);
    expect(res.status).toBe(200);
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    const pair = (await res.json()) as TokenPair;
    expect(pair.refreshToken).not.toBe(user.refreshToken);
    expect(pair.user.id).toBe(user.id);
    const claims = JSON.parse(
      atob((pair.accessToken.split(".")[1] as string).replace(/-/g, "+").replace(/_/g, "/")),
    ) as { sid: string };
    expect(claims.sid).toBe(user.sessionId);
    expect((await call("/v1/auth/me", { headers: bearer(pair.accessToken) })).status).toBe(200);
    expect((await refresh(pair.refreshToken)).status).toBe(200);
  });

  it("answers an unknown, malformed or expired refresh token with 401", async () => {
    expect((await refresh("A".repeat(43))).status).toBe(401);
    expect((await refresh("not a token")).status).toBe(401);
    const user = await createAuthUser({ loginable: false });
    await withTestDatabase((db) =>
      db
        .update(refreshTokens)
        .set({ expiresAt: new Date(Date.now() - 1000) })
        .where(eq(refreshTokens.userId, user.id)),
    );
    const res = await refresh(user.refreshToken);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { type: string }).type).toBe("/problems/invalid-refresh-token");
  });

  it("treats a spent token presented after the grace window as theft and revokes the whole family", async () => {
    const admin = await createAuthUser({ roles: ["admin"], loginable: false });
    const target = await createAuthUser({ loginable: false });
    const rotated = (await (await refresh(admin.refreshToken)).json()) as TokenPair;
    await ageSpentTokens(admin.id, REFRESH_REUSE_GRACE_SECONDS + 5);

    expect((await refresh(admin.refreshToken)).status).toBe(401);
    // The thief's replay also killed the legitimate child and the session's sensitive access.
    expect((await refresh(rotated.refreshToken)).status).toBe(401);
    expect(await adminWrite(rotated, target.id)).toBe(401);
    expect(await adminWrite(admin, target.id)).toBe(401);
    expect((await revokedInRedis(admin.sessionId)).present).toBe(true);
  });

  it("gives a second refresh of the same token within the grace window a fresh pair, not a revocation", async () => {
    const user = await createAuthUser({ loginable: false });
    const first = await refresh(user.refreshToken);
    const second = await refresh(user.refreshToken);
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    const a = (await first.json()) as TokenPair;
    const b = (await second.json()) as TokenPair;
    expect(a.refreshToken).not.toBe(b.refreshToken);
    expect((await refresh(a.refreshToken)).status).toBe(200);
    expect((await refresh(b.refreshToken)).status).toBe(200);
  });

  it("serves two concurrent refreshes of one token without revoking the session", async () => {
    const user = await createAuthUser({ loginable: false });
    const results = await Promise.all([refresh(user.refreshToken), refresh(user.refreshToken)]);
    expect(results.map((r) => r.status)).toEqual([200, 200]);
    const pairs = (await Promise.all(results.map((r) => r.json()))) as TokenPair[];
    for (const pair of pairs) expect((await refresh(pair.refreshToken)).status).toBe(200);
    const rows = await withTestDatabase((db) =>
      db.select().from(refreshTokens).where(eq(refreshTokens.userId, user.id)),
    );
    expect(rows.every((r) => r.revokedAt === null)).toBe(true);
  });
});

describe("logout", () => {
  it("revokes the token's family: refresh fails, sensitive routes refuse, ordinary reads accept until expiry", async () => {
    const admin = await createAuthUser({ roles: ["admin"], loginable: false });
    const target = await createAuthUser({ loginable: false });
    const rotated = (await (await refresh(admin.refreshToken)).json()) as TokenPair;
    expect(await adminWrite(rotated, target.id)).toBe(200);

    const res = await callJson("/v1/auth/logout", { refreshToken: rotated.refreshToken });
    expect(res.status).toBe(204);
    expect((await refresh(rotated.refreshToken)).status).toBe(401);
    expect(await adminWrite(rotated, target.id)).toBe(401);
    // Documented: an ordinary read verifies without I/O and accepts the token until it expires.
    expect((await call("/v1/auth/me", { headers: bearer(rotated.accessToken) })).status).toBe(200);

    const listed = await revokedInRedis(admin.sessionId);
    expect(listed.present).toBe(true);
    expect(listed.ttl).toBeGreaterThan(revocationTtlSeconds(config) - 10);
    expect(listed.ttl).toBeLessThanOrEqual(revocationTtlSeconds(config));
  });

  it("answers 204 for an unknown token and leaves other sessions alone", async () => {
    const user = await createAuthUser({ loginable: false });
    expect((await callJson("/v1/auth/logout", { refreshToken: "A".repeat(43) })).status).toBe(204);
    expect((await refresh(user.refreshToken)).status).toBe(200);
  });

  it("revokes every session of the caller on logout-all", async () => {
    const user = await createAuthUser();
    const second = (await (
      await callJson("/v1/auth/login", { email: user.email, password: user.password })
    ).json()) as TokenPair;
    const res = await call("/v1/auth/logout-all", { method: "POST", headers: user.auth });
    expect(res.status).toBe(204);
    expect((await refresh(user.refreshToken)).status).toBe(401);
    expect((await refresh(second.refreshToken)).status).toBe(401);
    const sid = (
      JSON.parse(atob((second.accessToken.split(".")[1] as string).replace(/-/g, "+").replace(/_/g, "/"))) as {
        sid: string;
      }
    ).sid;
    expect((await revokedInRedis(user.sessionId)).present).toBe(true);
    expect((await revokedInRedis(sid)).present).toBe(true);
    expect((await call("/v1/auth/logout-all", { method: "POST" })).status).toBe(401);
  });
});

describe("closing a revoked session's sockets", () => {
  const asRoomsUser = (user: AuthTestUser) => ({
    userId: user.id,
    sessionId: user.sessionId,
    roles: user.roles,
    token: user.accessToken,
  });

  it("closes the session's open WebSockets on logout", async () => {
    const user = await createAuthUser({ loginable: false });
    const socket = await join(uniqueRoom("auth"), asRoomsUser(user));
    expect((await callJson("/v1/auth/logout", { refreshToken: user.refreshToken })).status).toBe(204);
    const closed = await socket.waitClosed(10_000);
    expect(closed.code).not.toBe(1000);
  });

  it("asks realtime to disconnect the session and still succeeds when realtime fails", async () => {
    const user = await createAuthUser({ loginable: false });
    const calls: [string, string][] = [];
    const ctx = createExecutionContext();
    const real = createDeps(config, env as unknown as Bindings, ctx);
    // The real gateway, with the one call the logout makes failing.
    const rooms: RoomGateway = {
      ...real.deps.rooms,
      disconnectSessions: async (sessions) => {
        for (const { userId, sessionId } of sessions) calls.push([userId, sessionId]);
        throw new Error("rooms are down");
      },
    };
    const deps: Deps = { db: real.deps.db, redis: real.deps.redis, storage: real.deps.storage, rooms, background: ctx };
    await logout({ deps, config, log: createLogger("error"), client: "test" }, user.refreshToken);
    await waitOnExecutionContext(ctx);
    await real.close();
    // One attempt and one retry, both for this session; the logout itself returned normally.
    expect(calls).toEqual([
      [user.id, user.sessionId],
      [user.id, user.sessionId],
    ]);
    expect((await refresh(user.refreshToken)).status).toBe(401);
  });
});
