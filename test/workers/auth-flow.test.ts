import { env } from "cloudflare:test";
import { eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { configFor } from "../../src/core/config.ts";
import { users } from "../../src/db/schema.ts";
import type { Database } from "../../src/adapters/postgres.ts";
import { ProblemError } from "../../src/core/problem.ts";
import { setUserRoles } from "../../src/features/auth/users.ts";
import { call, callJson, createAuthUser, randomClientIp, uniqueEmail, withTestDatabase } from "./support/auth.ts";

interface TokenPair {
  user: { id: string; email: string; name: string | null; roles: string[]; createdAt: string };
  accessToken: string;
  refreshToken: string;
  tokenType: string;
  expiresIn: number;
}
interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  errors?: { path: string; message: string }[];
}

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

async function register(body: Record<string, unknown>): Promise<Response> {
  return callJson("/v1/auth/register", body);
}

describe("register and sign in", () => {
  it("registers an account and answers with a token pair that signs the user in", async () => {
    const email = uniqueEmail("reg");
    const res = await register({ email, password: "correct horse battery", name: "Ada" });
    expect(res.status).toBe(201);
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    const body = (await res.json()) as TokenPair;
    expect(body).toMatchObject({ tokenType: "Bearer", expiresIn: configFor(env).ACCESS_TOKEN_TTL_SECONDS });
    expect(body.user).toMatchObject({ email, name: "Ada", roles: ["user"] });
    expect(body.user.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Date(body.user.createdAt).toISOString()).toBe(body.user.createdAt);
    expect(body.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const me = await call("/v1/auth/me", { headers: bearer(body.accessToken) });
    expect(me.status).toBe(200);
    expect(await me.json()).toEqual(body.user);
  });

  it("stores the email normalised and refuses the same address in another case with 409", async () => {
    const local = `Mixed-${crypto.randomUUID()}`;
    const first = await register({ email: `  ${local}@Example.TEST `, password: "correct horse battery" });
    // Surrounding spaces are not a valid email for zod; the normalised form is what is stored.
    if (first.status === 422) {
      const ok = await register({ email: `${local}@Example.TEST`, password: "correct horse battery" });
      expect(ok.status).toBe(201);
      expect(((await ok.json()) as TokenPair).user.email).toBe(`${local}@example.test`.toLowerCase());
    } else {
      expect(first.status).toBe(201);
    }
    const again = await register({ email: `${local.toLowerCase()}@example.test`, password: "another password" });
    expect(again.status).toBe(409);
    expect(again.headers.get("Content-Type")).toContain("application/problem+json");
    expect(((await again.json()) as Problem).type).toBe("/problems/email-taken");
  });

  it("refuses passwords shorter than 8 characters or longer than 256 bytes with 422", async () => {
    const short = await register({ email: uniqueEmail(), password: "1234567" });
    expect(short.status).toBe(422);
    expect(((await short.json()) as Problem).errors?.[0]?.path).toBe("password");
    // 86 three-byte characters: 86 characters but 258 bytes.
    const long = await register({ email: uniqueEmail(), password: "€".repeat(86) });
    expect(long.status).toBe(422);
    const ok = await register({ email: uniqueEmail(), password: "€".repeat(85) });
    expect(ok.status).toBe(201);
  });

  it("refuses a malformed email and a missing body with 422", async () => {
    expect((await register({ email: "not-an-email", password: "correct horse battery" })).status).toBe(422);
    expect((await register({})).status).toBe(422);
  });

  it("signs in with the email in any case", async () => {
    const user = await createAuthUser();
    const res = await callJson("/v1/auth/login", { email: user.email.toUpperCase(), password: user.password });
    expect(res.status).toBe(200);
    const body = (await res.json()) as TokenPair;
    expect(body.user.id).toBe(user.id);
    expect((await call("/v1/auth/me", { headers: bearer(body.accessToken) })).status).toBe(200);
  });

  it("signs in a seeded account whose email has a dotless domain (the dev admin@localhost)", async () => {
    const user = await createAuthUser({ email: `admin-${crypto.randomUUID()}@localhost`, roles: ["admin", "user"] });
    const res = await callJson("/v1/auth/login", { email: user.email, password: user.password });
    expect(res.status).toBe(200);
    expect(((await res.json()) as TokenPair).user.roles).toEqual(["admin", "user"]);
  });

  it("gives the same 401 for an unknown email and a wrong password", async () => {
    const user = await createAuthUser();
    const unknown = await callJson("/v1/auth/login", { email: uniqueEmail("nobody"), password: user.password });
    const wrong = await callJson("/v1/auth/login", { email: user.email, password: `${user.password}x` });
    expect(unknown.status).toBe(401);
    expect(wrong.status).toBe(401);
    const strip = ({ requestId: _id, ...rest }: Problem & { requestId?: string }) => rest;
    expect(strip((await unknown.json()) as Problem)).toEqual(strip((await wrong.json()) as Problem));
    expect(unknown.headers.get("Content-Type")).toBe(wrong.headers.get("Content-Type"));
  });

  it("upgrades a hash with old parameters at the next successful login", async () => {
    const { hashPassword } = await import("../../src/features/auth/password.ts");
    const user = await createAuthUser({ loginable: false });
    const weak = await hashPassword(user.password, { logN: 12, r: 8, p: 1 });
    await withTestDatabase((db) => db.update(users).set({ passwordHash: weak }).where(eq(users.id, user.id)));
    const res = await callJson("/v1/auth/login", { email: user.email, password: user.password });
    expect(res.status).toBe(200);
    const [row] = await withTestDatabase((db) => db.select().from(users).where(eq(users.id, user.id)));
    expect(row?.passwordHash).toMatch(/^\$scrypt\$ln=14,r=8,p=5\$/);
    const again = await callJson("/v1/auth/login", { email: user.email, password: user.password });
    expect(again.status).toBe(200);
  });
});

describe("bearer guard", () => {
  it("answers a missing or invalid token on a protected route with 401 and WWW-Authenticate", async () => {
    const cases: Record<string, string>[] = [
      {},
      { Authorization: "Bearer nope" },
      { Authorization: "Basic dXNlcjpwdw==" },
    ];
    for (const headers of cases) {
      const res = await call("/v1/auth/me", { headers });
      expect(res.status).toBe(401);
      expect(res.headers.get("WWW-Authenticate")).toBe('Bearer error="invalid_token"');
      expect(res.headers.get("Content-Type")).toContain("application/problem+json");
    }
  });

  it("does not accept the token from the query string", async () => {
    const user = await createAuthUser({ loginable: false });
    const res = await call(`/v1/auth/me?token=${user.accessToken}&access_token=${user.accessToken}`);
    expect(res.status).toBe(401);
  });
});

describe("roles", () => {
  it("lets an admin replace another account's roles", async () => {
    const admin = await createAuthUser({ roles: ["admin", "user"], loginable: false });
    const target = await createAuthUser({ loginable: false });
    const res = await callJson(
      `/v1/users/${target.id}/roles`,
      { roles: ["user", "editor", "editor"] },
      { method: "PUT", headers: admin.auth },
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: target.id, roles: ["editor", "user"] });
    // The new role reaches the target's tokens at its next refresh.
    const refreshed = await callJson("/v1/auth/refresh", { refreshToken: target.refreshToken });
    expect(((await refreshed.json()) as TokenPair).user.roles).toEqual(["editor", "user"]);
  });

  it("answers a non-admin with 403, no token with 401, an unknown account with 404", async () => {
    const user = await createAuthUser({ loginable: false });
    const admin = await createAuthUser({ roles: ["admin"], loginable: false });
    const body = { roles: ["admin"] };
    expect((await callJson(`/v1/users/${user.id}/roles`, body, { method: "PUT", headers: user.auth })).status).toBe(
      403,
    );
    const anonymous = await callJson(`/v1/users/${user.id}/roles`, body, { method: "PUT" });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("WWW-Authenticate")).toContain("Bearer");
    const missing = await callJson(`/v1/users/${crypto.randomUUID()}/roles`, body, {
      method: "PUT",
      headers: admin.auth,
    });
    expect(missing.status).toBe(404);
  });

  it("refuses malformed roles and ids with 422", async () => {
    const admin = await createAuthUser({ roles: ["admin"], loginable: false });
    const target = await createAuthUser({ loginable: false });
    for (const roles of [["Admin"], ["a b"], [""], Array.from({ length: 17 }, (_, i) => `r${i}`)]) {
      const res = await callJson(`/v1/users/${target.id}/roles`, { roles }, { method: "PUT", headers: admin.auth });
      expect(res.status).toBe(422);
    }
    expect(
      (await callJson("/v1/users/not-a-uuid/roles", { roles: [] }, { method: "PUT", headers: admin.auth })).status,
    ).toBe(422);
  });

  it("revokes the sessions of an account that loses a role", async () => {
    const admin = await createAuthUser({ roles: ["admin"], loginable: false });
    const demoted = await createAuthUser({ roles: ["admin", "user"], loginable: false });
    const res = await callJson(
      `/v1/users/${demoted.id}/roles`,
      { roles: ["user"] },
      { method: "PUT", headers: admin.auth },
    );
    expect(res.status).toBe(200);
    // Its token still says admin, but the admin write checks the revocation list.
    const attempt = await callJson(
      `/v1/users/${admin.id}/roles`,
      { roles: ["user"] },
      { method: "PUT", headers: demoted.auth },
    );
    expect(attempt.status).toBe(401);
    expect((await callJson("/v1/auth/refresh", { refreshToken: demoted.refreshToken })).status).toBe(401);
  });
});

