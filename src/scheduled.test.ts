import { env as testEnv } from "cloudflare:test";
import { eq, inArray } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from "vitest";
import { createPostgres, type Database } from "./adapters/postgres.ts";
import { createStorage, type ObjectStore, objectStore } from "./adapters/storage.ts";
import type { Bindings } from "./core/app-env.ts";
import { assets, authMailTokens, refreshTokens, users } from "./db/schema.ts";
import { runScheduledJobs } from "./scheduled.ts";

/**
 * The cron's jobs run over whole tables and a whole bucket, so this file has a database and a
 * bucket of its own (test/global-setup.ts): the counts below are exact, and no other test file's
 * rows are swept or pruned under it. Each job swallows its errors, so every case asserts what the
 * run did (rows, objects, open uploads, log lines), never only that it returned.
 */
const binding = (name: string): string => {
  const value = (testEnv as unknown as Record<string, unknown>)[name];
  if (typeof value !== "string") throw new Error(`test/global-setup.ts provides no ${name}`);
  return value;
};
const bucket = binding("TEST_SCHEDULED_BUCKET");
const databaseUrl = binding("TEST_SCHEDULED_DATABASE_URL");
const publicBaseUrl = `${binding("S3_ENDPOINT")}/${bucket}`;
const withEnv = (vars: Record<string, string>) => ({ ...testEnv, ...vars }) as unknown as Bindings;
const ownVars = {
  DATABASE_URL: databaseUrl,
  S3_BUCKET: bucket,
  S3_PUBLIC_BASE_URL: publicBaseUrl,
  REDIS_KEY_PREFIX: `${binding("REDIS_KEY_PREFIX")}cron:`,
  LOG_LEVEL: "info",
};
const own = withEnv(ownVars);
const storageDown = withEnv({ ...ownVars, S3_ENDPOINT: "http://127.0.0.1:9", STORAGE_TIMEOUT_MS: "2000" });
const postgresDown = withEnv({ ...ownVars, DATABASE_WS_PROXY: "ws://127.0.0.1:9/v1", DATABASE_TIMEOUT_MS: "2000" });

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

async function withDb<T>(work: (db: Database) => Promise<T>): Promise<T> {
  const pg = createPostgres({ url: databaseUrl, wsProxy: binding("DATABASE_WS_PROXY"), timeoutMs: 5_000 });
  try {
    return await work(pg.db);
  } finally {
    await pg.close();
  }
}

async function withStore<T>(work: (store: ObjectStore) => Promise<T>): Promise<T> {
  const storage = createStorage({
    endpoint: binding("S3_ENDPOINT"),
    region: binding("S3_REGION"),
    bucket,
    accessKeyId: binding("S3_ACCESS_KEY_ID"),
    secretAccessKey: binding("S3_SECRET_ACCESS_KEY"),
    publicBaseUrl: publicBaseUrl,
    forcePathStyle: true,
    timeoutMs: 5_000,
  });
  try {
    return await work(objectStore(storage));
  } finally {
    storage.client.destroy();
  }
}

const objectExists = (key: string) => withStore(async (store) => (await store.head(key)) !== null);
const openUploads = (key: string) => withStore((store) => store.listMultipartUploads(key));

interface LogLine {
  level: string;
  msg: string;
  job?: string;
  [field: string]: unknown;
}

/** The JSON lines the jobs wrote (the real logger, read off the console it writes to). */
let consoleSpies: MockInstance[] = [];
const logLines = (): LogLine[] =>
  consoleSpies
    .flatMap((spy) => spy.mock.calls.map((args) => String(args[0])))
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as LogLine);
const logOf = (job: string, msg: string) => logLines().filter((l) => l.job === job && l.msg === msg);

beforeEach(async () => {
  consoleSpies = (["log", "warn", "error"] as const).map((level) => vi.spyOn(console, level));
  await withDb(async (db) => {
    await db.delete(assets);
    await db.delete(users); // refresh and mail tokens go with their users
  });
});

afterEach(() => {
  for (const spy of consoleSpies) spy.mockRestore();
});

