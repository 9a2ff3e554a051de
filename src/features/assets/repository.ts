import { and, desc, eq, gt, isNull, lt, or } from "drizzle-orm";
import type { Database } from "../../adapters/postgres.ts";
import { withDatabase } from "../../core/database-errors.ts";
import { type AssetRow, assets } from "../../db/schema.ts";
import type { ListPosition } from "../../core/cursor.ts";

export type NewAsset = Pick<
  AssetRow,
  "id" | "ownerId" | "objectKey" | "url" | "filename" | "contentType" | "size" | "visibility" | "createdAt"
>;

/** The asset rows, as the services need them. Every fault of Postgres becomes a 503 problem. */
export interface AssetRepository {
  insertPending(asset: NewAsset): Promise<AssetRow>;
  setMultipartUpload(id: string, uploadId: string | null): Promise<void>;
  /**
   * pending → ready, only while the row is pending and was created after `createdAfter` (older
   * rows belong to the sweeper). Returns the ready row, or null when it was not pending or too old.
   */
  markReady(id: string, sha256: string, createdAfter: Date): Promise<AssetRow | null>;
  /** ready → pending before deleting the object, so a failure midway leaves a row the sweeper finishes. */
  markPending(id: string): Promise<void>;
  find(id: string): Promise<AssetRow | null>;
  listByOwner(ownerId: string, after: ListPosition | null, limit: number): Promise<AssetRow[]>;
  remove(id: string): Promise<boolean>;
  /** Abandoned pending rows, oldest first: single-PUT ones created before `single`, multipart ones before `multipart`. */
  listStalePending(cutoffs: { single: Date; multipart: Date }, limit: number): Promise<AssetRow[]>;
  /** Deletes the row only while it is still pending (a row that became ready meanwhile stays). */
  removePending(id: string): Promise<boolean>;
}

/** Every query runs in withDatabase: unreachable Postgres is a 503, a server error (SQLSTATE) a 500. */
export function drizzleAssetRepository(db: Database): AssetRepository {
  return {
    insertPending: (asset) =>
      withDatabase(async () => {
        const [row] = await db
          .insert(assets)
          .values({ ...asset, status: "pending", updatedAt: asset.createdAt })
          .returning();
        if (!row) throw new Error("insert returned no row");
        return row;
      }),

    setMultipartUpload: (id, uploadId) =>
      withDatabase(async () => {
        await db.update(assets).set({ multipartUploadId: uploadId, updatedAt: new Date() }).where(eq(assets.id, id));
      }),

    markReady: (id, sha256, createdAfter) =>
      withDatabase(async () => {
        const [row] = await db
          .update(assets)
          .set({ status: "ready", sha256, multipartUploadId: null, updatedAt: new Date() })
          .where(and(eq(assets.id, id), eq(assets.status, "pending"), gt(assets.createdAt, createdAfter)))
          .returning();
        return row ?? null;
      }),

    markPending: (id) =>
      withDatabase(async () => {
        await db.update(assets).set({ status: "pending", updatedAt: new Date() }).where(eq(assets.id, id));
      }),

    find: (id) =>
      withDatabase(async () => {
        const [row] = await db.select().from(assets).where(eq(assets.id, id)).limit(1);
        return row ?? null;
      }),

    listByOwner: (ownerId, after, limit) =>
      withDatabase(() =>
        db
          .select()
          .from(assets)
          .where(
            and(
              eq(assets.ownerId, ownerId),
              after
                ? or(
                    lt(assets.createdAt, after.createdAt),
                    and(eq(assets.createdAt, after.createdAt), lt(assets.id, after.id)),
                  )
                : undefined,
            ),
          )
          .orderBy(desc(assets.createdAt), desc(assets.id))
          .limit(limit),
      ),

    remove: (id) =>
      withDatabase(async () => {
        const deleted = await db.delete(assets).where(eq(assets.id, id)).returning({ id: assets.id });
        return deleted.length > 0;
      }),

    listStalePending: (cutoffs, limit) =>
      withDatabase(() =>
        db
          .select()
          .from(assets)
          .where(
            and(
              eq(assets.status, "pending"),
              or(
                and(isNull(assets.multipartUploadId), lt(assets.createdAt, cutoffs.single)),
                lt(assets.createdAt, cutoffs.multipart),
              ),
            ),
          )
          .orderBy(assets.createdAt)
          .limit(limit),
      ),

    removePending: (id) =>
      withDatabase(async () => {
        const deleted = await db
          .delete(assets)
          .where(and(eq(assets.id, id), eq(assets.status, "pending")))
          .returning({ id: assets.id });
        return deleted.length > 0;
      }),
  };
}
