import { forbidden, notFound } from "../../core/problem.ts";
import { canManage, findVisible } from "./access.ts";
import { conflict } from "./problems.ts";
import { decodePosition, encodePosition } from "../../core/cursor.ts";
import type { Actor, AssetServiceDeps } from "./model.ts";
import { PRESIGN_GET_EXPIRY_SECONDS } from "./timing.ts";
import { type AssetView, toAssetView } from "./view.ts";

/** Reading, listing and deleting assets. Uploads: raw-upload.ts and direct-upload.ts. */

export async function getAsset(deps: AssetServiceDeps, actor: Actor | null, id: string): Promise<AssetView> {
  return toAssetView(await findVisible(deps, actor, id));
}

/** Where the bytes are: the public URL, or a short-lived signed URL for a private asset. */
export async function contentLocation(
  deps: AssetServiceDeps,
  actor: Actor | null,
  id: string,
): Promise<{ url: string; signed: boolean }> {
  const row = await findVisible(deps, actor, id);
  if (row.status !== "ready") throw conflict("The upload of this asset has not completed.");
  if (row.visibility === "public") return { url: deps.store.publicUrl(row.objectKey), signed: false };
  return { url: await deps.store.presignGet(row.objectKey, PRESIGN_GET_EXPIRY_SECONDS), signed: true };
}

/**
 * Deletes object and row. The row is first set back to pending, so a failure after that leaves
 * a pending row (never a ready one without its object) which a retry or the sweeper finishes.
 * An admin deleting someone else's asset is an admin write: `ensureActiveSession` (the revocation
 * list) must pass first, so a signed-out or demoted admin's unexpired token cannot do it.
 */
export async function deleteAsset(
  deps: AssetServiceDeps,
  actor: Actor,
  id: string,
  ensureActiveSession: () => Promise<void>,
): Promise<void> {
  const row = await findVisible(deps, actor, id);
  if (!canManage(actor, row)) throw forbidden("Only the owner or an admin can delete this asset.");
  if (row.ownerId !== actor.userId) await ensureActiveSession();
  if (row.status === "ready") await deps.repo.markPending(row.id);
  if (row.multipartUploadId) await deps.store.abortMultipart(row.objectKey, row.multipartUploadId);
  await deps.store.delete(row.objectKey);
  if (!(await deps.repo.remove(row.id))) throw notFound();
  deps.events.publish("asset.deleted", toAssetView(row));
}

export async function listAssets(
  deps: AssetServiceDeps,
  actor: Actor,
  query: { cursor?: string | undefined; limit: number },
): Promise<{ items: AssetView[]; nextCursor: string | null }> {
  const after = query.cursor ? decodePosition(query.cursor) : null;
  const rows = await deps.repo.listByOwner(actor.userId, after, query.limit + 1);
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  return {
    items: page.map(toAssetView),
    nextCursor: rows.length > query.limit && last ? encodePosition({ createdAt: last.createdAt, id: last.id }) : null,
  };
}
