import type { CompletedPart, ObjectStore } from "../../adapters/storage.ts";
import type { Logger } from "../../core/logger.ts";
import { forbidden, notFound, ProblemError, validationFailed } from "../../core/problem.ts";
import { withTimeout } from "../../core/timeout.ts";
import type { AssetRow } from "../../db/schema.ts";
import { essenceOf } from "./content-type.ts";
import { decodeCursor, encodeCursor } from "./cursor.ts";
import type { AssetEvents } from "./events.ts";
import type { LoadLimits, UploadLimits } from "./limits.ts";
import { matchesDeclaredType, SNIFF_BYTES } from "./magic-bytes.ts";
import { displayFilename, objectKeyFor } from "./object-key.ts";
import type { AssetRepository } from "./repository.ts";
import { PART_SIZE, streamToBucket } from "./stream-upload.ts";
import {
  completableSince,
  PRESIGN_GET_EXPIRY_SECONDS,
  PRESIGN_MULTIPART_EXPIRY_SECONDS,
  PRESIGN_PUT_EXPIRY_SECONDS,
} from "./timing.ts";
import { type AssetView, toAssetView } from "./view.ts";

export interface AssetServiceDeps {
  store: ObjectStore;
  repo: AssetRepository;
  limits: LoadLimits;
  events: AssetEvents;
  log: Logger;
  now(): Date;
}

/** Who is asking: a signed-in user (admins may read and delete any asset) or nobody. */
export interface Actor {
  userId: string;
  admin: boolean;
}

type Visibility = "public" | "private";

/** Direct uploads above this size get presigned multipart parts instead of one PUT URL. */
export const MULTIPART_THRESHOLD_BYTES = 64 * 1024 * 1024;
/** The S3 API's ceiling on parts per upload. */
const MAX_PARTS = 10_000;
/** Reading an object back to hash it: the storage timeout plus time at a floor of 1 MiB/s. */
const HASH_READ_BYTES_PER_MS = 1024 * 1024 / 1000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const conflict = (detail: string) => new ProblemError({ status: 409, detail });
const tooLarge = (limits: UploadLimits) =>
  new ProblemError({ status: 413, detail: `Uploads are limited to ${limits.maxBytes} bytes.` });
const unsupportedType = (contentType: string | null) =>
  new ProblemError({
    status: 415,
    detail: contentType ? `${contentType} is not an accepted upload type.` : "A Content-Type (type/subtype) is required.",
  });

const canManage = (actor: Actor | null, row: AssetRow): boolean =>
  actor !== null && (actor.admin || actor.userId === row.ownerId);

/** Private and unfinished assets are invisible to everyone but their owner and admins. */
const canSee = (actor: Actor | null, row: AssetRow): boolean =>
  canManage(actor, row) || (row.visibility === "public" && row.status === "ready");

async function findVisible(deps: AssetServiceDeps, actor: Actor | null, id: string): Promise<AssetRow> {
  const row = UUID.test(id) ? await deps.repo.find(id) : null;
  if (!row || !canSee(actor, row)) throw notFound();
  return row;
}

async function checkTypeAndSize(deps: AssetServiceDeps, contentType: string | null, size: number): Promise<string> {
  const limits = await deps.limits();
  if (!contentType || !limits.allowedTypes.has(contentType)) throw unsupportedType(contentType);
  if (size > limits.maxBytes) throw tooLarge(limits);
  return contentType;
}

