import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { eq, inArray } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { RoomPublisher } from "../../src/adapters/rooms.ts";
import { createS3Client } from "../../src/adapters/storage.ts";
import { storageOptionsFromConfig } from "../../src/composition/deps.ts";
import { createApp } from "../../src/app.ts";
import type { Bindings } from "../../src/core/app-env.ts";
import { configFor } from "../../src/core/config.ts";
import type { Logger } from "../../common/logger.ts";
import { dependencyUnavailable } from "../../src/core/problem.ts";
import { type AssetRow, assets } from "../../src/db/schema.ts";
import { type AssetEventType, roomAssetEvents } from "../../src/features/assets/events.ts";
import { DEFAULT_ALLOWED_TYPES } from "../../src/features/assets/limits.ts";
import { drizzleAssetRepository } from "../../src/features/assets/repository.ts";
import { uploadThroughWorker } from "../../src/features/assets/raw-upload.ts";
import { deleteAsset } from "../../src/features/assets/service.ts";
import type { AssetServiceDeps } from "../../src/features/assets/model.ts";
import { runJob } from "../../src/composition/job.ts";
import { sweepPendingUploads } from "../../src/features/assets/sweeper.ts";
import type { AssetView } from "../../src/features/assets/view.ts";
import {
  type AssetJson,
  assetRow,
  call,
  createUser,
  openMultipartUploads,
  pngBytes,
  type TestUser,
  testStore,
  uploadRaw,
  withDb,
} from "./support/assets.ts";

const bindings = env as unknown as Bindings;

const silentLog = (): Logger & { warnings: string[] } => {
  const warnings: string[] = [];
  const log: Logger & { warnings: string[] } = {
    warnings,
    debug: () => {},
    info: () => {},
    warn: (msg) => void warnings.push(msg),
    error: () => {},
    child: () => log,
  };
  return log;
};

async function objectKeysUnder(prefix: string): Promise<string[]> {
  const c = configFor(env);
  const client = createS3Client(storageOptionsFromConfig(c));
  try {
    const listed = await client.send(new ListObjectsV2Command({ Bucket: c.S3_BUCKET, Prefix: prefix }));
    return (listed.Contents ?? []).map((o) => o.Key ?? "");
  } finally {
    client.destroy();
  }
}

