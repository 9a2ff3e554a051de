import { describe, expect, it } from "vitest";
import { type AssetJson, call, createUser, pngBytes, sha256Hex, uploadRaw } from "./support/assets.ts";

interface AssetUrl {
  url: string;
  signed: boolean;
  expiresAt: string | null;
}

describe("a URL of an asset's bytes for <img src>", () => {
  it("gives the owner a signed GET of a private asset that works without a token and expires within a minute", async () => {
    const user = await createUser();
    const bytes = pngBytes(5_000);
    const asset = (await (await uploadRaw(user, bytes, { filename: "face.png" })).json()) as AssetJson;
    const before = Date.now();
    const res = await call(`/v1/assets/${asset.id}/url`, { headers: user.auth });
    expect(res.status).toBe(200);
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    const body = (await res.json()) as AssetUrl;
    expect(body.signed).toBe(true);
    const expiresAt = Date.parse(body.expiresAt ?? "");
    expect(expiresAt).toBeGreaterThan(before);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 60_000);
    expect(new URL(body.url).searchParams.get("X-Amz-Expires")).toBe("60");
    const download = await fetch(body.url);
    expect(download.status).toBe(200);
    expect(await sha256Hex(await download.arrayBuffer())).toBe(asset.sha256);
  });

  it("answers 404 to anyone else for a private asset, and the public URL for a public one", async () => {
    const owner = await createUser();
    const stranger = await createUser();
    const secret = (await (await uploadRaw(owner, pngBytes(100), { filename: "s.png" })).json()) as AssetJson;
    expect((await call(`/v1/assets/${secret.id}/url`, { headers: stranger.auth })).status).toBe(404);
    expect((await call(`/v1/assets/${secret.id}/url`)).status).toBe(404);

    const open = await uploadRaw(owner, pngBytes(100), { filename: "p.png", visibility: "public" });
    const asset = (await open.json()) as AssetJson;
    const res = await call(`/v1/assets/${asset.id}/url`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ url: asset.url, signed: false, expiresAt: null });
  });

  it("is listed in the OpenAPI document", async () => {
    const doc = (await (await call("/openapi.json")).json()) as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(doc.paths["/v1/assets/{id}/url"] ?? {})).toEqual(["get"]);
  });
});