async function insertPending(
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
async function discard(deps: AssetServiceDeps, row: AssetRow, uploadId: string | null): Promise<void> {
  try {
    if (uploadId) await deps.store.abortMultipart(row.objectKey, uploadId);
    await deps.store.delete(row.objectKey);
    await deps.repo.removePending(row.id);
  } catch (error) {
    deps.log.warn("cleanup of a failed upload deferred to the sweeper", { assetId: row.id, error });
  }
}

function parseContentLength(header: string | undefined): number {
  if (header === undefined || header.trim() === "") {
    throw new ProblemError({ status: 411, detail: "Send the body with a Content-Length header (chunked uploads are not accepted)." });
  }
  if (!/^\d{1,16}$/.test(header.trim())) {
    throw validationFailed([{ path: "header.content-length", message: "must be a non-negative integer" }]);
  }
  return Number(header.trim());
}

export interface RawUploadInput {
  filename: string | undefined;
  visibility: Visibility;
  contentType: string | undefined;
  contentLength: string | undefined;
  body: ReadableStream<Uint8Array> | null;
  apiOrigin: string;
}

/** POST /v1/assets: the body streams to the bucket; the row becomes ready once the object is stored. */
export async function uploadThroughWorker(deps: AssetServiceDeps, actor: Actor, input: RawUploadInput): Promise<AssetView> {
  const size = parseContentLength(input.contentLength);
  const contentType = await checkTypeAndSize(deps, essenceOf(input.contentType), size);
  const row = await insertPending(deps, actor, { ...input, contentType, size });
  let uploadId: string | null = null;
  let sha256: string;
  try {
    ({ sha256 } = await streamToBucket({
      store: deps.store,
      key: row.objectKey,
      contentType,
      declaredLength: size,
      body: input.body,
      onMultipartStarted: async (id) => {
        uploadId = id;
        await deps.repo.setMultipartUpload(row.id, id);
      },
    }));
  } catch (error) {
    await discard(deps, row, uploadId);
    throw error;
  }
  let ready: AssetRow | null;
  try {
    ready = await deps.repo.markReady(row.id, sha256, completableSince({ multipartUploadId: uploadId }, deps.now()));
  } catch (error) {
    // The object is stored but its row could not say so: remove the object rather than orphan it.
    await discard(deps, row, null);
    throw error;
  }
  if (!ready) {
    await discard(deps, row, null);
    throw conflict("The asset was deleted before its upload finished.");
  }
  const view = toAssetView(ready);
  deps.events.publish("asset.ready", view);
  return view;
}

export interface DirectUploadInput {
  filename: string;
  contentType: string;
  size: number;
  visibility: Visibility;
  multipart?: boolean | undefined;
  apiOrigin: string;
}

export type DirectUpload =
  | { method: "PUT"; url: string; headers: Record<string, string>; expiresAt: string }
  | {
      method: "PUT";
      headers: Record<string, string>;
      expiresAt: string;
      partSize: number;
      parts: { partNumber: number; url: string; size: number }[];
    };

/** POST /v1/assets/uploads: a pending row plus presigned URL(s) the client uploads to directly. */
export async function createDirectUpload(
  deps: AssetServiceDeps,
  actor: Actor,
  input: DirectUploadInput,
): Promise<{ asset: AssetView; upload: DirectUpload }> {
  const contentType = await checkTypeAndSize(deps, essenceOf(input.contentType), input.size);
  const multipart = input.multipart === true || input.size > MULTIPART_THRESHOLD_BYTES;
  const row = await insertPending(deps, actor, { ...input, contentType });
  const now = deps.now();

  if (!multipart) {
    const url = await deps.store.presignPut(row.objectKey, contentType, input.size, PRESIGN_PUT_EXPIRY_SECONDS);
    return {
      asset: toAssetView(row),
      upload: {
        method: "PUT",
        url,
        // Content-Length is signed too: the body must be exactly `size` bytes (clients set it from the body).
        headers: { "Content-Type": contentType },
        expiresAt: new Date(now.getTime() + PRESIGN_PUT_EXPIRY_SECONDS * 1000).toISOString(),
      },
    };
  }

  const partSize = Math.max(PART_SIZE, Math.ceil(input.size / MAX_PARTS));
  let uploadId: string | null = null;
  try {
    uploadId = await deps.store.createMultipart(row.objectKey, contentType);
    await deps.repo.setMultipartUpload(row.id, uploadId);
  } catch (error) {
    await discard(deps, row, uploadId);
    throw error;
  }
  const count = Math.ceil(input.size / partSize);
  const parts = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const size = i === count - 1 ? input.size - partSize * i : partSize;
      const url = await deps.store.presignUploadPart(row.objectKey, uploadId, i + 1, size, PRESIGN_MULTIPART_EXPIRY_SECONDS);
      return { partNumber: i + 1, url, size };
    }),
  );
  return {
    asset: toAssetView({ ...row, multipartUploadId: uploadId }),
    upload: {
      method: "PUT",
      headers: {},
      expiresAt: new Date(now.getTime() + PRESIGN_MULTIPART_EXPIRY_SECONDS * 1000).toISOString(),
      partSize,
      parts,
    },
  };
}

