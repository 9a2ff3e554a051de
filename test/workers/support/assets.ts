import { ListMultipartUploadsCommand } from "@aws-sdk/client-s3";
import { env } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { exports } from "cloudflare:workers";
import { createPostgres } from "../../../src/adapters/postgres.ts";
import { createS3Client, type ObjectStore } from "../../../src/adapters/storage.ts";
import { storageFromConfig, storageOptionsFromConfig } from "../../../src/composition/deps.ts";
import { configFor } from "../../../src/core/config.ts";
import { type AssetRow, assets, users } from "../../../src/db/schema.ts";
import { issueAccessToken } from "../../../src/features/auth/access-token.ts";

/** Helpers for the assets tests: users with tokens, requests to the Worker, direct views of the stores. */

export interface TestUser {
  id: string;
  token: string;
  auth: { Authorization: string };
}

export const call = (path: string, init?: RequestInit) =>
  exports.default.fetch(new Request(`http://edge.test${path}`, init));

/** Opens a pool, runs `work`, closes it: a workerd test may not keep sockets across tests. */
export async function withDb<T>(work: (db: ReturnType<typeof createPostgres>["db"]) => Promise<T>): Promise<T> {
  const config = configFor(env);
  const pg = createPostgres({ url: config.DATABASE_URL, wsProxy: config.DATABASE_WS_PROXY, timeoutMs: 5_000 });
  try {
    return await work(pg.db);
  } finally {
    await pg.close();
  }
}

export async function createUser(roles: string[] = ["user"]): Promise<TestUser> {
  const email = `assets-${crypto.randomUUID()}@example.test`;
  const [row] = await withDb((db) => db.insert(users).values({ email, passwordHash: "not-a-hash", roles }).returning());
  if (!row) throw new Error("no user row");
  const { token } = await issueAccessToken({ userId: row.id, roles, sessionId: crypto.randomUUID() }, configFor(env));
  return { id: row.id, token, auth: { Authorization: `Bearer ${token}` } };
}

export function testStore(): ObjectStore {
  const c = configFor(env);
  return storageFromConfig(c);
}

/** Multipart uploads still open in the bucket under `prefix` (the store's own listing, not our rows). */
export async function openMultipartUploads(prefix: string): Promise<string[]> {
  const c = configFor(env);
  const client = createS3Client(storageOptionsFromConfig(c));
  try {
    const listed = await client.send(new ListMultipartUploadsCommand({ Bucket: c.S3_BUCKET, Prefix: prefix }));
    return (listed.Uploads ?? []).map((u) => u.UploadId ?? "");
  } finally {
    client.destroy();
  }
}

export async function assetRow(id: string): Promise<AssetRow | null> {
  const [row] = await withDb((db) => db.select().from(assets).where(eq(assets.id, id)));
  return row ?? null;
}

export async function sha256Hex(bytes: Uint8Array | ArrayBuffer): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

export const PNG_HEADER = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** `size` bytes that start like a PNG, deterministic per seed. */
export function pngBytes(size: number, seed = 7): Uint8Array {
  const bytes = new Uint8Array(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    bytes[i] = x >> 16;
  }
  bytes.set(PNG_HEADER.subarray(0, Math.min(size, PNG_HEADER.length)));
  return bytes;
}

/** A body the runtime sees as a stream, delivered in chunks of `chunk` bytes. */
export function streamOf(bytes: Uint8Array, chunk = 64 * 1024): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + chunk));
      offset += chunk;
    },
  });
}

export interface AssetJson {
  id: string;
  url: string;
  filename: string;
  contentType: string;
  size: number;
  sha256: string | null;
  visibility: "public" | "private";
  status: "pending" | "ready";
  ownerId: string;
  createdAt: string;
}

export async function uploadRaw(
  user: TestUser,
  bytes: Uint8Array,
  options: { contentType?: string; filename?: string; visibility?: "public" | "private" } = {},
): Promise<Response> {
  const query = new URLSearchParams({
    filename: options.filename ?? "photo.png",
    visibility: options.visibility ?? "private",
  });
  return call(`/v1/assets?${query}`, {
    method: "POST",
    headers: {
      ...user.auth,
      "Content-Type": options.contentType ?? "image/png",
      "Content-Length": String(bytes.length),
    },
    body: bytes,
  });
}
