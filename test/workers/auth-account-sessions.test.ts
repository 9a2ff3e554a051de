import { describe, expect, it } from "vitest";
import type { SessionInfo } from "../../src/features/auth/model.ts";
import { type AuthTestUser, call, callJson, createAuthUser, uniqueEmail } from "./support/auth.ts";
import { join, uniqueRoom } from "./support/rooms.ts";

interface TokenPair {
  accessToken: string;
  refreshToken: string;
  user: { id: string };
}
interface AdminUser {
  id: string;
  email: string;
  disabled: boolean;
  emailVerified: boolean;
  externalIssuer: string | null;
}

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const sidOf = (jwt: string): string =>
  (JSON.parse(atob((jwt.split(".")[1] as string).replace(/-/g, "+").replace(/_/g, "/"))) as { sid: string }).sid;

async function loginFrom(user: AuthTestUser, ip: string, userAgent: string): Promise<TokenPair> {
  const res = await callJson(
    "/v1/auth/login",
    { email: user.email, password: user.password },
    { ip, headers: { "User-Agent": userAgent } },
  );
  expect(res.status).toBe(200);
  return (await res.json()) as TokenPair;
}

async function sessionsOf(accessToken: string): Promise<SessionInfo[]> {
  const res = await call("/v1/auth/sessions", { headers: bearer(accessToken) });
  expect(res.status).toBe(200);
  expect(res.headers.get("Cache-Control")).toBe("private, no-store");
  return ((await res.json()) as { items: SessionInfo[] }).items;
}

describe("the caller's sessions", () => {
  it("lists each sign-in with its device and network prefix, marks the current one, and revokes one", async () => {
    const user = await createAuthUser();
    const laptop = await loginFrom(user, "203.0.113.77", "Laptop/1.0");
    const phone = await loginFrom(user, "2001:db8:abcd:12::1", "Phone/2.0");

    const listed = await sessionsOf(phone.accessToken);
    const byId = new Map(listed.map((s) => [s.id, s]));
    expect(listed).toHaveLength(3);
    expect(byId.get(sidOf(laptop.accessToken))).toMatchObject({
      userAgent: "Laptop/1.0",
      clientPrefix: "203.0.113.0/24",
      current: false,
    });
    expect(byId.get(sidOf(phone.accessToken))).toMatchObject({
      userAgent: "Phone/2.0",
      clientPrefix: "2001:db8:abcd::/48",
      current: true,
    });
    expect(byId.get(user.sessionId)).toMatchObject({ userAgent: null, clientPrefix: null, current: false });
    // Nothing more precise than the prefix is stored or shown.
    expect(JSON.stringify(listed)).not.toContain("203.0.113.77");

    // A refresh keeps the session (same id, same start) and moves its last use.
    const before = byId.get(sidOf(laptop.accessToken)) as SessionInfo;
    const refreshed = (await (
      await callJson("/v1/auth/refresh", { refreshToken: laptop.refreshToken })
    ).json()) as TokenPair;
    const after = (await sessionsOf(phone.accessToken)).find((s) => s.id === before.id) as SessionInfo;
    expect(after).toMatchObject({ createdAt: before.createdAt, userAgent: "Laptop/1.0" });
    expect(Date.parse(after.lastUsedAt)).toBeGreaterThanOrEqual(Date.parse(before.lastUsedAt));

    // Revoking the laptop from the phone: its socket closes, its refresh token dies, the list shrinks.
    const socket = await join(uniqueRoom("sessions"), {
      userId: user.id,
      sessionId: before.id,
      roles: user.roles,
      token: refreshed.accessToken,
    });
    const del = await call(`/v1/auth/sessions/${before.id}`, { method: "DELETE", headers: bearer(phone.accessToken) });
    expect(del.status).toBe(204);
    expect((await socket.waitClosed(10_000)).code).not.toBe(1000);
    expect((await callJson("/v1/auth/refresh", { refreshToken: refreshed.refreshToken })).status).toBe(401);
    expect((await sessionsOf(phone.accessToken)).map((s) => s.id).sort()).toEqual(
      [user.sessionId, sidOf(phone.accessToken)].sort(),
    );
    expect((await callJson("/v1/auth/refresh", { refreshToken: phone.refreshToken })).status).toBe(200);

    const twice = await call(`/v1/auth/sessions/${before.id}`, {
      method: "DELETE",
      headers: bearer(phone.accessToken),
    });
    expect(twice.status).toBe(404);
    // The revoked session's access token (still within its lifetime) may neither list nor revoke.
    expect((await call("/v1/auth/sessions", { headers: bearer(refreshed.accessToken) })).status).toBe(401);
    const fromRevoked = await call(`/v1/auth/sessions/${sidOf(phone.accessToken)}`, {
      method: "DELETE",
      headers: bearer(refreshed.accessToken),
    });
    expect(fromRevoked.status).toBe(401);
  });

  it("answers 404 for another account's session and leaves it alone", async () => {
    const alice = await createAuthUser({ loginable: false });
    const mallory = await createAuthUser({ loginable: false });
    const res = await call(`/v1/auth/sessions/${alice.sessionId}`, { method: "DELETE", headers: mallory.auth });
    expect(res.status).toBe(404);
    expect((await callJson("/v1/auth/refresh", { refreshToken: alice.refreshToken })).status).toBe(200);
    expect((await call("/v1/auth/sessions/not-a-uuid", { method: "DELETE", headers: mallory.auth })).status).toBe(422);
    expect((await call("/v1/auth/sessions")).status).toBe(401);
  });
});

