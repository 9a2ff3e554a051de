import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { digestHex } from "../../common/encoding.ts";
import { dependencyUnavailable } from "../core/problem.ts";
import { withTimeout } from "../../common/timeout.ts";

export interface StorageOptions {
  endpoint: string;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  publicBaseUrl: string;
  forcePathStyle: boolean;
  timeoutMs: number;
}

/**
 * An S3 client for R2 or any S3-compatible store. R2 rejects the SDK's default CRC32 checksums
 * (sent since 3.729), so checksums are computed and validated only when an operation requires them.
 *
 * XML answers (CreateMultipartUpload, CompleteMultipartUpload, any error body): bundled for Workers,
 * the SDK would take its browser XML parser, which needs the DOM's `DOMParser` and `Node`; workerd
 * has neither (aws-sdk-js-v3 issue 7375). wrangler.toml's `[alias]` gives it the SDK's own pure-JS
 * parser instead (scripts/bundle/xml-builder.js), the one it uses on Node: no DOM shim is shipped.
 */
export function createS3Client(options: Omit<StorageOptions, "bucket" | "publicBaseUrl" | "timeoutMs">): S3Client {
  return new S3Client({
    endpoint: options.endpoint,
    region: options.region,
    forcePathStyle: options.forcePathStyle,
    credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    maxAttempts: 2,
  });
}

export interface ObjectInfo {
  size: number;
  contentType: string | undefined;
}

export interface CompletedPart {
  partNumber: number;
  etag: string;
}

/**
 * The object operations the features use, each bounded by the storage timeout. Absence is a
 * value (null / false), never an error; any other fault of the store becomes a 503 problem
 * (the upstream's text is kept as the logged cause only).
 */
export interface ObjectStore {
  /** Resolves once the bucket answers within `timeoutMs`; rejects with the store's own error (readiness classifies it). */
  ping(timeoutMs: number): Promise<void>;
  /** Ends the client's connections; the store is not used after. */
  close(): void;
  publicUrl(key: string): string;
  put(key: string, body: Uint8Array, contentType: string): Promise<void>;
  head(key: string): Promise<ObjectInfo | null>;
  /** The object's bytes as a stream, or null when it does not exist. */
  read(key: string): Promise<ReadableStream<Uint8Array> | null>;
  /** Idempotent: deleting a missing key succeeds. */
  delete(key: string): Promise<void>;
  createMultipart(key: string, contentType: string): Promise<string>;
  /** Returns the part's ETag. */
  uploadPart(key: string, uploadId: string, partNumber: number, body: Uint8Array): Promise<string>;
  /** False when the store refuses the parts (unknown upload, missing or wrong parts). */
  completeMultipart(key: string, uploadId: string, parts: CompletedPart[]): Promise<boolean>;
  /** Idempotent: an upload that is already gone counts as aborted. */
  abortMultipart(key: string, uploadId: string): Promise<void>;
  /** Ids of the open multipart uploads of exactly `key` (first page of the listing: up to 1,000). */
  listMultipartUploads(key: string): Promise<string[]>;
  /** A PUT URL whose signature binds Content-Type and Content-Length. */
  presignPut(key: string, contentType: string, contentLength: number, expiresInSeconds: number): Promise<string>;
  presignUploadPart(
    key: string,
    uploadId: string,
    partNumber: number,
    contentLength: number,
    expiresInSeconds: number,
  ): Promise<string>;
  presignGet(key: string, expiresInSeconds: number): Promise<string>;
}

/**
 * Signs `body` with a SHA-256 computed by WebCrypto (native, one pass) instead of the SDK's own
 * hasher, which concatenates the payload into fresh JS buffers: with 8 MiB parts that garbage grew
 * the isolate by roughly the size of the whole upload before a GC reclaimed it (measured, see
 * docs/assets.md). The SigV4 signer uses a preset `x-amz-content-sha256` as the payload hash.
 */
