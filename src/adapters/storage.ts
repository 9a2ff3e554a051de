import { digestHex } from "../../common/encoding.ts";
import { dependencyUnavailable } from "../core/problem.ts";
import { withTimeout } from "../../common/timeout.ts";
import {
  canonicalUrl,
  EMPTY_PAYLOAD_SHA256,
  S3Error,
  S3Signer,
  uriEncode,
  xmlElements,
  xmlEscape,
  xmlText,
} from "./s3-request.ts";

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
 * Hands `body` to fetch as a stream of known length rather than as bytes: a byte body is copied
 * into the outgoing Request, and that copy lives until the Request object is collected, so 8 MiB
 * per part piled up between GCs. The stream passes the caller's buffer through without a copy and
 * FixedLengthStream keeps Content-Length on the wire (S3 and R2 need it). A stream cannot be
 * re-read, so a failed send surfaces as unavailable and the caller retries.
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

/**
 * Bodies go as FixedLengthStreams on Workers only, where the copy they avoid was measured (workerd,
 * docs/assets.md). Deno's fetch sends a stream chunked whatever Content-Length says (S3 then refuses
 * the signed length), so Node, Deno and Bun send the bytes.
 */
const STREAM_BODIES =
  (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent === "Cloudflare-Workers";

/** Each segment is percent-encoded so a key always maps to exactly one URL path. */
export const encodeKey = (key: string): string => key.split("/").map(encodeURIComponent).join("/");

/** A store answer that means "not there" (a value for the caller), not a fault. */
interface Absent<A> {
  when(error: S3Error): boolean;
  value: A;
}

interface S3Call {
  method: string;
  /** The object key; absent for a bucket-level call. */
  key?: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  /** SHA-256 hex of the body (x-amz-content-sha256); the empty payload's when there is none. */
  payloadHash?: string;
  body?: ReadableStream<Uint8Array> | Uint8Array | string;
  signal?: AbortSignal;
}

/**
 * The object store over S3/R2 (signed requests, s3-request.ts): every call bounded by `timeoutMs`,
 * every fault a 503 problem. Checksums are neither sent nor checked (R2 rejects the SDK's default
 * CRC32 ones): the service hashes what it stores itself. Path-style (`endpoint/bucket/key`) when
 * `forcePathStyle`, else virtual-hosted (`bucket.host/key`).
 */
export function createStorage(options: StorageOptions): ObjectStore {
  const { bucket, timeoutMs } = options;
  const signer = new S3Signer(options);
  const endpoint = new URL(options.endpoint);
  const base = options.forcePathStyle
    ? `${endpoint.origin}${endpoint.pathname.replace(/\/$/, "")}/${uriEncode(bucket)}`
    : `${endpoint.protocol}//${bucket}.${endpoint.host}${endpoint.pathname.replace(/\/$/, "")}`;
  const urlOf = (key: string | undefined, query?: Record<string, string>) =>
    canonicalUrl(base, key === undefined ? [] : [key], query);

  /** One signed request; a non-2xx answer (or an S3 <Error> in a 200) becomes an S3Error. */
  async function request(operation: string, call: S3Call): Promise<Response> {
    const url = urlOf(call.key, call.query);
    const headers = await signer.signHeaders(
      call.method,
      url,
      call.headers ?? {},
      call.payloadHash ?? EMPTY_PAYLOAD_SHA256,
    );
    const res = await fetch(url, {
      method: call.method,
      headers,
      body: call.body,
      signal: call.signal,
      // Node's fetch needs it for a stream body; the Workers runtime ignores it.
      ...(call.body instanceof ReadableStream ? { duplex: "half" } : {}),
    } as RequestInit);
    if (res.ok) return res;
    const text = call.method === "HEAD" ? "" : await res.text().catch(() => "");
    throw new S3Error(operation, res.status, xmlElements(text, "Code")[0]);
  }

  // The one wrapper of every store call. The abort signal ends the socket; withTimeout turns the
  // wait into a TimeoutError (503) even if fetch were to ignore the signal. An answer `absent`
  // recognises is a value, anything else a 503 (the upstream's text is kept as the logged cause only).
  async function send<T, A = never>(
    what: string,
    run: (signal: AbortSignal) => Promise<T>,
    absent?: Absent<A>,
  ): Promise<T | A> {
    try {
      return await withTimeout(`storage (${what})`, timeoutMs, run(AbortSignal.timeout(timeoutMs)));
    } catch (error) {
      if (absent && error instanceof S3Error && absent.when(error)) return absent.value;
      throw dependencyUnavailable("storage", error);
    }
  }

  const sendBytes = async (what: string, key: string, body: Uint8Array, call: Omit<S3Call, "key" | "body">) => {
    const payloadHash = await digestHex(body);
    const headers = { ...call.headers, "content-length": String(body.byteLength) };
    const sendAs = (b: ReadableStream<Uint8Array> | Uint8Array) =>
      send(what, (signal) => request(what, { ...call, key, body: b, payloadHash, signal, headers }));
    return STREAM_BODIES ? sendBody(body, sendAs) : sendAs(body);
  };

  const drain = async (res: Response) => {
    await res.body?.cancel().catch(() => {});
  };

  return {
    ping: async (ms) => {
      const res = await withTimeout(
        "storage",
        ms,
        request("HeadBucket", { method: "HEAD", signal: AbortSignal.timeout(ms) }),
      );
      await drain(res);
    },

    // fetch holds no connection of its own to end.
    close: () => {},

    publicUrl: (key) => `${options.publicBaseUrl}/${encodeKey(key)}`,

    put: async (key, body, contentType) => {
      await drain(await sendBytes("put", key, body, { method: "PUT", headers: { "content-type": contentType } }));
    },

    head: async (key) => {
      const res = await send("head", (signal) => request("HeadObject", { method: "HEAD", key, signal }), {
        when: (error) => error.status === 404,
        value: null,
      });
      if (!res) return null;
      await drain(res);
      return {
        size: Number(res.headers.get("content-length") ?? 0),
        contentType: res.headers.get("content-type") ?? undefined,
      };
    },

    read: async (key) => {
      // Only the response headers are bounded here (no abort signal: it would cut the body off
      // later); the caller bounds reading the body.
      const res = await send("get", () => request("GetObject", { method: "GET", key }), {
        when: (error) => error.status === 404,
        value: null,
      });
      return res?.body ?? null;
    },

    delete: async (key) => {
      await drain(await send("delete", (signal) => request("DeleteObject", { method: "DELETE", key, signal })));
    },

    createMultipart: async (key, contentType) => {
      const text = await send("create multipart", async (signal) => {
        const res = await request("CreateMultipartUpload", {
          method: "POST",
          key,
          query: { uploads: "" },
          headers: { "content-type": contentType },
          signal,
        });
        return res.text();
      });
      const uploadId = xmlElements(text, "UploadId")[0];
      if (!uploadId) throw dependencyUnavailable("storage", new Error("CreateMultipartUpload returned no UploadId"));
      return xmlText(uploadId);
    },

    uploadPart: async (key, uploadId, partNumber, body) => {
      const res = await sendBytes("upload part", key, body, {
        method: "PUT",
        query: { partNumber: String(partNumber), uploadId },
      });
      await drain(res);
      const etag = res.headers.get("etag");
      if (!etag) throw dependencyUnavailable("storage", new Error("UploadPart returned no ETag"));
      return etag;
    },

    completeMultipart: async (key, uploadId, parts) => {
      const xml = `<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${parts
        .map((p) => `<Part><PartNumber>${p.partNumber}</PartNumber><ETag>${xmlEscape(p.etag)}</ETag></Part>`)
        .join("")}</CompleteMultipartUpload>`;
      const payloadHash = await digestHex(xml);
      return send(
        "complete multipart",
        async (signal) => {
          const res = await request("CompleteMultipartUpload", {
            method: "POST",
            key,
            query: { uploadId },
            headers: { "content-type": "application/xml" },
            body: xml,
            payloadHash,
            signal,
          });
          // S3 may answer 200 and still fail the completion, with an <Error> body.
          const text = await res.text();
          if (/<Error>/.test(text)) throw new S3Error("CompleteMultipartUpload", 500, xmlElements(text, "Code")[0]);
          return true;
        },
        { when: (error) => error.status >= 400 && error.status < 500, value: false },
      );
    },

    abortMultipart: async (key, uploadId) => {
      const res = await send(
        "abort multipart",
        (signal) => request("AbortMultipartUpload", { method: "DELETE", key, query: { uploadId }, signal }),
        { when: (error) => error.status === 404 || error.code === "NoSuchUpload", value: null },
      );
      if (res) await drain(res);
    },

    listMultipartUploads: async (key) => {
      const text = await send("list multipart", async (signal) => {
        const res = await request("ListMultipartUploads", {
          method: "GET",
          query: { uploads: "", prefix: key, "max-uploads": "1000" },
          signal,
        });
        return res.text();
      });
      const ids: string[] = [];
      for (const upload of xmlElements(text, "Upload")) {
        const uploadKey = xmlElements(upload, "Key")[0];
        const uploadId = xmlElements(upload, "UploadId")[0];
        if (uploadKey !== undefined && uploadId && xmlText(uploadKey) === key) ids.push(xmlText(uploadId));
      }
      return ids;
    },

    // Presigning is local computation (HMAC over the request), so it needs no timeout.
    presignPut: (key, contentType, contentLength, expiresIn) =>
      signer.presign(
        "PUT",
        urlOf(key),
        // Signed headers are what R2 enforces on a presigned PUT: the client must send exactly these.
        // If-None-Match makes it create-only: once the object exists (and the server has checked it),
        // the same URL cannot overwrite it with other bytes for the rest of its lifetime.
        { "content-type": contentType, "content-length": String(contentLength), "if-none-match": "*" },
        expiresIn,
      ),

    presignUploadPart: (key, uploadId, partNumber, contentLength, expiresIn) =>
      signer.presign(
        "PUT",
        urlOf(key, { partNumber: String(partNumber), uploadId }),
        { "content-length": String(contentLength) },
        expiresIn,
      ),

    presignGet: (key, expiresIn) => signer.presign("GET", urlOf(key), {}, expiresIn),
  };
}
