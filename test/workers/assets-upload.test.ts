import { describe, expect, it } from "vitest";
import {
  type AssetJson,
  assetRow,
  call,
  createUser,
  openMultipartUploads,
  pngBytes,
  sha256Hex,
  streamOf,
  testStore,
  uploadRaw,
} from "./support/assets.ts";

describe("uploading through the Worker", () => {
  it("stores a small PNG, records its sha256, and serves the same bytes back through a signed redirect", async () => {
    const user = await createUser();
    const bytes = pngBytes(70_000);
    const res = await uploadRaw(user, bytes, { filename: "../../etc/My Photo (1).png" });
    expect(res.status).toBe(201);
    const asset = (await res.json()) as AssetJson;
    expect(asset).toMatchObject({
      filename: "../../etc/My Photo (1).png",
      contentType: "image/png",
      size: bytes.length,
      sha256: await sha256Hex(bytes),
      visibility: "private",
      status: "ready",
      ownerId: user.id,
    });
    expect(asset.url).toBe(`http://edge.test/v1/assets/${asset.id}/content`);

    const row = await assetRow(asset.id);
    // The key is the server's: visibility/owner/id/sanitised name, no client path.
    expect(row?.objectKey).toBe(`private/${user.id}/${asset.id}/My-Photo-1.png`);

    const content = await call(`/v1/assets/${asset.id}/content`, { headers: user.auth, redirect: "manual" });
    expect(content.status).toBe(302);
    expect(content.headers.get("Cache-Control")).toBe("no-store");
    const location = content.headers.get("Location") ?? "";
    expect(new URL(location).searchParams.get("X-Amz-Expires")).toBe("60");
    const download = await fetch(location);
    expect(download.status).toBe(200);
    expect(await sha256Hex(await download.arrayBuffer())).toBe(asset.sha256);
  });

  it("streams a body larger than one part as a multipart upload with the right bytes and hash", async () => {
    const user = await createUser();
    const bytes = pngBytes(8 * 1024 * 1024 * 2 + 12_345, 3);
    const res = await call(`/v1/assets?filename=big.png&visibility=public`, {
      method: "POST",
      headers: { ...user.auth, "Content-Type": "image/png", "Content-Length": String(bytes.length) },
      body: streamOf(bytes, 1024 * 1024 + 7),
    });
    expect(res.status).toBe(201);
    const asset = (await res.json()) as AssetJson;
    expect(asset.sha256).toBe(await sha256Hex(bytes));
    expect(asset.url).toMatch(new RegExp(`/public/${user.id}/${asset.id}/big\\.png$`));
    expect((await assetRow(asset.id))?.multipartUploadId).toBeNull();

    // Public: anyone is redirected to the public URL, which serves the object.
    const content = await call(`/v1/assets/${asset.id}/content`, { redirect: "manual" });
    expect(content.status).toBe(302);
    expect(content.headers.get("Location")).toBe(asset.url);
    const download = await fetch(asset.url);
    expect(await sha256Hex(await download.arrayBuffer())).toBe(asset.sha256);
  });

  it("answers 411 without a Content-Length", async () => {
    const user = await createUser();
    const res = await call("/v1/assets?filename=a.png", {
      method: "POST",
      headers: { ...user.auth, "Content-Type": "image/png" },
      body: streamOf(pngBytes(100)),
    });
    expect(res.status).toBe(411);
    expect(res.headers.get("Content-Type")).toContain("application/problem+json");
  });

  it("answers 413 when the declared length is over the limit, before reading the body", async () => {
    const user = await createUser();
    const res = await call("/v1/assets?filename=a.png", {
      method: "POST",
      headers: { ...user.auth, "Content-Type": "image/png", "Content-Length": String(25 * 1024 * 1024 + 1) },
      body: streamOf(pngBytes(10)),
    });
    expect(res.status).toBe(413);
  });

  it("answers 415 for a type that is not allowed and for a missing type", async () => {
    const user = await createUser();
    const html = await uploadRaw(user, new TextEncoder().encode("<script>alert(1)</script>"), {
      contentType: "text/html",
    });
    expect(html.status).toBe(415);
    const none = await call("/v1/assets", {
      method: "POST",
      headers: { ...user.auth, "Content-Length": "3" },
      body: new Uint8Array([1, 2, 3]),
    });
    expect(none.status).toBe(415);
  });

  it("refuses a body whose bytes contradict its declared image type and leaves no row behind", async () => {
    const user = await createUser();
    const res = await uploadRaw(user, new TextEncoder().encode("GIF89a but declared as png"), {
      contentType: "image/png",
    });
    expect(res.status).toBe(415);
    const list = (await (await call("/v1/assets", { headers: user.auth })).json()) as { items: AssetJson[] };
    expect(list.items).toEqual([]);
  });

  it("accepts a type without a signature (text/plain with a charset) and stores the bare type", async () => {
    const user = await createUser();
    const res = await uploadRaw(user, new TextEncoder().encode("hello"), {
      contentType: "Text/Plain; charset=utf-8",
      filename: "note.txt",
    });
    expect(res.status).toBe(201);
    expect(((await res.json()) as AssetJson).contentType).toBe("text/plain");
  });

  it("refuses a body shorter than its Content-Length and removes what was started", async () => {
    const user = await createUser();
    const bytes = pngBytes(9 * 1024 * 1024);
    const res = await call("/v1/assets?filename=short.png", {
      method: "POST",
      headers: { ...user.auth, "Content-Type": "image/png", "Content-Length": String(bytes.length + 100) },
      body: streamOf(bytes),
    });
    expect(res.status).toBe(400);
    expect(await openMultipartUploads(`private/${user.id}/`)).toEqual([]);
    const list = (await (await call("/v1/assets", { headers: user.auth })).json()) as { items: AssetJson[] };
    expect(list.items).toEqual([]);
  });

  it("requires a bearer token", async () => {
    const res = await call("/v1/assets?filename=a.png", {
      method: "POST",
      headers: { "Content-Type": "image/png", "Content-Length": "8" },
      body: pngBytes(8),
    });
    expect(res.status).toBe(401);
    expect(res.headers.get("WWW-Authenticate")).toContain("invalid_token");
  });
});