async function withPayloadHash<C extends { middlewareStack: { add(...args: never[]): void } }>(
  command: C,
  body: Uint8Array,
): Promise<C> {
  const hex = await digestHex(body);
  type Handler = (args: { request: unknown }) => Promise<unknown>;
  const middleware =
    (next: Handler): Handler =>
    (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers) request.headers["x-amz-content-sha256"] = hex;
      return next(args);
    };
  (command.middlewareStack.add as (m: typeof middleware, o: { step: string; name: string }) => void)(middleware, {
    step: "build",
    name: "precomputedPayloadHash",
  });
  return command;
}

/**
 * Hands `body` to the SDK as a stream of known length rather than as bytes: a byte body is copied
 * into the outgoing Request, and that copy lives until the Request object is collected, so 8 MiB
 * per part piled up between GCs. The stream passes the caller's buffer through without a copy and
 * FixedLengthStream keeps Content-Length on the wire (S3 and R2 need it). A retry inside the SDK
 * cannot re-read a stream, so a failed send surfaces as unavailable and the caller retries.
 */
async function sendBody<T>(body: Uint8Array, run: (stream: ReadableStream<Uint8Array>) => Promise<T>): Promise<T> {
  const { readable, writable } = new FixedLengthStream(body.byteLength);
  const writer = writable.getWriter();
  const writing = writer.write(body).then(() => writer.close());
  try {
    const [result] = await Promise.all([run(readable), writing]);
    return result;
  } catch (error) {
    await writer.abort(error).catch(() => {});
    await writing.catch(() => {});
    throw error;
  }
}