/** A user with three refresh tokens (expired past the retention, just expired, live) and two mailed ones. */
async function seedTokens(now: Date) {
  return withDb(async (db) => {
    const [user] = await db
      .insert(users)
      .values({ email: `cron-${crypto.randomUUID()}@example.test`, passwordHash: "!not-loginable" })
      .returning();
    if (!user) throw new Error("no user row");
    const refresh = (label: string, expiresAt: Date) => ({
      userId: user.id,
      familyId: crypto.randomUUID(),
      tokenHash: `${label}-${crypto.randomUUID()}`,
      expiresAt,
    });
    const tokens = await db
      .insert(refreshTokens)
      .values([
        refresh("stale", new Date(now.getTime() - 24 * HOUR - MINUTE)),
        refresh("recent", new Date(now.getTime() - MINUTE)),
        refresh("live", new Date(now.getTime() + 30 * 24 * HOUR)),
      ])
      .returning({ id: refreshTokens.id, tokenHash: refreshTokens.tokenHash });
    const mail = (purpose: "password-reset" | "email-verification", expiresAt: Date) => ({
      userId: user.id,
      purpose,
      tokenHash: `${purpose}-${crypto.randomUUID()}`,
      email: user.email,
      expiresAt,
    });
    await db
      .insert(authMailTokens)
      .values([
        mail("password-reset", new Date(now.getTime() - 25 * HOUR)),
        mail("email-verification", new Date(now.getTime() + 30 * MINUTE)),
      ]);
    return { user, staleRefreshId: tokens.find((t) => t.tokenHash.startsWith("stale-"))!.id };
  });
}

const refreshTokensLeft = () =>
  withDb(async (db) =>
    (await db.select({ hash: refreshTokens.tokenHash }).from(refreshTokens)).map((r) => r.hash.split("-")[0]).sort(),
  );
const mailTokensLeft = () =>
  withDb(async (db) =>
    (await db.select({ purpose: authMailTokens.purpose }).from(authMailTokens)).map((r) => r.purpose),
  );

interface SeededAsset {
  id: string;
  key: string;
}

/** A pending or ready asset row created `age` before `now`, with its object or an open multipart upload. */
async function seedAsset(
  ownerId: string,
  now: Date,
  label: string,
  options: { age: number; status?: "pending" | "ready"; object?: boolean; multipart?: boolean },
): Promise<SeededAsset> {
  const key = `private/${ownerId}/${crypto.randomUUID()}/${label}.bin`;
  const multipartUploadId = options.multipart
    ? await withStore((store) => store.createMultipart(key, "application/octet-stream"))
    : null;
  if (options.object) {
    await withStore((store) => store.put(key, new Uint8Array(16), "application/octet-stream"));
  }
  const [row] = await withDb((db) =>
    db
      .insert(assets)
      .values({
        ownerId,
        objectKey: key,
        url: `${publicBaseUrl}/${key}`,
        filename: `${label}.bin`,
        contentType: "application/octet-stream",
        size: 16,
        status: options.status ?? "pending",
        multipartUploadId,
        createdAt: new Date(now.getTime() - options.age),
      })
      .returning({ id: assets.id }),
  );
  return { id: row!.id, key };
}

const assetStatus = (ids: string[]) =>
  withDb(async (db) => {
    const rows = await db.select({ id: assets.id, status: assets.status }).from(assets).where(inArray(assets.id, ids));
    return Object.fromEntries(ids.map((id) => [id, rows.find((r) => r.id === id)?.status ?? "gone"]));
  });

