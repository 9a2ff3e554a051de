// The local S3 server through @aws-sdk/client-s3 configured as the app configures it for R2.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type S3Server, startS3Server } from "../../dev/s3-server.ts";

const BUCKET = "assets-test";
let server: S3Server;
let dir: string;
let s3: S3Client;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edge-s3-"));
  server = await startS3Server({ directory: dir, buckets: [BUCKET] });
  s3 = new S3Client({
    endpoint: server.endpoint,
    region: server.region,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    forcePathStyle: true,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
});

afterAll(async () => {
  s3?.destroy();
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("local S3 server", () => {
  it("put, head, get, list, delete", async () => {
    const key = "users/1/hello world ü.txt";
    const put = await s3.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: key,
        Body: "hello",
        ContentType: "text/plain",
        Metadata: { owner: "u1" },
      }),
    );
    expect(put.ETag).toBe('"5d41402abc4b2a76b9719d911017c592"');
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    expect(head.ContentLength).toBe(5);
    expect(head.ContentType).toBe("text/plain");
    expect(head.Metadata).toEqual({ owner: "u1" });
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    expect(await got.Body?.transformToString()).toBe("hello");
    const list = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: "users/1/" }));
    expect(list.Contents?.map((o) => o.Key)).toEqual([key]);
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
    await expect(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }))).rejects.toMatchObject({
      name: "NotFound",
    });
  });

  it("serves objects anonymously at the public base URL", async () => {
    await s3.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: "public/a.txt", Body: "pub", ContentType: "text/plain" }),
    );
    const res = await fetch(`${server.endpoint}/${BUCKET}/public/a.txt`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("pub");
  });

  it("multipart: create, upload parts, list, complete; and abort", async () => {
    const key = "big/file.bin";
    const created = await s3.send(
      new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key, ContentType: "application/octet-stream" }),
    );
    const uploadId = created.UploadId;
    expect(uploadId).toBeTruthy();
    const part1 = Buffer.alloc(5 * 1024 * 1024, 1);
    const part2 = Buffer.from("tail");
    const p1 = await s3.send(
      new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId, PartNumber: 1, Body: part1 }),
    );
    const p2 = await s3.send(
      new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId, PartNumber: 2, Body: part2 }),
    );
    const listed = await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: "big/" }));
    expect(listed.Uploads?.map((u) => [u.Key, u.UploadId])).toEqual([[key, uploadId]]);
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: BUCKET,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: {
          Parts: [
            { PartNumber: 1, ETag: p1.ETag },
            { PartNumber: 2, ETag: p2.ETag },
          ],
        },
      }),
    );
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    expect(head.ContentLength).toBe(part1.length + part2.length);
    expect((await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }))).Uploads ?? []).toEqual([]);

    const aborted = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: "big/never.bin" }));
    await s3.send(
      new UploadPartCommand({
        Bucket: BUCKET,
        Key: "big/never.bin",
        UploadId: aborted.UploadId,
        PartNumber: 1,
        Body: "x",
      }),
    );
    await s3.send(
      new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: "big/never.bin", UploadId: aborted.UploadId }),
    );
    expect((await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }))).Uploads ?? []).toEqual([]);
    await expect(
      s3.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: "big/never.bin", UploadId: aborted.UploadId })),
    ).rejects.toMatchObject({
      name: "NoSuchUpload",
    });
  });

  it("complete with a part never uploaded or a wrong ETag: InvalidPart like R2, and the server keeps serving", async () => {
    const key = "big/bad-parts.bin";
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }));
    const p1 = await s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId, PartNumber: 1, Body: "one" }));
    const complete = (Parts: { PartNumber: number; ETag: string | undefined }[], uploadId = UploadId) =>
      s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: BUCKET,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts },
        }),
      );
    // Part 2 was never uploaded (this crashed the process inside s3rver with ENOENT).
    await expect(
      complete([
        { PartNumber: 1, ETag: p1.ETag },
        { PartNumber: 2, ETag: '"0123456789abcdef0123456789abcdef"' },
      ]),
    ).rejects.toMatchObject({ name: "InvalidPart", $metadata: { httpStatusCode: 400 } });
    await expect(complete([{ PartNumber: 1, ETag: '"garbage"' }])).rejects.toMatchObject({ name: "InvalidPart" });
    await expect(
      complete([
        { PartNumber: 2, ETag: p1.ETag },
        { PartNumber: 1, ETag: p1.ETag },
      ]),
    ).rejects.toMatchObject({ name: "InvalidPartOrder" });
    await expect(complete([{ PartNumber: 1, ETag: p1.ETag }], "00ff00ff")).rejects.toMatchObject({
      name: "NoSuchUpload",
    });
    // Nothing was assembled or lost: the right part list still completes.
    await complete([{ PartNumber: 1, ETag: p1.ETag }]);
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    expect(await got.Body?.transformToString()).toBe("one");
  });

  it("presigned PUT with Content-Type and Content-Length bound, done with fetch", async () => {
    const body = new Uint8Array([137, 80, 78, 71, 1, 2, 3, 4]);
    const url = await getSignedUrl(
      s3,
      new PutObjectCommand({ Bucket: BUCKET, Key: "up/img.png", ContentType: "image/png", ContentLength: body.length }),
      {
        expiresIn: 300,
        signableHeaders: new Set(["content-type", "content-length"]),
      },
    );
    expect(new URL(url).searchParams.get("X-Amz-SignedHeaders")).toBe("content-length;content-type;host");

    const wrongLength = await fetch(url, {
      method: "PUT",
      body: new Uint8Array([...body, 0]),
      headers: { "content-type": "image/png" },
    });
    expect(wrongLength.status).toBe(403);
    expect(await wrongLength.text()).toContain("SignatureDoesNotMatch");
    const wrongType = await fetch(url, { method: "PUT", body, headers: { "content-type": "image/jpeg" } });
    expect(wrongType.status).toBe(403);

    const ok = await fetch(url, { method: "PUT", body, headers: { "content-type": "image/png" } });
    expect(ok.status).toBe(200);
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "up/img.png" }));
    expect(head.ContentType).toBe("image/png");
    expect(head.ContentLength).toBe(body.length);
  });

  it("rejects tampered, foreign-key and expired signatures", async () => {
    const url = new URL(
      await getSignedUrl(s3, new GetObjectCommand({ Bucket: BUCKET, Key: "public/a.txt" }), { expiresIn: 60 }),
    );
    expect((await fetch(url)).status).toBe(200);
    const tampered = new URL(url);
    tampered.pathname = `/${BUCKET}/public/b.txt`;
    expect((await fetch(tampered)).status).toBe(403);

    const foreign = new S3Client({
      endpoint: server.endpoint,
      region: server.region,
      credentials: { accessKeyId: server.accessKeyId, secretAccessKey: "not-the-secret" },
      forcePathStyle: true,
    });
    await expect(foreign.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "public/a.txt" }))).rejects.toMatchObject({
      $metadata: { httpStatusCode: 403 },
    });
    foreign.destroy();

    const expired = await getSignedUrl(s3, new GetObjectCommand({ Bucket: BUCKET, Key: "public/a.txt" }), {
      expiresIn: 1,
      signingDate: new Date(Date.now() - 60_000),
    });
    const res = await fetch(expired);
    expect(res.status).toBe(403);
    expect(await res.text()).toContain("expired");
  });

  it("answers CORS preflight for browser uploads", async () => {
    const res = await fetch(`${server.endpoint}/${BUCKET}/up/x.png`, {
      method: "OPTIONS",
      headers: {
        origin: "http://localhost:5173",
        "access-control-request-method": "PUT",
        "access-control-request-headers": "content-type",
      },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(res.headers.get("access-control-allow-methods")).toContain("PUT");
    expect(res.headers.get("access-control-allow-headers")).toBe("content-type");
  });

  it("answers the preflight of a presigned URL from the CORS rule, without checking its query", async () => {
    const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket: BUCKET, Key: "up/y.png" }), { expiresIn: 60 });
    const res = await fetch(url, {
      method: "OPTIONS",
      headers: { origin: "http://localhost:5173", "access-control-request-method": "PUT" },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
  });
});
