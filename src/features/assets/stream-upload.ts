import type { ObjectStore } from "../../adapters/storage.ts";
import { dependencyUnavailable } from "../../core/problem.ts";
import { bodySource } from "./body-source.ts";
import { matchesDeclaredType, SNIFF_BYTES } from "./magic-bytes.ts";
import { lengthMismatch, typeMismatch } from "./problems.ts";
import { sha256Stream } from "./sha256-stream.ts";

/**
 * One part is the unit of memory: a body up to this size goes up in one PutObject, a larger one
 * as multipart parts of this size, read one part at a time. R2 and S3 need parts ≥ 5 MiB (but the last).
 */
export const PART_SIZE = 8 * 1024 * 1024;

export interface StreamUploadInput {
  store: ObjectStore;
  key: string;
  contentType: string;
  /** Content-Length as the client declared it; the body must be exactly this long. */
  declaredLength: number;
  body: ReadableStream<Uint8Array> | null;
  /** Called once the multipart upload exists, before any part is sent, so it can be recorded for cleanup. */
  onMultipartStarted(uploadId: string): Promise<void>;
  partSize?: number;
}

/**
 * Streams a request body to the bucket with at most one part in memory, hashing it on the way
 * (crypto.DigestStream is incremental; WebCrypto's digest() is not). Refuses a body whose length
 * differs from the declared one, or whose first bytes contradict its declared type, before the
 * object becomes visible. On failure a started multipart upload is left to the caller to abort
 * (it was reported through onMultipartStarted); nothing else was stored.
 */
export async function streamToBucket(input: StreamUploadInput): Promise<{ sha256: string }> {
  const { store, key, contentType, declaredLength } = input;
  const partSize = input.partSize ?? PART_SIZE;
  const digest = sha256Stream();
  const hash = digest.writable.getWriter();
  const source = bodySource(input.body);
  // Sized to the body when it fits one part, so a small upload holds only its own bytes. The one
  // buffer is refilled for every part: the previous part was fully sent before the refill.
  let buffer: Uint8Array = new Uint8Array(Math.min(declaredLength, partSize));
  let remaining = declaredLength;
  let uploadId: string | undefined;
  const parts: { partNumber: number; etag: string }[] = [];

  try {
    for (;;) {
      const want = Math.min(buffer.byteLength, remaining);
      const filled = await source.fill(buffer, want);
      buffer = filled.target;
      if (filled.n < want) throw lengthMismatch(declaredLength, "shorter");
      remaining -= filled.n;
      const chunk = buffer.subarray(0, filled.n);
      if (parts.length === 0 && !matchesDeclaredType(contentType, chunk.subarray(0, SNIFF_BYTES)))
        throw typeMismatch(contentType);
      await hash.write(chunk);

      if (remaining > 0) {
        if (uploadId === undefined) {
          uploadId = await store.createMultipart(key, contentType);
          await input.onMultipartStarted(uploadId);
        }
        parts.push({
          partNumber: parts.length + 1,
          etag: await store.uploadPart(key, uploadId, parts.length + 1, chunk),
        });
        continue;
      }

      // The declared bytes are in: anything more means Content-Length lied.
      if (await source.hasMore()) throw lengthMismatch(declaredLength, "longer");
      await hash.close();
      const sha256 = await digest.hex();
      if (uploadId === undefined) {
        // A body of at most one part: one PutObject, made visible only now that it checked out.
        await store.put(key, chunk, contentType);
      } else {
        parts.push({
          partNumber: parts.length + 1,
          etag: await store.uploadPart(key, uploadId, parts.length + 1, chunk),
        });
        if (!(await store.completeMultipart(key, uploadId, parts))) {
          throw dependencyUnavailable(
            "storage",
            new Error("CompleteMultipartUpload refused the parts it was just sent"),
          );
        }
      }
      return { sha256 };
    }
  } catch (error) {
    await source.cancel().catch(() => {});
    await hash.abort().catch(() => {});
    throw error;
  }
}
