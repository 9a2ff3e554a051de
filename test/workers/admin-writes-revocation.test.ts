import { describe, expect, it } from "vitest";
import { call, callJson, createAuthUser } from "./support/auth.ts";
import { PNG_HEADER } from "./support/assets.ts";

/** Signs the session out; its access token stays unexpired, which is the point of these tests. */
async function signOut(refreshToken: string): Promise<void> {
  expect((await callJson("/v1/auth/logout", { refreshToken })).status).toBe(204);
}

async function uploadPng(auth: Record<string, string>): Promise<string> {
  const bytes = new Uint8Array(64);
  bytes.set(PNG_HEADER);
  const res = await call("/v1/assets?filename=a.png&visibility=public", {
    method: "POST",
    headers: { ...auth, "Content-Type": "image/png", "Content-Length": String(bytes.length) },
    body: bytes,
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

describe("admin writes refuse a signed-out session's unexpired token", () => {
  it("refuses an admin's server publish to `system` after sign-out, and accepts it before", async () => {
    const admin = await createAuthUser({ roles: ["admin", "user"], loginable: false });
    const before = await callJson("/v1/rooms/system/messages", { data: { note: "hello" } }, { headers: admin.auth });
    expect(before.status).toBe(202);
    await signOut(admin.refreshToken);
    const after = await callJson("/v1/rooms/system/messages", { data: { note: "forged" } }, { headers: admin.auth });
    expect(after.status).toBe(401);
    expect(after.headers.get("WWW-Authenticate")).toContain("invalid_token");
  });

  it("refuses an admin deleting someone else's asset after sign-out, and lets the asset be", async () => {
    const owner = await createAuthUser({ loginable: false });
    const admin = await createAuthUser({ roles: ["admin", "user"], loginable: false });
    const id = await uploadPng(owner.auth);
    await signOut(admin.refreshToken);
    const refused = await call(`/v1/assets/${id}`, { method: "DELETE", headers: admin.auth });
    expect(refused.status).toBe(401);
    expect((await call(`/v1/assets/${id}`, { headers: owner.auth })).status).toBe(200);
  });

  it("still lets an owner delete its own asset with its unexpired token (not an admin write)", async () => {
    const owner = await createAuthUser({ loginable: false });
    const id = await uploadPng(owner.auth);
    await signOut(owner.refreshToken);
    expect((await call(`/v1/assets/${id}`, { method: "DELETE", headers: owner.auth })).status).toBe(204);
  });
});