describe("the scheduled jobs", () => {
  it("prune tokens past their retention and sweep abandoned uploads, keeping everything still live", async () => {
    const now = new Date();
    const { user } = await seedTokens(now);
    // Single PUTs are abandoned 15 min after creation (10 min URL + 5 min grace), multipart after 65.
    const abandoned = await seedAsset(user.id, now, "abandoned", { age: 20 * MINUTE, object: true });
    const abandonedParts = await seedAsset(user.id, now, "abandoned-parts", { age: 70 * MINUTE, multipart: true });
    const recent = await seedAsset(user.id, now, "recent", { age: MINUTE, object: true });
    const partsInWindow = await seedAsset(user.id, now, "parts-in-window", { age: 30 * MINUTE, multipart: true });
    const ready = await seedAsset(user.id, now, "ready", { age: 48 * HOUR, status: "ready", object: true });
    // A multipart upload on an abandoned key that never reached Postgres (a Worker died after creating it).
    await withStore((store) => store.createMultipart(abandoned.key, "application/octet-stream"));
    expect(await openUploads(abandoned.key)).toHaveLength(1);

    await runScheduledJobs(own, now);

    expect(await refreshTokensLeft()).toEqual(["live", "recent"]);
    expect(await mailTokensLeft()).toEqual(["email-verification"]);
    expect(await assetStatus([abandoned.id, abandonedParts.id, recent.id, partsInWindow.id, ready.id])).toEqual({
      [abandoned.id]: "gone",
      [abandonedParts.id]: "gone",
      [recent.id]: "pending",
      [partsInWindow.id]: "pending",
      [ready.id]: "ready",
    });
    expect(await objectExists(abandoned.key)).toBe(false);
    expect(await openUploads(abandoned.key)).toEqual([]);
    expect(await openUploads(abandonedParts.key)).toEqual([]);
    expect(await objectExists(recent.key)).toBe(true);
    expect(await openUploads(partsInWindow.key)).toHaveLength(1);
    expect(await objectExists(ready.key)).toBe(true);
    expect(logOf("prune-refresh-tokens", "pruned expired refresh tokens")).toMatchObject([
      { level: "info", removed: 1 },
    ]);
    expect(logOf("sweep-pending-uploads", "swept pending uploads")).toMatchObject([
      { level: "info", removed: 2, failed: 0 },
    ]);

    // A second run at the same instant finds nothing left to do.
    await runScheduledJobs(own, now);
    expect(logOf("prune-refresh-tokens", "pruned expired refresh tokens").at(-1)).toMatchObject({ removed: 0 });
    expect(logOf("sweep-pending-uploads", "swept pending uploads").at(-1)).toMatchObject({ removed: 0, failed: 0 });
  });

  it("with storage down, still prune tokens and keep the abandoned upload for the next run", async () => {
    const now = new Date();
    const { user } = await seedTokens(now);
    const abandoned = await seedAsset(user.id, now, "abandoned", { age: 20 * MINUTE, object: true });

    await expect(runScheduledJobs(storageDown, now)).resolves.toBeUndefined();

    expect(await refreshTokensLeft()).toEqual(["live", "recent"]);
    expect(await mailTokensLeft()).toEqual(["email-verification"]);
    expect(await assetStatus([abandoned.id])).toEqual({ [abandoned.id]: "pending" });
    expect(await objectExists(abandoned.key)).toBe(true);
    expect(logOf("sweep-pending-uploads", "sweeping a pending upload failed; the next run retries")).toMatchObject([
      { level: "warn", assetId: abandoned.id },
    ]);
    expect(logOf("sweep-pending-uploads", "swept pending uploads")).toMatchObject([{ removed: 0, failed: 1 }]);

    // Storage back: the next run removes the object and the row.
    await runScheduledJobs(own, now);
    expect(await assetStatus([abandoned.id])).toEqual({ [abandoned.id]: "gone" });
    expect(await objectExists(abandoned.key)).toBe(false);
  });

  it("with Postgres down, log each job's failure, remove nothing, and leave the work to the next run", async () => {
    const now = new Date();
    const { user, staleRefreshId } = await seedTokens(now);
    const abandoned = await seedAsset(user.id, now, "abandoned", { age: 20 * MINUTE, object: true });

    await expect(runScheduledJobs(postgresDown, now)).resolves.toBeUndefined();

    expect(logOf("prune-refresh-tokens", "pruning refresh tokens failed; the next run retries")).toMatchObject([
      { level: "error" },
    ]);
    expect(logOf("sweep-pending-uploads", "sweeping pending uploads failed")).toMatchObject([{ level: "error" }]);
    const written = logLines()
      .map((l) => JSON.stringify(l))
      .join("\n");
    expect(written).not.toContain(binding("S3_SECRET_ACCESS_KEY"));
    expect(await refreshTokensLeft()).toEqual(["live", "recent", "stale"]);
    expect(await mailTokensLeft()).toHaveLength(2);
    expect(await assetStatus([abandoned.id])).toEqual({ [abandoned.id]: "pending" });
    expect(await objectExists(abandoned.key)).toBe(true);

    // Postgres back: the next run does all of it.
    await runScheduledJobs(own, now);
    const stale = await withDb((db) => db.select().from(refreshTokens).where(eq(refreshTokens.id, staleRefreshId)));
    expect(stale).toEqual([]);
    expect(await mailTokensLeft()).toEqual(["email-verification"]);
    expect(await assetStatus([abandoned.id])).toEqual({ [abandoned.id]: "gone" });
    expect(await objectExists(abandoned.key)).toBe(false);
  });
});