describe("admin: users", () => {
  it("lists and searches accounts page by page with a cursor", async () => {
    const admin = await createAuthUser({ roles: ["admin", "user"], loginable: false });
    const tag = crypto.randomUUID().slice(0, 8);
    const made: string[] = [];
    for (let i = 0; i < 5; i++)
      made.push((await createAuthUser({ email: uniqueEmail(`list-${tag}`), loginable: false })).id);

    const seen: AdminUser[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `q=${encodeURIComponent(`LIST-${tag}`)}&limit=2${cursor ? `&cursor=${cursor}` : ""}`;
      const res = await call(`/v1/users?${query}`, { headers: admin.auth });
      expect(res.status).toBe(200);
      const page = (await res.json()) as { items: AdminUser[]; nextCursor: string | null };
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    // Newest first, each exactly once.
    expect(seen.map((u) => u.id)).toEqual([...made].reverse());
    expect(seen[0]).toMatchObject({ disabled: false, emailVerified: false, externalIssuer: null });

    expect((await call("/v1/users?q=%25", { headers: admin.auth })).status).toBe(200);
    expect((await call("/v1/users?cursor=garbage", { headers: admin.auth })).status).toBe(422);
    expect((await call("/v1/users?limit=1000", { headers: admin.auth })).status).toBe(422);
    const plain = await createAuthUser({ loginable: false });
    expect((await call("/v1/users", { headers: plain.auth })).status).toBe(403);
  });

  it("disabling an account signs it out everywhere and refuses sign-in and refresh until re-enabled", async () => {
    const admin = await createAuthUser({ roles: ["admin", "user"], loginable: false });
    const user = await createAuthUser();
    const socket = await join(uniqueRoom("disable"), {
      userId: user.id,
      sessionId: user.sessionId,
      roles: user.roles,
      token: user.accessToken,
    });
    const setDisabled = (disabled: boolean) =>
      callJson(`/v1/users/${user.id}/disabled`, { disabled }, { method: "PUT", headers: admin.auth });

    const res = await setDisabled(true);
    expect(res.status).toBe(200);
    expect(((await res.json()) as AdminUser).disabled).toBe(true);
    expect((await socket.waitClosed(10_000)).code).not.toBe(1000);
    expect((await callJson("/v1/auth/refresh", { refreshToken: user.refreshToken })).status).toBe(401);
    const refused = await callJson("/v1/auth/login", { email: user.email, password: user.password });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { type: string }).type).toBe("/problems/account-disabled");
    // A wrong password still gets the plain 401: being disabled is only told to the password's holder.
    expect((await callJson("/v1/auth/login", { email: user.email, password: "wrong password" })).status).toBe(401);

    expect((await setDisabled(false)).status).toBe(200);
    expect((await callJson("/v1/auth/login", { email: user.email, password: user.password })).status).toBe(200);

    const self = await callJson(
      `/v1/users/${admin.id}/disabled`,
      { disabled: true },
      { method: "PUT", headers: admin.auth },
    );
    expect(self.status).toBe(409);
    const missing = await callJson(
      `/v1/users/${crypto.randomUUID()}/disabled`,
      { disabled: true },
      { method: "PUT", headers: admin.auth },
    );
    expect(missing.status).toBe(404);
  });

  it("an admin signs an account out everywhere: its sockets close, its refresh tokens die, it may sign in again", async () => {
    const admin = await createAuthUser({ roles: ["admin", "user"], loginable: false });
    const user = await createAuthUser();
    const other = await loginFrom(user, "203.0.113.9", "Tablet/1.0");
    const socket = await join(uniqueRoom("signout"), {
      userId: user.id,
      sessionId: user.sessionId,
      roles: user.roles,
      token: user.accessToken,
    });
    const signOut = (id: string, auth: Record<string, string>) =>
      call(`/v1/users/${id}/sessions`, { method: "DELETE", headers: auth });

    expect((await signOut(user.id, user.auth)).status).toBe(403);
    expect((await signOut(user.id, admin.auth)).status).toBe(204);
    expect((await socket.waitClosed(10_000)).code).toBe(4401);
    expect((await callJson("/v1/auth/refresh", { refreshToken: user.refreshToken })).status).toBe(401);
    expect((await callJson("/v1/auth/refresh", { refreshToken: other.refreshToken })).status).toBe(401);
    // Sensitive routes refuse the still-unexpired access tokens at once.
    expect((await call("/v1/auth/sessions", { headers: bearer(other.accessToken) })).status).toBe(401);
    expect((await callJson("/v1/auth/login", { email: user.email, password: user.password })).status).toBe(200);
    expect((await signOut(crypto.randomUUID(), admin.auth)).status).toBe(404);
  });
});

describe("the OpenAPI document", () => {
  it("lists every account route", async () => {
    const doc = (await (await call("/openapi.json")).json()) as {
      paths: Record<string, Record<string, { responses?: Record<string, unknown> }>>;
    };
    const expected: [string, string][] = [
      ["/v1/auth/password/forgot", "post"],
      ["/v1/auth/password/reset", "post"],
      ["/v1/auth/password/change", "post"],
      ["/v1/auth/email/verification", "post"],
      ["/v1/auth/email/verify", "post"],
      ["/v1/auth/sessions", "get"],
      ["/v1/auth/sessions/{id}", "delete"],
      ["/v1/users", "get"],
      ["/v1/users/{id}/disabled", "put"],
      ["/v1/users/{id}/sessions", "delete"],
    ];
    for (const [path, method] of expected) expect(doc.paths[path]?.[method], `${method} ${path}`).toBeDefined();
    expect(Object.keys(doc.paths["/v1/auth/register"]?.post?.responses ?? {})).toContain("202");
  });
});