/** Hashes a stored object and returns its first bytes, reading it as a stream. */
async function hashObject(stream: ReadableStream<Uint8Array>): Promise<{ sha256: string; head: Uint8Array; size: number }> {
  const digest = new crypto.DigestStream("SHA-256");
  const head = new Uint8Array(SNIFF_BYTES);
  let headFilled = 0;
  let size = 0;
  const counter = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      if (headFilled < SNIFF_BYTES) {
        const n = Math.min(SNIFF_BYTES - headFilled, chunk.byteLength);
        head.set(chunk.subarray(0, n), headFilled);
        headFilled += n;
      }
      size += chunk.byteLength;
      controller.enqueue(chunk);
    },
  });
  await stream.pipeThrough(counter).pipeTo(digest);
  const sha256 = Array.from(new Uint8Array(await digest.digest), (b) => b.toString(16).padStart(2, "0")).join("");
  return { sha256, head: head.subarray(0, headFilled), size };
}

/**
 * POST /v1/assets/:id/complete: the object must be there with the declared size and type, and
 * its bytes must not contradict the type, before the row turns ready. A mismatching object is
 * deleted (the still-valid URL can be used again). Safe to repeat: a ready asset is returned as is.
 */
export async function completeUpload(
  deps: AssetServiceDeps,
  actor: Actor,
  id: string,
  parts: CompletedPart[] | undefined,
): Promise<AssetView> {
  const row = await findVisible(deps, actor, id);
  if (row.ownerId !== actor.userId) throw forbidden("Only the owner can complete an upload.");
  if (row.status === "ready") return toAssetView(row);
  const deadline = completableSince(row, deps.now());
  if (row.createdAt <= deadline) throw conflict("This upload expired; start a new one.");

  if (row.multipartUploadId) {
    if (!parts) throw validationFailed([{ path: "parts", message: "is required to complete a multipart upload" }]);
    const sorted = [...parts].sort((a, b) => a.partNumber - b.partNumber);
    const assembled = await deps.store.completeMultipart(row.objectKey, row.multipartUploadId, sorted);
    // A repeat after a completed assembly finds the upload gone but the object there.
    if (!assembled && !(await deps.store.head(row.objectKey))) {
      throw conflict("The parts do not match what was uploaded; upload the missing parts and try again.");
    }
  }

  const refuse = async (detail: string) => {
    await deps.store.delete(row.objectKey);
    return conflict(detail);
  };
  const head = await deps.store.head(row.objectKey);
  if (!head) throw conflict("Nothing has been uploaded for this asset yet.");
  if (head.size !== row.size) throw await refuse(`The stored object has ${head.size} bytes, not the ${row.size} declared; it was removed.`);
  if (essenceOf(head.contentType) !== row.contentType) {
    throw await refuse(`The stored object's type is not ${row.contentType}; it was removed.`);
  }
  const stream = await deps.store.read(row.objectKey);
  if (!stream) throw conflict("Nothing has been uploaded for this asset yet.");
  const storageBudgetMs = 10_000 + Math.ceil(row.size / HASH_READ_BYTES_PER_MS);
  const hashed = await withTimeout("storage (read)", storageBudgetMs, hashObject(stream));
  if (hashed.size !== row.size) throw await refuse("The stored object changed while it was checked; it was removed.");
  if (!matchesDeclaredType(row.contentType, hashed.head)) {
    throw await refuse(`The stored bytes are not those of ${row.contentType}; the object was removed.`);
  }
  const ready = await deps.repo.markReady(row.id, hashed.sha256, deadline);
  if (!ready) {
    // Deleted or swept meanwhile: the object must not outlive its row.
    await deps.store.delete(row.objectKey);
    throw conflict("The asset was deleted or expired before it was completed.");
  }
  const view = toAssetView(ready);
  deps.events.publish("asset.ready", view);
  return view;
}

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
 */
export async function deleteAsset(deps: AssetServiceDeps, actor: Actor, id: string): Promise<void> {
  const row = await findVisible(deps, actor, id);
  if (!canManage(actor, row)) throw forbidden("Only the owner or an admin can delete this asset.");
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
  const after = query.cursor ? decodeCursor(query.cursor) : null;
  const rows = await deps.repo.listByOwner(actor.userId, after, query.limit + 1);
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  return {
    items: page.map(toAssetView),
    nextCursor: rows.length > query.limit && last ? encodeCursor({ createdAt: last.createdAt, id: last.id }) : null,
  };
}