async function uploadWithEnv(user: TestUser, overrides: Record<string, string>): Promise<Response> {
  const ctx = createExecutionContext();
  const bytes = pngBytes(1_000);
  const res = await createApp().fetch(
    new Request("http://edge.test/v1/assets?filename=a.png", {
      method: "POST",
      headers: { ...user.auth, "Content-Type": "image/png", "Content-Length": String(bytes.length) },
      body: bytes,
    }),
    { ...env, ...overrides },
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return res;
}

const backdate = (ids: string[], ms: number) =>
  withDb((db) =>
    db
      .update(assets)
      .set({ createdAt: new Date(Date.now() - ms) })
      .where(inArray(assets.id, ids)),
  );

describe("dependency faults lose nothing and leave nothing behind", () => {
  it("answers 503 with Retry-After when storage is down, leaving at most a pending row for the sweeper", async () => {
    const user = await createUser();
    const res = await uploadWithEnv(user, { S3_ENDPOINT: "http://127.0.0.1:9", STORAGE_TIMEOUT_MS: "2000" });
    expect(res.status).toBe(503);
    expect(res.headers.get("Retry-After")).toBeTruthy();
    const body = await res.text();
    expect(body).not.toContain("127.0.0.1");
    // Whether the put half-happened is unknown and the store cannot be asked, so the row stays
    // pending (never ready) until a retry of the cleanup, or the sweeper, removes both.
    const list = (await (await call("/v1/assets", { headers: user.auth })).json()) as { items: AssetJson[] };
    expect(list.items.map((a) => a.status)).toEqual(["pending"]);
  });

  it("answers 503 when Postgres is down, and stores no object", async () => {
    const user = await createUser();
    const res = await uploadWithEnv(user, { DATABASE_WS_PROXY: "ws://127.0.0.1:9", DATABASE_TIMEOUT_MS: "2000" });
    expect(res.status).toBe(503);
    expect(await objectKeysUnder(`private/${user.id}/`)).toEqual([]);
  });

  it("deletes the stored object when the database write that would make it ready fails", async () => {
    const user = await createUser();
    await withDb(async (db) => {
      const real = drizzleAssetRepository(db);
      let inserted: AssetRow | undefined;
      const deps: AssetServiceDeps = {
        store: testStore(),
        repo: {
          ...real,
          insertPending: async (a) => (inserted = await real.insertPending(a)),
          markReady: async () => {
            throw dependencyUnavailable("postgres", new Error("simulated"));
          },
        },
        limits: async () => ({ maxBytes: 1024 * 1024, allowedTypes: new Set(DEFAULT_ALLOWED_TYPES) }),
        events: { publish: () => {} },
        log: silentLog(),
        now: () => new Date(),
      };
      const bytes = pngBytes(2_000);
      await expect(
        uploadThroughWorker(
          deps,
          { userId: user.id, admin: false },
          {
            filename: "a.png",
            visibility: "private",
            contentType: "image/png",
            contentLength: String(bytes.length),
            body: new Response(bytes).body,
            apiOrigin: "http://edge.test",
          },
        ),
      ).rejects.toMatchObject({ status: 503 });
      expect(inserted).toBeDefined();
      expect(await testStore().head(inserted!.objectKey)).toBeNull();
      expect(await real.find(inserted!.id)).toBeNull();
    });
  });
});

describe("events", () => {
  it("publishes asset.ready and asset.deleted to the owner's private room", async () => {
    const user = await createUser();
    const published: { type: AssetEventType; room: string; asset: AssetView }[] = [];
    await withDb(async (db) => {
      const deps: AssetServiceDeps = {
        store: testStore(),
        repo: drizzleAssetRepository(db),
        limits: async () => ({ maxBytes: 1024 * 1024, allowedTypes: new Set(DEFAULT_ALLOWED_TYPES) }),
        events: { publish: (type, asset) => void published.push({ type, room: `user:${asset.ownerId}`, asset }) },
        log: silentLog(),
        now: () => new Date(),
      };
      const actor = { userId: user.id, admin: false };
      const bytes = pngBytes(100);
      const view = await uploadThroughWorker(deps, actor, {
        filename: "e.png",
        visibility: "private",
        contentType: "image/png",
        contentLength: String(bytes.length),
        body: new Response(bytes).body,
        apiOrigin: "http://edge.test",
      });
      await deleteAsset(deps, actor, view.id, async () => {
        throw new Error("an owner deleting its own asset needs no session check");
      });
    });
    expect(published.map((p) => [p.type, p.room])).toEqual([
      ["asset.ready", `user:${user.id}`],
      ["asset.deleted", `user:${user.id}`],
    ]);
  });

  it("never fails the caller when the rooms publisher throws: the failure is logged", async () => {
    const background: Promise<unknown>[] = [];
    const log = silentLog();
    const rooms: RoomPublisher = {
      publish: async () => {
        throw new Error("rooms down");
      },
      disconnectSession: async () => {},
      disconnectSessions: async () => {},
    };
    const events = roomAssetEvents(rooms, { waitUntil: (p) => void background.push(p) }, log);
    expect(() => events.publish("asset.ready", { ownerId: "u1", id: "a1" } as AssetView)).not.toThrow();
    await Promise.all(background);
    expect(log.warnings).toEqual(["publishing an asset event failed"]);
  });

  it("still answers 201 through the Worker while realtime publishing is unavailable", async () => {
    const user = await createUser();
    expect((await uploadRaw(user, pngBytes(50))).status).toBe(201);
  });
});

describe("limits from settings", () => {
  it("accepts a type once an admin adds it to assets.allowed-types, and refuses it again when removed", async () => {
    const user = await createUser();
    const admin = await createUser(["admin"]);
    const type = "application/x-edge-test";
    const bytes = new Uint8Array([1, 2, 3]);
    expect((await uploadRaw(user, bytes, { contentType: type, filename: "t.bin" })).status).toBe(415);

    // A superset of the defaults, so uploads in other test files are unaffected.
    const put = await call("/v1/settings/assets.allowed-types", {
      method: "PUT",
      headers: { ...admin.auth, "Content-Type": "application/json", "If-None-Match": "*" },
      body: JSON.stringify({ value: [...DEFAULT_ALLOWED_TYPES, type], visibility: "admin" }),
    });
    expect(put.status).toBe(201);
    try {
      expect((await uploadRaw(user, bytes, { contentType: type, filename: "t.bin" })).status).toBe(201);
    } finally {
      const removed = await call("/v1/settings/assets.allowed-types", {
        method: "DELETE",
        headers: { ...admin.auth, "If-Match": put.headers.get("ETag") ?? "" },
      });
      expect(removed.status).toBe(204);
    }
    expect((await uploadRaw(user, bytes, { contentType: type, filename: "t.bin" })).status).toBe(415);
  });
});

describe("the sweeper", () => {
  it("removes abandoned pending uploads (object, multipart upload, row) and keeps ready and recent ones", async () => {
    const user = await createUser();
    const start = async (body: Record<string, unknown>) => {
      const res = await call("/v1/assets/uploads", {
        method: "POST",
        headers: { ...user.auth, "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      return (await res.json()) as {
        asset: AssetJson;
        upload: { url?: string; headers: Record<string, string>; parts?: { url: string }[] };
      };
    };
    // Abandoned after the PUT: the object exists but was never completed.
    const bytes = pngBytes(300);
    const single = await start({ filename: "s.png", contentType: "image/png", size: bytes.length });
    expect(
      (await fetch(single.upload.url!, { method: "PUT", headers: single.upload.headers, body: bytes })).status,
    ).toBe(200);
    // Abandoned multipart: one part sent, never completed.
    const multi = await start({
      filename: "m.bin",
      contentType: "application/octet-stream",
      size: 50,
      multipart: true,
    });
    expect((await fetch(multi.upload.parts![0]!.url, { method: "PUT", body: new Uint8Array(50) })).status).toBe(200);
    // Recent pending: still within its URL's life.
    const recent = await start({ filename: "r.png", contentType: "image/png", size: 10 });
    // Ready, and old: never the sweeper's business.
    const ready = (await (await uploadRaw(user, pngBytes(20))).json()) as AssetJson;

    // A multipart upload on the same key that never reached Postgres (a Worker died after creating it).
    const unrecordedKey = (await assetRow(single.asset.id))!.objectKey;
    await testStore().createMultipart(unrecordedKey, "image/png");

    await backdate([single.asset.id], 60 * 60 * 1000);
    await backdate([multi.asset.id, ready.id], 2 * 60 * 60 * 1000);
    const singleKey = (await assetRow(single.asset.id))!.objectKey;
    const readyKey = (await assetRow(ready.id))!.objectKey;
    expect(await testStore().head(singleKey)).not.toBeNull();
    expect(await openMultipartUploads(`private/${user.id}/${multi.asset.id}/`)).toHaveLength(1);

    // A few minutes ahead: rows created moments ago by other tests stay inside their window.
    const result = await runJob(bindings, "sweep-pending-uploads", (deps, log) =>
      sweepPendingUploads(deps, log, new Date(Date.now() + 6 * 60 * 1000)),
    );
    expect(result.failed).toBe(0);
    expect(result.removed).toBeGreaterThanOrEqual(2);

    expect(await assetRow(single.asset.id)).toBeNull();
    expect(await testStore().head(singleKey)).toBeNull();
    expect(await openMultipartUploads(`private/${user.id}/${single.asset.id}/`)).toEqual([]);
    expect(await assetRow(multi.asset.id)).toBeNull();
    expect(await openMultipartUploads(`private/${user.id}/${multi.asset.id}/`)).toEqual([]);
    expect((await assetRow(recent.asset.id))?.status).toBe("pending");
    expect((await assetRow(ready.id))?.status).toBe("ready");
    expect(await testStore().head(readyKey)).not.toBeNull();

    // Running again finds nothing more of this user's to do.
    await runJob(bindings, "sweep-pending-uploads", (deps, log) =>
      sweepPendingUploads(deps, log, new Date(Date.now() + 6 * 60 * 1000)),
    );
    expect((await assetRow(recent.asset.id))?.status).toBe("pending");
  });

  it("refuses to complete an upload whose window has passed, so it cannot race the sweeper", async () => {
    const user = await createUser();
    const bytes = pngBytes(100);
    const res = await call("/v1/assets/uploads", {
      method: "POST",
      headers: { ...user.auth, "Content-Type": "application/json" },
      body: JSON.stringify({ filename: "late.png", contentType: "image/png", size: bytes.length }),
    });
    const { asset, upload } = (await res.json()) as {
      asset: AssetJson;
      upload: { url: string; headers: Record<string, string> };
    };
    expect((await fetch(upload.url, { method: "PUT", headers: upload.headers, body: bytes })).status).toBe(200);
    await backdate([asset.id], 13 * 60 * 1000);
    const late = await call(`/v1/assets/${asset.id}/complete`, { method: "POST", headers: user.auth });
    expect(late.status).toBe(409);
    expect(await withDb((db) => db.select().from(assets).where(eq(assets.id, asset.id)))).toHaveLength(1);
  });
});
