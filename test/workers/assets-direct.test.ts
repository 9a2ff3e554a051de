import { describe, expect, it } from "vitest";
import {
  type AssetJson,
  assetRow,
  call,
  createUser,
  openMultipartUploads,
  pngBytes,
  sha256Hex,
  type TestUser,
  testStore,
} from "./support/assets.ts";

interface SinglePut {
  method: "PUT";
  url: string;
  headers: Record<string, string>;
  expiresAt: string;
}
interface MultipartPut {
  method: "PUT";
  headers: Record<string, string>;
  expiresAt: string;
  partSize: number;
  parts: { partNumber: number; url: string; size: number }[];
}

async function startUpload<U = SinglePut>(user: TestUser, body: Record<string, unknown>) {
  const res = await call("/v1/assets/uploads", {
    method: "POST",
    headers: { ...user.auth, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return { res, json: res.status === 201 ? ((await res.json()) as { asset: AssetJson; upload: U }) : null };
}

const complete = (user: TestUser, id: string, body?: unknown) =>
  call(`/v1/assets/${id}/complete`, {
    method: "POST",
    headers: { ...user.auth, ...(body !== undefined && { "Content-Type": "application/json" }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });

describe("direct uploads with presigned URLs", () => {
  it("uploads with the presigned PUT, completes, and downloads the identical bytes", async () => {
    const user = await createUser();
    const bytes = pngBytes(200_000, 11);
    const { res, json } = await startUpload(user, {
      filename: "scan.png",
      contentType: "image/png",
      size: bytes.length,
    });
    expect(res.status).toBe(201);
    const { asset, upload } = json!;
    expect(asset).toMatchObject({ status: "pending", sha256: null, size: bytes.length, visibility: "private" });
    expect(upload.method).toBe("PUT");
    expect(new URL(upload.url).searchParams.get("X-Amz-SignedHeaders")).toBe(
      "content-length;content-type;host;if-none-match",
    );
    expect(new URL(upload.url).searchParams.get("X-Amz-Expires")).toBe("600");
    expect(Date.parse(upload.expiresAt) - Date.now()).toBeGreaterThan(9 * 60 * 1000);

    const put = await fetch(upload.url, { method: "PUT", headers: upload.headers, body: bytes });
    expect(put.status).toBe(200);
    const done = await complete(user, asset.id);
    expect(done.status).toBe(200);
    const ready = (await done.json()) as AssetJson;
    expect(ready).toMatchObject({ id: asset.id, status: "ready", sha256: await sha256Hex(bytes) });

    // Completing again is harmless.
    expect((await complete(user, asset.id)).status).toBe(200);

    const content = await call(`/v1/assets/${asset.id}/content`, { headers: user.auth, redirect: "manual" });
    const download = await fetch(content.headers.get("Location") ?? "");
    expect(await sha256Hex(await download.arrayBuffer())).toBe(ready.sha256);
  });

  it("makes the presigned PUT create-only: the checked object cannot be overwritten through the same URL", async () => {
    const user = await createUser();
    const bytes = pngBytes(5_000, 3);
    const { json } = await startUpload(user, { filename: "a.png", contentType: "image/png", size: bytes.length });
    const { asset, upload } = json!;
    expect(upload.headers["If-None-Match"]).toBe("*");
    expect((await fetch(upload.url, { method: "PUT", headers: upload.headers, body: bytes })).status).toBe(200);
    const ready = (await (await complete(user, asset.id)).json()) as AssetJson;

    const other = pngBytes(5_000, 4);
    const overwrite = await fetch(upload.url, { method: "PUT", headers: upload.headers, body: other });
    expect(overwrite.status).toBe(412);
    // Without the signed header the signature does not match either.
    const unsigned = await fetch(upload.url, {
      method: "PUT",
      headers: { "Content-Type": "image/png" },
      body: other,
    });
    expect(unsigned.status).toBe(403);

    const content = await call(`/v1/assets/${asset.id}/content`, { headers: user.auth, redirect: "manual" });
    const download = await fetch(content.headers.get("Location") ?? "");
    expect(await sha256Hex(await download.arrayBuffer())).toBe(ready.sha256);
  });

  it("binds type and length into the signature: the store refuses anything else", async () => {
    const user = await createUser();
    const bytes = pngBytes(1_000);
    const { json } = await startUpload(user, { filename: "a.png", contentType: "image/png", size: bytes.length });
    const { upload } = json!;
    expect(
      (await fetch(upload.url, { method: "PUT", headers: { "Content-Type": "image/gif" }, body: bytes })).status,
    ).toBe(403);
    expect((await fetch(upload.url, { method: "PUT", headers: upload.headers, body: pngBytes(1_001) })).status).toBe(
      403,
    );
  });

  it("answers 409 to complete before anything was uploaded, and keeps the upload usable", async () => {
    const user = await createUser();
    const bytes = pngBytes(300);
    const { json } = await startUpload(user, { filename: "later.png", contentType: "image/png", size: bytes.length });
    const { asset, upload } = json!;
    expect((await complete(user, asset.id)).status).toBe(409);
    expect((await fetch(upload.url, { method: "PUT", headers: upload.headers, body: bytes })).status).toBe(200);
    expect((await complete(user, asset.id)).status).toBe(200);
  });

  it("refuses to complete an object whose bytes contradict its type, and removes that object", async () => {
    const user = await createUser();
    const fake = new Uint8Array(400).fill(0x41);
    const { json } = await startUpload(user, { filename: "fake.png", contentType: "image/png", size: fake.length });
    const { asset, upload } = json!;
    expect((await fetch(upload.url, { method: "PUT", headers: upload.headers, body: fake })).status).toBe(200);
    const res = await complete(user, asset.id);
    expect(res.status).toBe(409);
    const row = await assetRow(asset.id);
    expect(row?.status).toBe("pending");
    expect(await testStore().head(row?.objectKey ?? "")).toBeNull();
  });

  it("hides a pending private upload from other users (404) and lets only the owner complete it", async () => {
    const owner = await createUser();
    const stranger = await createUser();
    const { json } = await startUpload(owner, { filename: "x.png", contentType: "image/png", size: 10 });
    expect((await complete(stranger, json!.asset.id)).status).toBe(404);
    expect((await call(`/v1/assets/${json!.asset.id}`, { headers: stranger.auth })).status).toBe(404);
  });

  it("checks size, type and body shape before signing anything", async () => {
    const user = await createUser();
    expect(
      (
        await startUpload(user, {
          filename: "big.bin",
          contentType: "application/octet-stream",
          size: 25 * 1024 * 1024 + 1,
        })
      ).res.status,
    ).toBe(413);
    expect((await startUpload(user, { filename: "x.svg", contentType: "image/svg+xml", size: 10 })).res.status).toBe(
      415,
    );
    const invalid = await startUpload(user, { filename: "", contentType: "image/png", size: -1 });
    expect(invalid.res.status).toBe(422);
    const problem = (await invalid.res.json()) as { errors: { path: string }[] };
    expect(problem.errors.map((e) => e.path)).toEqual(expect.arrayContaining(["filename", "size"]));
    const anonymous = await call("/v1/assets/uploads", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: "{}",
    });
    expect(anonymous.status).toBe(401);
  });

  it("runs a presigned multipart upload: parts, complete with ETags, identical bytes", async () => {
    const user = await createUser();
    const bytes = pngBytes(8 * 1024 * 1024 + 5_000, 5);
    const { res, json } = await startUpload<MultipartPut>(user, {
      filename: "movie.png",
      contentType: "image/png",
      size: bytes.length,
      visibility: "public",
      multipart: true,
    });
    expect(res.status).toBe(201);
    const { asset, upload } = json!;
    expect(upload.parts.map((p) => [p.partNumber, p.size])).toEqual([
      [1, 8 * 1024 * 1024],
      [2, 5_000],
    ]);

    // Completing with a missing part is refused; the upload stays open for a retry.
    const etags: { partNumber: number; etag: string }[] = [];
    for (const part of upload.parts) {
      const start = (part.partNumber - 1) * upload.partSize;
      const put = await fetch(part.url, { method: "PUT", body: bytes.slice(start, start + part.size) });
      expect(put.status).toBe(200);
      etags.push({ partNumber: part.partNumber, etag: put.headers.get("ETag") ?? "" });
    }
    expect((await complete(user, asset.id)).status).toBe(422);

    const done = await complete(user, asset.id, { parts: etags });
    expect(done.status).toBe(200);
    const ready = (await done.json()) as AssetJson;
    expect(ready.sha256).toBe(await sha256Hex(bytes));
    expect((await assetRow(asset.id))?.multipartUploadId).toBeNull();
    const download = await fetch(ready.url);
    expect(await sha256Hex(await download.arrayBuffer())).toBe(ready.sha256);
  });

  it("aborts an open multipart upload when its pending asset is deleted", async () => {
    const user = await createUser();
    const { json } = await startUpload<MultipartPut>(user, {
      filename: "m.bin",
      contentType: "application/octet-stream",
      size: 100,
      multipart: true,
    });
    const { asset, upload } = json!;
    expect((await fetch(upload.parts[0]!.url, { method: "PUT", body: new Uint8Array(100) })).status).toBe(200);
    const prefix = `private/${user.id}/${asset.id}/`;
    expect(await openMultipartUploads(prefix)).toHaveLength(1);
    expect((await call(`/v1/assets/${asset.id}`, { method: "DELETE", headers: user.auth })).status).toBe(204);
    expect(await openMultipartUploads(prefix)).toEqual([]);
    expect(await assetRow(asset.id)).toBeNull();
  });
});
