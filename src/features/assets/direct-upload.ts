import type { CompletedPart } from "../../adapters/storage.ts";
import { dependencyUnavailable, forbidden, validationFailed } from "../../core/problem.ts";
import { findVisible } from "./access.ts";
import { conflict } from "./problems.ts";
import { essenceOf } from "./content-type.ts";
import { matchesDeclaredType, SNIFF_BYTES } from "./magic-bytes.ts";
import { checkTypeAndSize, discard, insertPending } from "./pending.ts";
import { sha256Stream } from "./sha256-stream.ts";
import type { Actor, AssetServiceDeps, Visibility } from "./model.ts";
import { PART_SIZE } from "./stream-upload.ts";
import { completableSince, PRESIGN_MULTIPART_EXPIRY_SECONDS, PRESIGN_PUT_EXPIRY_SECONDS } from "./timing.ts";
import { type AssetView, toAssetView } from "./view.ts";

/** Direct uploads above this size get presigned multipart parts instead of one PUT URL. */
export const MULTIPART_THRESHOLD_BYTES = 64 * 1024 * 1024;
/** The S3 API's ceiling on parts per upload. */
const MAX_PARTS = 10_000;
/** Reading an object back to hash it: the storage timeout plus time at a floor of 1 MiB/s. */
const HASH_READ_BYTES_PER_MS = (1024 * 1024) / 1000;

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
        // If-None-Match makes the URL create-only: a 412 on a retry means the object is already there.
        headers: { "Content-Type": contentType, "If-None-Match": "*" },
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
      const url = await deps.store.presignUploadPart(
        row.objectKey,
        uploadId,
        i + 1,
        size,
        PRESIGN_MULTIPART_EXPIRY_SECONDS,
      );
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

/**
 * Hashes a stored object and returns its first bytes, reading it as a stream. Bounded: past
 * `budgetMs` the read is cancelled (not left running) and storage counts as unavailable.
 */
async function hashObject(
  stream: ReadableStream<Uint8Array>,
  budgetMs: number,
): Promise<{ sha256: string; head: Uint8Array; size: number }> {
  const digest = sha256Stream();
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
  try {
    await stream.pipeThrough(counter).pipeTo(digest.writable, { signal: AbortSignal.timeout(budgetMs) });
  } catch (error) {
    throw dependencyUnavailable("storage", error);
  }
  const sha256 = await digest.hex();
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
  if (head.size !== row.size)
    throw await refuse(`The stored object has ${head.size} bytes, not the ${row.size} declared; it was removed.`);
  if (essenceOf(head.contentType) !== row.contentType) {
    throw await refuse(`The stored object's type is not ${row.contentType}; it was removed.`);
  }
  const stream = await deps.store.read(row.objectKey);
  if (!stream) throw conflict("Nothing has been uploaded for this asset yet.");
  const storageBudgetMs = 10_000 + Math.ceil(row.size / HASH_READ_BYTES_PER_MS);
  const hashed = await hashObject(stream, storageBudgetMs);
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
