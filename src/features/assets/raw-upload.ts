import { validationFailed } from "../../core/problem.ts";
import type { AssetRow } from "../../db/schema.ts";
import { essenceOf } from "./content-type.ts";
import { checkTypeAndSize, discard, insertPending } from "./pending.ts";
import { conflict, lengthRequired } from "./problems.ts";
import type { Actor, AssetServiceDeps, Visibility } from "./model.ts";
import { streamToBucket } from "./stream-upload.ts";
import { completableSince } from "./timing.ts";
import { type AssetView, toAssetView } from "./view.ts";

function parseContentLength(header: string | undefined): number {
  if (header === undefined || header.trim() === "") {
    throw lengthRequired();
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
export async function uploadThroughWorker(
  deps: AssetServiceDeps,
  actor: Actor,
  input: RawUploadInput,
): Promise<AssetView> {
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
