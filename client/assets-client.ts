/**
 * Asset uploads straight to the bucket (presigned single PUT, or presigned parts for large files)
 * with progress, and URLs of private assets that an `<img src>` can load. See docs/assets.md.
 */
import type { Asset, AssetUrl, CreatedUpload } from "./api-types.ts";
import type { FetchLike } from "./auth-session.ts";
import { ApiError } from "./errors.ts";

export type { Asset, AssetUrl } from "./api-types.ts";

export interface UploadProgress {
  /** Bytes the bucket has received so far. */
  loaded: number;
  total: number;
}

export interface UploadOptions {
  /** Shown to users (the object key uses a sanitised copy). Default: the File's name, else "file". */
  filename?: string;
  /** Default: the Blob's type, else application/octet-stream. */
  contentType?: string;
  visibility?: "public" | "private";
  /** Force presigned parts (large files get them regardless). */
  multipart?: boolean;
  onProgress?: (progress: UploadProgress) => void;
  signal?: AbortSignal;
}

interface SentPart {
  etag: string;
}

/** The part of XMLHttpRequest used here (typed locally: the SDK also type-checks without the DOM lib). */
interface XhrLike {
  open(method: string, url: string): void;
  setRequestHeader(name: string, value: string): void;
  getResponseHeader(name: string): string | null;
  send(body: Blob): void;
  abort(): void;
  readonly status: number;
  readonly statusText: string;
  readonly upload: { onprogress: ((event: { loaded: number }) => void) | null };
  onload: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
}

/** PUTs bytes to a presigned URL: XMLHttpRequest where it exists (upload progress), else fetch. */
function put(
  baseFetch: FetchLike,
  url: string,
  body: Blob,
  headers: Record<string, string>,
  onProgress: (loaded: number) => void,
  signal: AbortSignal | undefined,
): Promise<SentPart> {
  const failed = (status: number, statusText: string) =>
    new ApiError({
      status,
      title: statusText || "Upload failed",
      detail: "The bucket refused the upload (expired URL, or bytes that differ from what was declared).",
      type: "storage-upload-failed",
    });
  const Xhr = (globalThis as { XMLHttpRequest?: new () => XhrLike }).XMLHttpRequest;
  if (Xhr === undefined) {
    return baseFetch(url, { method: "PUT", body, headers, ...(signal && { signal }) }).then(async (res) => {
      await res.body?.cancel();
      if (!res.ok) throw failed(res.status, res.statusText);
      onProgress(body.size);
      return { etag: res.headers.get("ETag") ?? "" };
    });
  }
  return new Promise((resolve, reject) => {
    const xhr = new Xhr();
    xhr.open("PUT", url);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => onProgress(event.loaded);
    xhr.onload = () => {
      if (xhr.status < 200 || xhr.status >= 300) return reject(failed(xhr.status, xhr.statusText));
      onProgress(body.size);
      resolve({ etag: xhr.getResponseHeader("ETag") ?? "" });
    };
    xhr.onerror = () => reject(new TypeError("Network error while uploading to the bucket"));
    xhr.onabort = () => reject(signal?.reason ?? new DOMException("The upload was aborted", "AbortError"));
    signal?.addEventListener("abort", () => xhr.abort(), { once: true });
    xhr.send(body);
  });
}

export class AssetsClient {
  readonly #url: string;
  readonly #fetch: FetchLike;
  readonly #baseFetch: FetchLike;

  /** `authedFetch` calls the service with the session; `baseFetch` (no token) reaches the bucket. */
  constructor(url: string, authedFetch: FetchLike, baseFetch: FetchLike) {
    // Paths are appended, so a base URL with a path prefix (https://example.com/api) keeps it.
    this.#url = url.replace(/\/+$/, "");
    this.#fetch = authedFetch;
    this.#baseFetch = baseFetch;
  }

  /**
   * Uploads `file` to the bucket and returns the ready asset. Parts go one after another, so
   * progress is monotonic and a slow link is not flooded. On any failure the pending asset is
   * deleted (which also aborts a multipart upload) before the error is rethrown.
   */
  async upload(file: Blob, options: UploadOptions = {}): Promise<Asset> {
    options.signal?.throwIfAborted();
    const filename = options.filename ?? (file as Blob & { name?: string }).name ?? "file";
    const contentType = options.contentType ?? (file.type || "application/octet-stream");
    const created = (await this.#json("/v1/assets/uploads", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        filename: filename || "file",
        contentType,
        size: file.size,
        visibility: options.visibility ?? "private",
        ...(options.multipart !== undefined && { multipart: options.multipart }),
      }),
      ...(options.signal && { signal: options.signal }),
    })) as CreatedUpload;
    const { asset, upload } = created;
    const total = file.size;
    const report = (loaded: number) => options.onProgress?.({ loaded: Math.min(loaded, total), total });
    try {
      report(0);
      let parts: { partNumber: number; etag: string }[] | undefined;
      if ("parts" in upload) {
        parts = [];
        let offset = 0;
        for (const part of upload.parts) {
          const base = offset;
          const bytes = file.slice(offset, offset + part.size);
          offset += part.size;
          const sent = await put(
            this.#baseFetch,
            part.url,
            bytes,
            upload.headers,
            (n) => report(base + n),
            options.signal,
          );
          if (!sent.etag) throw new TypeError("The bucket's CORS rule must expose the ETag header (docs/assets.md)");
          parts.push({ partNumber: part.partNumber, etag: sent.etag });
        }
      } else {
        await put(this.#baseFetch, upload.url, file, upload.headers, report, options.signal);
      }
      return (await this.#json(`/v1/assets/${encodeURIComponent(asset.id)}/complete`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(parts ? { parts } : {}),
      })) as Asset;
    } catch (error) {
      await this.remove(asset.id).catch(() => {});
      throw error;
    }
  }

  /** A URL of the bytes that needs no token: public assets' public URL, private ones' signed GET (60 s). */
  async url(id: string): Promise<AssetUrl> {
    return (await this.#json(`/v1/assets/${encodeURIComponent(id)}/url`, {})) as AssetUrl;
  }

  async get(id: string): Promise<Asset> {
    return (await this.#json(`/v1/assets/${encodeURIComponent(id)}`, {})) as Asset;
  }

  /** Deletes the object and its row (owner or admin). */
  async remove(id: string): Promise<void> {
    const res = await this.#fetch(`${this.#url}/v1/assets/${encodeURIComponent(id)}`, { method: "DELETE" });
    await res.body?.cancel();
  }

  async #json(path: string, init: RequestInit): Promise<unknown> {
    const res = await this.#fetch(`${this.#url}${path}`, init);
    return res.json();
  }
}