describe("account invariants in Postgres", () => {
  it("refuses to store an email that is not normalised, whoever writes it", async () => {
    const attempt = withTestDatabase((db) =>
      db
        .insert(users)
        .values({ email: `Upper-${crypto.randomUUID()}@example.test`, passwordHash: "x", roles: ["user"] }),
    );
    await expect(attempt).rejects.toThrow();
  });

  it("refuses to take the admin role from the last admin", async () => {
    const admin = await createAuthUser({ roles: ["admin"], loginable: false });
    class Rollback extends Error {}
    // Inside a transaction that is rolled back: demote every other admin, then try the last one.
    const outcome = await withTestDatabase((db) =>
      db
        .transaction(async (tx) => {
          await tx.execute(sql`update users set roles = array_remove(roles, 'admin') where id <> ${admin.id}`);
          const result = await setUserRoles(tx as unknown as Database, admin.id, ["user"]).then(
            () => "changed",
            (error: unknown) => (error instanceof ProblemError ? `${error.status} ${error.type}` : String(error)),
          );
          throw new Rollback(result);
        })
        .catch((error: unknown) => (error instanceof Rollback ? error.message : `unexpected ${String(error)}`)),
    );
    expect(outcome).toBe("409 last-admin");
    const [row] = await withTestDatabase((db) => db.select().from(users).where(eq(users.id, admin.id)));
    expect(row?.roles).toEqual(["admin"]);
  });
});

describe("published keys and docs", () => {
  it("publishes only the public asymmetric keys at /.well-known/jwks.json", async () => {
    const res = await call("/.well-known/jwks.json");
    expect(res.status).toBe(200);
    const { keys } = (await res.json()) as { keys: Record<string, unknown>[] };
    expect(keys.map((k) => k.kid)).toEqual(["test-ed25519"]);
    expect(keys[0]).toMatchObject({ kty: "OKP", crv: "Ed25519", alg: "EdDSA", use: "sig" });
    expect(keys[0]).not.toHaveProperty("d");
    expect(JSON.stringify(keys)).not.toContain('"k"');
  });

  it("refuses an auth body over 4 KiB with 413", async () => {
    const res = await callJson(
      "/v1/auth/login",
      { email: uniqueEmail(), password: "x".repeat(5000) },
      { ip: randomClientIp() },
    );
    expect(res.status).toBe(413);
  });
});
