import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app.ts";
import { AUTH_RATE_LIMITS } from "../../src/features/auth/rate-limit.ts";
import { callJson, createAuthUser, randomClientIp, uniqueEmail } from "./support/auth.ts";

/** Rate limits, and what auth does when Redis or Postgres is down. */

const REDIS_DOWN = { UPSTASH_REDIS_REST_URL: "http://127.0.0.1:9" };
const NO_REDIS = { UPSTASH_REDIS_REST_URL: undefined, UPSTASH_REDIS_REST_TOKEN: undefined };
const POSTGRES_DOWN = { DATABASE_WS_PROXY: "ws://127.0.0.1:9" };

/** Calls a fresh app with `overrides` on top of the test env (a dependency pointed at a dead port). */
async function callWith(
  overrides: Record<string, string | undefined>,
  path: string,
  init: RequestInit & { ip?: string } = {},
): Promise<Response> {
  const { ip = randomClientIp(), ...rest } = init;
  const headers = new Headers(rest.headers);
  headers.set("CF-Connecting-IP", ip);
  if (rest.body !== undefined) headers.set("Content-Type", "application/json");
  const ctx = createExecutionContext();
  const res = await createApp().fetch(
    new Request(`http://edge.test${path}`, { ...rest, headers }),
    { ...env, ...overrides },
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return res;
}

const post = (body: unknown, init: RequestInit & { ip?: string } = {}) => ({
  method: "POST",
  body: JSON.stringify(body),
  ...init,
});

async function expectRateLimited(res: Response, maxSeconds: number): Promise<void> {
  expect(res.status).toBe(429);
  const retryAfter = Number(res.headers.get("Retry-After"));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(maxSeconds);
  expect(res.headers.get("Content-Type")).toContain("application/problem+json");
  expect(((await res.json()) as { type: string }).type).toBe("/problems/rate-limited");
}

/**
 * Sends until refused. The first `tokens` must pass; the refusal must come within `tokens` more
 * (Upstash's sliding window weighs the previous window down, so when a run straddles a window
 * boundary the limit bites a little later than the plain count says, never earlier).
 */
async function floodUntilLimited(
  tokens: number,
  send: () => Promise<Response>,
  expectedBeforeLimit: number,
): Promise<Response> {
  for (let i = 0; i < tokens; i++) {
    const res = await send();
    expect(res.status, `attempt ${i + 1} of ${tokens}`).toBe(expectedBeforeLimit);
    await res.arrayBuffer();
  }
  for (let i = 0; i < tokens; i++) {
    const res = await send();
    if (res.status === 429) return res;
    expect(res.status).toBe(expectedBeforeLimit);
    await res.arrayBuffer();
  }
  throw new Error(`no 429 within ${2 * tokens} attempts`);
}

// Floods are many sequential requests (sign-ins hash a password each) on a shared 2-core box.
const FLOOD_TIMEOUT_MS = 120_000;

describe("rate limits", () => {
  it(
    "limits sign-in attempts per account, whatever the client address",
    async () => {
      const user = await createAuthUser();
      const { tokens } = AUTH_RATE_LIMITS.login.perAccount;
      const limited = await floodUntilLimited(
        tokens,
        () => callJson("/v1/auth/login", { email: user.email, password: "wrong password" }),
        401,
      );
      await expectRateLimited(limited, 15 * 60);
      // Even the right password waits now: the limit is on attempts, not failures.
      await expectRateLimited(
        await callJson("/v1/auth/login", { email: user.email, password: user.password }),
        15 * 60,
      );
    },
    FLOOD_TIMEOUT_MS,
  );

  it(
    "limits sign-in attempts per client address, whatever the account",
    async () => {
      const ip = randomClientIp();
      const attempt = () =>
        callJson("/v1/auth/login", { email: uniqueEmail("nobody"), password: "whatever pw" }, { ip });
      await expectRateLimited(await floodUntilLimited(AUTH_RATE_LIMITS.login.perClient.tokens, attempt, 401), 5 * 60);
      // Another address is not affected.
      expect((await callJson("/v1/auth/login", { email: uniqueEmail("nobody"), password: "whatever pw" })).status).toBe(
        401,
      );
    },
    FLOOD_TIMEOUT_MS,
  );

  it(
    "limits registrations per client address",
    async () => {
      const ip = randomClientIp();
      const attempt = () =>
        callJson("/v1/auth/register", { email: uniqueEmail("burst"), password: "correct horse battery" }, { ip });
      await expectRateLimited(await floodUntilLimited(AUTH_RATE_LIMITS.register.perClient.tokens, attempt, 201), 3600);
    },
    FLOOD_TIMEOUT_MS,
  );

  it(
    "limits refreshes per client address",
    async () => {
      const ip = randomClientIp();
      const attempt = () => callJson("/v1/auth/refresh", { refreshToken: "malformed" }, { ip });
      await expectRateLimited(await floodUntilLimited(AUTH_RATE_LIMITS.refresh.perClient.tokens, attempt, 401), 60);
    },
    FLOOD_TIMEOUT_MS,
  );

  it(
    "counts an IPv6 client's whole /64 as one address",
    async () => {
      const prefix = `2001:db8:${Math.floor(Math.random() * 0xffff).toString(16)}:1`;
      let i = 0;
      const attempt = () => {
        i++;
        return callJson(
          "/v1/auth/refresh",
          { refreshToken: "malformed" },
          { ip: `${prefix}:${i.toString(16)}::${(i * 7).toString(16)}` },
        );
      };
      await expectRateLimited(await floodUntilLimited(AUTH_RATE_LIMITS.refresh.perClient.tokens, attempt, 401), 60);
    },
    FLOOD_TIMEOUT_MS,
  );
});

describe("when Redis is down", () => {
  it("refuses sign-in and registration with 503 and Retry-After instead of dropping the limits", async () => {
    const user = await createAuthUser();
    const login = await callWith(REDIS_DOWN, "/v1/auth/login", post({ email: user.email, password: user.password }));
    expect(login.status).toBe(503);
    expect(login.headers.get("Retry-After")).toMatch(/^\d+$/);
    const register = await callWith(
      REDIS_DOWN,
      "/v1/auth/register",
      post({ email: uniqueEmail(), password: "correct horse battery" }),
    );
    expect(register.status).toBe(503);
    expect(await register.text()).not.toContain("127.0.0.1");
  });

  it("keeps refresh working, so signed-in users stay signed in", async () => {
    const user = await createAuthUser({ loginable: false });
    const res = await callWith(REDIS_DOWN, "/v1/auth/refresh", post({ refreshToken: user.refreshToken }));
    expect(res.status).toBe(200);
  });

  it("still refuses a revoked session on sensitive routes, asking Postgres instead", async () => {
    const admin = await createAuthUser({ roles: ["admin"], loginable: false });
    const target = await createAuthUser({ loginable: false });
    const roles = (who: { auth: Record<string, string> }) =>
      callWith(REDIS_DOWN, `/v1/users/${target.id}/roles`, {
        method: "PUT",
        headers: who.auth,
        body: JSON.stringify({ roles: ["user"] }),
      });
    expect((await roles(admin)).status).toBe(200);
    // Logged out while Redis is down: the Redis entry is never written, Postgres has the truth.
    expect((await callWith(REDIS_DOWN, "/v1/auth/logout", post({ refreshToken: admin.refreshToken }))).status).toBe(
      204,
    );
    expect((await roles(admin)).status).toBe(401);
  });
});

describe("without Redis configured", () => {
  it("signs in without rate limits and checks revocation in Postgres", async () => {
    const user = await createAuthUser();
    const login = await callWith(NO_REDIS, "/v1/auth/login", post({ email: user.email, password: user.password }));
    expect(login.status).toBe(200);
    const admin = await createAuthUser({ roles: ["admin"], loginable: false });
    expect((await callWith(NO_REDIS, "/v1/auth/logout", post({ refreshToken: admin.refreshToken }))).status).toBe(204);
    const write = await callWith(NO_REDIS, `/v1/users/${user.id}/roles`, {
      method: "PUT",
      headers: admin.auth,
      body: JSON.stringify({ roles: ["user"] }),
    });
    expect(write.status).toBe(401);
  });
});

describe("when Postgres is down", () => {
  it("answers sign-in, refresh, logout and a fresh me with 503, never 500, and never leaks the cause", async () => {
    const user = await createAuthUser({ loginable: false });
    const answers = [
      await callWith(POSTGRES_DOWN, "/v1/auth/login", post({ email: user.email, password: user.password })),
      await callWith(
        POSTGRES_DOWN,
        "/v1/auth/register",
        post({ email: uniqueEmail(), password: "correct horse battery" }),
      ),
      await callWith(POSTGRES_DOWN, "/v1/auth/refresh", post({ refreshToken: user.refreshToken })),
      await callWith(POSTGRES_DOWN, "/v1/auth/logout", post({ refreshToken: user.refreshToken })),
      await callWith(POSTGRES_DOWN, "/v1/auth/me?fresh=true", { headers: user.auth }),
    ];
    for (const res of answers) {
      expect(res.status).toBe(503);
      expect(res.headers.get("Retry-After")).toMatch(/^\d+$/);
      const body = await res.text();
      expect(body).not.toMatch(/127\.0\.0\.1|refresh_tokens|select|insert/i);
    }
    // Nothing was lost: the refresh token still works once Postgres is back.
    expect((await callJson("/v1/auth/refresh", { refreshToken: user.refreshToken })).status).toBe(200);
  });

  it("still verifies tokens and answers me from them without it (neither needs the database)", async () => {
    const user = await createAuthUser({ loginable: false });
    const bad = await callWith(POSTGRES_DOWN, "/v1/auth/me", { headers: { Authorization: "Bearer x.y.z" } });
    expect(bad.status).toBe(401);
    const me = await callWith(POSTGRES_DOWN, "/v1/auth/me", { headers: user.auth });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ id: user.id, email: user.email });
    expect((await callWith(POSTGRES_DOWN, "/.well-known/jwks.json")).status).toBe(200);
  });
});
