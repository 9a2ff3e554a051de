import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app.ts";
import { call, callJson, createAuthUser } from "./support/auth.ts";

const app = createApp();

async function meWith(overrides: Record<string, string>, auth: Record<string, string>): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await app.fetch(
    new Request("http://edge.test/v1/auth/me", { headers: auth }),
    { ...env, ...overrides },
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return res;
}

const POSTGRES_DOWN = { DATABASE_WS_PROXY: "ws://127.0.0.1:9/v1" };

describe("the profile behind GET /v1/auth/me", () => {
  it("is served from the Redis cache once read, with no Postgres query", async () => {
    const user = await createAuthUser({ loginable: false, name: "Ada" });
    expect((await call("/v1/auth/me", { headers: user.auth })).status).toBe(200);
    // Postgres unreachable: only the cache can answer this.
    const cached = await meWith(POSTGRES_DOWN, user.auth);
    expect(cached.status).toBe(200);
    expect(await cached.json()).toMatchObject({ id: user.id, email: user.email, name: "Ada", roles: ["user"] });
  });

  it("is read from Postgres when Redis is down", async () => {
    const user = await createAuthUser({ loginable: false });
    const res = await meWith({ UPSTASH_REDIS_REST_URL: "http://127.0.0.1:9" }, user.auth);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: user.id });
  });

  it("shows a role change at once: the change drops the cached profile", async () => {
    const admin = await createAuthUser({ roles: ["admin", "user"], loginable: false });
    const user = await createAuthUser({ loginable: false });
    expect(await (await call("/v1/auth/me", { headers: user.auth })).json()).toMatchObject({ roles: ["user"] });
    const changed = await callJson(
      `/v1/users/${user.id}/roles`,
      { roles: ["user", "editor"] },
      {
        method: "PUT",
        headers: admin.auth,
      },
    );
    expect(changed.status).toBe(200);
    const after = (await (await call("/v1/auth/me", { headers: user.auth })).json()) as { roles: string[] };
    expect(after.roles.sort()).toEqual(["editor", "user"]);
  });
});