const statusOf = (error: unknown): number | undefined =>
  (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
const nameOf = (error: unknown): string | undefined => (error as { name?: string } | null)?.name;

/** Each segment is percent-encoded so a key always maps to exactly one URL path. */
export const encodeKey = (key: string): string => key.split("/").map(encodeURIComponent).join("/");

/** A store answer that means "not there" (a value for the caller), not a fault. */
interface Absent<A> {
  when(error: unknown): boolean;
  value: A;
}

/** The object store over S3/R2: every call bounded by `timeoutMs`, every fault a 503 problem. */
export function createStorage(options: StorageOptions): ObjectStore {
  const client = createS3Client(options);
  const { bucket, timeoutMs } = options;

  // The one wrapper of every store call. The abort signal ends the socket; withTimeout turns the
  // wait into a TimeoutError (503) even if the SDK were to ignore the signal. An answer `absent`
  // recognises is a value, anything else a 503 (the upstream's text is kept as the logged cause only).
  async function send<T, A = never>(
    what: string,
    run: (signal: AbortSignal) => Promise<T>,
    absent?: Absent<A>,
  ): Promise<T | A> {
    try {
      return await withTimeout(`storage (${what})`, timeoutMs, run(AbortSignal.timeout(timeoutMs)));
    } catch (error) {
      if (absent?.when(error)) return absent.value;
      throw dependencyUnavailable("storage", error);
    }
  }

  return {
    ping: async (ms) => {
      await withTimeout(
        "storage",
        ms,
        client.send(new HeadBucketCommand({ Bucket: bucket }), { abortSignal: AbortSignal.timeout(ms) }),
      );
    },

    close: () => client.destroy(),

    publicUrl: (key) => `${options.publicBaseUrl}/${encodeKey(key)}`,

    put: async (key, body, contentType) => {
      await sendBody(body, async (stream) => {
        const command = await withPayloadHash(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: stream,
            ContentType: contentType,
            ContentLength: body.byteLength,
          }),
          body,
        );
        await send("put", (abortSignal) => client.send(command, { abortSignal }));
      });
    },

    head: async (key) => {
      const head = await send(
        "head",
        (abortSignal) => client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal }),
        { when: (error) => statusOf(error) === 404 || nameOf(error) === "NotFound", value: null },
      );
      return head && { size: head.ContentLength ?? 0, contentType: head.ContentType };
    },

    read: async (key) => {
      // Only the response headers are bounded here (no abort signal: it would cut the body off
      // later); the caller bounds reading the body.
      const got = await send("get", () => client.send(new GetObjectCommand({ Bucket: bucket, Key: key })), {
        when: (error) => statusOf(error) === 404 || nameOf(error) === "NoSuchKey",
        value: null,
      });
      return got?.Body ? (got.Body.transformToWebStream() as ReadableStream<Uint8Array>) : null;
    },

    delete: async (key) => {
      await send("delete", (abortSignal) =>
        client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }), { abortSignal }),
      );
    },

    createMultipart: async (key, contentType) => {
      const created = await send("create multipart", (abortSignal) =>
        client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ContentType: contentType }), {
          abortSignal,
        }),
      );
      if (!created.UploadId)
        throw dependencyUnavailable("storage", new Error("CreateMultipartUpload returned no UploadId"));
      return created.UploadId;
    },

    uploadPart: async (key, uploadId, partNumber, body) => {
      const part = await sendBody(body, async (stream) => {
        const command = await withPayloadHash(
          new UploadPartCommand({
            Bucket: bucket,
            Key: key,
            UploadId: uploadId,
            PartNumber: partNumber,
            Body: stream,
            ContentLength: body.byteLength,
          }),
          body,
        );
        return send("upload part", (abortSignal) => client.send(command, { abortSignal }));
      });
      if (!part.ETag) throw dependencyUnavailable("storage", new Error("UploadPart returned no ETag"));
      return part.ETag;
    },

    completeMultipart: async (key, uploadId, parts) => {
      const completed = await send(
        "complete multipart",
        async (abortSignal) => {
          await client.send(
            new CompleteMultipartUploadCommand({
              Bucket: bucket,
              Key: key,
              UploadId: uploadId,
              MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })) },
            }),
            { abortSignal },
          );
          return true;
        },
        {
          when: (error) => {
            const status = statusOf(error);
            return status !== undefined && status >= 400 && status < 500;
          },
          value: false,
        },
      );
      return completed;
    },

    abortMultipart: async (key, uploadId) => {
      await send(
        "abort multipart",
        (abortSignal) =>
          client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }), {
            abortSignal,
          }),
        { when: (error) => statusOf(error) === 404 || nameOf(error) === "NoSuchUpload", value: undefined },
      );
    },
    listMultipartUploads: async (key) => {
      const listed = await send("list multipart", (abortSignal) =>
        client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key, MaxUploads: 1000 }), {
          abortSignal,
        }),
      );
      return (listed.Uploads ?? []).filter((u) => u.Key === key && u.UploadId).map((u) => u.UploadId as string);
    },

    // Presigning is local computation (HMAC over the request), so it needs no timeout.
    presignPut: (key, contentType, contentLength, expiresIn) =>
      getSignedUrl(
        client,
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          ContentType: contentType,
          ContentLength: contentLength,
          // Create-only: once the object exists (and the server has checked it), the same URL cannot
          // overwrite it with other bytes for the rest of its lifetime.
          IfNoneMatch: "*",
        }),
        {
          expiresIn,
          // Signed headers are what R2 enforces on a presigned PUT: the client must send exactly these.
          signableHeaders: new Set(["content-type", "content-length", "if-none-match"]),
        },
      ),

    presignUploadPart: (key, uploadId, partNumber, contentLength, expiresIn) =>
      getSignedUrl(
        client,
        new UploadPartCommand({
          Bucket: bucket,
          Key: key,
          UploadId: uploadId,
          PartNumber: partNumber,
          ContentLength: contentLength,
        }),
        { expiresIn, signableHeaders: new Set(["content-length"]) },
      ),

    presignGet: (key, expiresIn) =>
      getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn }),
  };
}