describe("reading, listing and deleting", () => {
  it("hides another user's private asset with 404 everywhere, and shows it to an admin", async () => {
    const owner = await createUser();
    const stranger = await createUser();
    const admin = await createUser(["user", "admin"]);
    const asset = (await (await uploadRaw(owner, pngBytes(100))).json()) as AssetJson;

    for (const path of [`/v1/assets/${asset.id}`, `/v1/assets/${asset.id}/content`]) {
      expect((await call(path, { headers: stranger.auth })).status).toBe(404);
      expect((await call(path)).status).toBe(404);
    }
    expect((await call(`/v1/assets/${asset.id}`, { method: "DELETE", headers: stranger.auth })).status).toBe(404);
    expect((await call(`/v1/assets/not-a-uuid`, { headers: owner.auth })).status).toBe(404);

    const seen = await call(`/v1/assets/${asset.id}`, { headers: admin.auth });
    expect(seen.status).toBe(200);
    expect(((await seen.json()) as AssetJson).id).toBe(asset.id);
    expect((await call(`/v1/assets/${asset.id}/content`, { headers: admin.auth, redirect: "manual" })).status).toBe(
      302,
    );
  });

  it("shows a public asset to anyone but lets only the owner or an admin delete it", async () => {
    const owner = await createUser();
    const stranger = await createUser();
    const admin = await createUser(["admin"]);
    const asset = (await (await uploadRaw(owner, pngBytes(100), { visibility: "public" })).json()) as AssetJson;
    expect((await call(`/v1/assets/${asset.id}`)).status).toBe(200);
    expect((await call(`/v1/assets/${asset.id}`, { method: "DELETE", headers: stranger.auth })).status).toBe(403);
    const key = (await assetRow(asset.id))?.objectKey ?? "";
    expect(await testStore().head(key)).not.toBeNull();
    expect((await call(`/v1/assets/${asset.id}`, { method: "DELETE", headers: admin.auth })).status).toBe(204);
    expect(await testStore().head(key)).toBeNull();
  });

  it("deletes the object and the row, and answers a repeat with 404", async () => {
    const user = await createUser();
    const asset = (await (await uploadRaw(user, pngBytes(500))).json()) as AssetJson;
    const key = (await assetRow(asset.id))?.objectKey ?? "";
    expect(await testStore().head(key)).toMatchObject({ size: 500 });

    expect((await call(`/v1/assets/${asset.id}`, { method: "DELETE", headers: user.auth })).status).toBe(204);
    expect(await assetRow(asset.id)).toBeNull();
    expect(await testStore().head(key)).toBeNull();
    expect((await call(`/v1/assets/${asset.id}`, { method: "DELETE", headers: user.auth })).status).toBe(404);
    expect((await call(`/v1/assets/${asset.id}`, { headers: user.auth })).status).toBe(404);
  });

  it("lists only the caller's assets, newest first, across pages with an opaque cursor", async () => {
    const user = await createUser();
    const other = await createUser();
    await uploadRaw(other, pngBytes(10));
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(((await (await uploadRaw(user, pngBytes(10 + i))).json()) as AssetJson).id);

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor ? `?limit=2&cursor=${encodeURIComponent(cursor)}` : "?limit=2";
      const res = await call(`/v1/assets${query}`, { headers: user.auth });
      expect(res.status).toBe(200);
      const page = (await res.json()) as { items: AssetJson[]; nextCursor: string | null };
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((a) => a.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor && pages < 10);
    expect(seen).toEqual([...ids].reverse());
    expect(pages).toBe(3);
  });

  it("answers 422 for a forged cursor and an out-of-range limit", async () => {
    const user = await createUser();
    expect((await call("/v1/assets?cursor=bm90LWpzb24", { headers: user.auth })).status).toBe(422);
    expect((await call("/v1/assets?limit=101", { headers: user.auth })).status).toBe(422);
  });
});

describe("the OpenAPI document", () => {
  it("lists every asset route with its methods", async () => {
    const doc = (await (await call("/openapi.json")).json()) as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(doc.paths["/v1/assets"] ?? {}).sort()).toEqual(["get", "post"]);
    expect(Object.keys(doc.paths["/v1/assets/uploads"] ?? {})).toEqual(["post"]);
    expect(Object.keys(doc.paths["/v1/assets/{id}"] ?? {}).sort()).toEqual(["delete", "get"]);
    expect(Object.keys(doc.paths["/v1/assets/{id}/complete"] ?? {})).toEqual(["post"]);
    expect(Object.keys(doc.paths["/v1/assets/{id}/content"] ?? {})).toEqual(["get"]);
  });
});
