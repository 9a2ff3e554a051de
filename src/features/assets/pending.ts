import type { AssetRow } from "../../db/schema.ts";
import { displayFilename, objectKeyFor } from "./object-key.ts";
import { tooLarge, unsupportedType } from "./problems.ts";
import type { Actor, AssetServiceDeps, Visibility } from "./model.ts";

/**
 * The start and the failure path of every upload: the limits checked before a row exists, the
 * pending row itself, and the removal of whatever a failed upload left.
 */

export async function checkTypeAndSize(
  deps: AssetServiceDeps,
  contentType: string | null,
  size: number,
): Promise<string> {
  const limits = await deps.limits();
  if (!contentType || !limits.allowedTypes.has(contentType)) throw unsupportedType(contentType);
  if (size > limits.maxBytes) throw tooLarge(limits);
  return contentType;
}

export async function insertPending(
  deps: AssetServiceDeps,
  actor: Actor,
  input: { filename: string | undefined; contentType: string; size: number; visibility: Visibility; apiOrigin: string },
): Promise<AssetRow> {
  const id = crypto.randomUUID();
  const objectKey = objectKeyFor(input.visibility, actor.userId, id, input.filename);
  return deps.repo.insertPending({
    id,
    ownerId: actor.userId,
    objectKey,
    // Private objects are never served from the public domain: their URL is this API's redirect.
    url: input.visibility === "public" ? deps.store.publicUrl(objectKey) : `${input.apiOrigin}/v1/assets/${id}/content`,
    filename: displayFilename(input.filename),
    contentType: input.contentType,
    size: input.size,
    visibility: input.visibility,
    // Millisecond precision, like the cursor that will carry it.
    createdAt: deps.now(),
  });
}

/**
 * Removes whatever an unfinished upload left: its multipart upload, its object, its row. Best
 * effort: a step that fails leaves the row pending, and the sweeper finishes the job later.
 */
export async function discard(deps: AssetServiceDeps, row: AssetRow, uploadId: string | null): Promise<void> {
  try {
    if (uploadId) await deps.store.abortMultipart(row.objectKey, uploadId);
    await deps.store.delete(row.objectKey);
    await deps.repo.removePending(row.id);
  } catch (error) {
    deps.log.warn("cleanup of a failed upload deferred to the sweeper", { assetId: row.id, error });
  }
}
