import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app.ts";
import { PNG_HEADER } from "./support/assets.ts";
import { call, createAuthUser } from "./support/auth.ts";

const app = createApp();

async function uploadPrivate(overrides: Record<string, string>, auth: Record<string, string>, host: string) {
  const bytes = new Uint8Array(32);
  bytes.set(PNG_HEADER);
  const ctx = createExecutionContext();
  const res = await app.fetch(
    new Request(`http://${host}/v1/assets?filename=a.png&visibility=private`, {
      method: "POST",
      headers: { ...auth, "Content-Type": "image/png", "Content-Length": String(bytes.length) },
      body: bytes,
    }),
    { ...env, ...overrides },
    ctx,
  );
  await waitOnExecutionContext(ctx);
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; url: string };
}

describe("the absolute URL stored for a private asset", () => {
  it("uses PUBLIC_API_URL when configured, whatever Host the request carried", async () => {
    const user = await createAuthUser({ loginable: false });
    const asset = await uploadPrivate({ PUBLIC_API_URL: "https://api.example.com/" }, user.auth, "attacker.test");
    expect(asset.url).toBe(`https://api.example.com/v1/assets/${asset.id}/content`);
  });

  it("uses the request's origin when PUBLIC_API_URL is unset", async () => {
    const user = await createAuthUser({ loginable: false });
    const asset = await uploadPrivate({}, user.auth, "edge.test");
    expect(asset.url).toBe(`http://edge.test/v1/assets/${asset.id}/content`);
    expect((await call(`/v1/assets/${asset.id}`, { headers: user.auth })).status).toBe(200);
  });
});
