// Local S3-compatible server standing in for R2: s3rver (files on disk) behind a thin front that adds
// what s3rver lacks and the app relies on:
// - real SigV4 verification (s3rver checks no V4 signature), so presigned PUTs enforce their signed
//   Content-Type / Content-Length as R2 does;
// - AbortMultipartUpload (s3rver answers 405) and ListMultipartUploads (s3rver: NotImplemented),
//   used to clean up uploads that never completed;
// - CompleteMultipartUpload checked like S3/R2 do (s3rver crashed its whole process with ENOENT on a
//   part that was never uploaded, and accepted any ETag): unknown upload → NoSuchUpload, a missing
//   part or a wrong ETag → InvalidPart, parts out of order → InvalidPartOrder, then assembled here.
// Buckets are created at start with a permissive CORS rule so a browser can upload directly.
// Anonymous GET/HEAD are allowed (s3rver serves unsigned requests), which models a public bucket URL.
import { mkdir, readdir, readFile, rm, stat } from "node:fs/promises";
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from "node:http";
import { createRequire } from "node:module";
import { join } from "node:path";
import { isSigV4Signed, verifySigV4 } from "./s3-sigv4.ts";
import { listenOnLoopback } from "./free-port.ts";

export interface S3ServerOptions {
  /** 0 or absent: a free port. */
  port?: number;
  /** Where objects are stored; created if missing. */
  directory: string;
  /** Created at start (kept if they exist). */
  buckets: string[];
}

export interface S3Server {
  /** http://127.0.0.1:PORT (path-style: objects at `${endpoint}/${bucket}/${key}`). */
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  close(): Promise<void>;
}

// The only key pair s3rver knows (its built-in dummy account).
const ACCESS_KEY_ID = "S3RVER";
const SECRET_ACCESS_KEY = "S3RVER";
// R2's region name; SigV4 only needs client and server to agree, and the app will use "auto" on R2.
const REGION = "auto";

const CORS_CONFIG = `<CORSConfiguration>
  <CORSRule>
    <AllowedOrigin>*</AllowedOrigin>
    <AllowedMethod>GET</AllowedMethod>
    <AllowedMethod>HEAD</AllowedMethod>
    <AllowedMethod>PUT</AllowedMethod>
    <AllowedMethod>POST</AllowedMethod>
    <AllowedMethod>DELETE</AllowedMethod>
    <AllowedHeader>*</AllowedHeader>
    <ExposeHeader>ETag</ExposeHeader>
    <MaxAgeSeconds>3000</MaxAgeSeconds>
  </CORSRule>
</CORSConfiguration>`;

// s3rver ships no types; this is the part of its API we use.
interface S3rverInstance {
  configureBuckets(): Promise<void>;
  callback(): RequestListener;
  store: {
    getResourcePath(bucket: string, key: string | undefined, resource: string): string;
    putObjectMultipart(
      bucket: string,
      uploadId: string,
      parts: { number: number; etag: string }[],
    ): Promise<{ md5: string; size: number }>;
  };
  logger: { close(): void };
}
type S3rverCtor = new (opts: Record<string, unknown>) => S3rverInstance;
const S3rver = createRequire(import.meta.url)("s3rver") as S3rverCtor;

const xmlEscape = (s: string): string =>
  s.replace(/[<>&'"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", "'": "&apos;", '"': "&quot;" })[c] ?? c);

function sendXml(req: IncomingMessage, res: ServerResponse, status: number, body: string): void {
  const headers: Record<string, string> = { "content-type": "application/xml" };
  // Let a browser read our own errors too (s3rver adds CORS headers only to the responses it makes).
  if (req.headers.origin) headers["access-control-allow-origin"] = "*";
  res.writeHead(status, headers).end(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`);
}

function sendError(req: IncomingMessage, res: ServerResponse, status: number, code: string, message: string): void {
  sendXml(req, res, status, `<Error><Code>${xmlEscape(code)}</Code><Message>${xmlEscape(message)}</Message></Error>`);
}

/** A CompleteMultipartUpload body for 10,000 parts is about 1 MB. */
const COMPLETE_BODY_LIMIT = 2 * 1024 * 1024;

/** The whole body, or null past `limit` bytes (the rest is drained). */
async function readBody(req: IncomingMessage, limit: number): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= limit) chunks.push(chunk);
  }
  return size > limit ? null : Buffer.concat(chunks).toString("utf8");
}

/** The parts of a CompleteMultipartUpload body; null when one lacks a number or an ETag. */
export function parseCompleteParts(xml: string): { number: number; etag: string }[] | null {
  const parts: { number: number; etag: string }[] = [];
  for (const [, inner = ""] of xml.matchAll(/<Part>([\s\S]*?)<\/Part>/g)) {
    const number = /<PartNumber>\s*(\d{1,5})\s*<\/PartNumber>/.exec(inner)?.[1];
    const etag = /<ETag>([\s\S]*?)<\/ETag>/.exec(inner)?.[1];
    if (number === undefined || etag === undefined) return null;
    // S3 ignores the quotes around an ETag when comparing.
    parts.push({ number: Number(number), etag: etag.replace(/&quot;|&#34;|"/g, "").trim() });
  }
  return parts;
}

export async function startS3Server(opts: S3ServerOptions): Promise<S3Server> {
  await mkdir(opts.directory, { recursive: true });
  const s3rver = new S3rver({
    directory: opts.directory,
    silent: true,
    // Path-style only: the app sets forcePathStyle, and vhost parsing would misread "127.0.0.1".
    vhostBuckets: false,
    configureBuckets: opts.buckets.map((name) => ({ name, configs: [CORS_CONFIG] })),
  });
  await s3rver.configureBuckets();
  const inner = s3rver.callback();
  const uploadsDir = (bucket: string): string => s3rver.store.getResourcePath(bucket, undefined, "uploads");

  const abortMultipart = async (
    req: IncomingMessage,
    res: ServerResponse,
    bucket: string,
    uploadId: string,
  ): Promise<void> => {
    // Upload ids are hex from s3rver; refuse anything else so it cannot name a path outside the uploads dir.
    if (!/^[0-9a-f]+$/i.test(uploadId))
      return sendError(req, res, 404, "NoSuchUpload", "The specified upload does not exist.");
    const dir = join(uploadsDir(bucket), uploadId);
    const exists = await stat(dir).then(
      () => true,
      () => false,
    );
    if (!exists) return sendError(req, res, 404, "NoSuchUpload", "The specified upload does not exist.");
    await rm(dir, { recursive: true, force: true });
    res.writeHead(204, req.headers.origin ? { "access-control-allow-origin": "*" } : {}).end();
  };

  const listMultipart = async (
    req: IncomingMessage,
    res: ServerResponse,
    bucket: string,
    prefix: string,
  ): Promise<void> => {
    const dir = uploadsDir(bucket);
    const ids = await readdir(dir).catch(() => [] as string[]);
    const uploads: { key: string; id: string; initiated: Date }[] = [];
    for (const id of ids) {
      const key = await readFile(join(dir, id, "key"), "utf8").catch(() => null);
      if (key === null || !key.startsWith(prefix)) continue;
      const info = await stat(join(dir, id, "key"));
      uploads.push({ key, id, initiated: info.mtime });
    }
    uploads.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.id < b.id ? -1 : 1));
    const items = uploads
      .map(
        (u) =>
          `<Upload><Key>${xmlEscape(u.key)}</Key><UploadId>${u.id}</UploadId><Initiated>${u.initiated.toISOString()}</Initiated><StorageClass>STANDARD</StorageClass></Upload>`,
      )
      .join("");
    sendXml(
      req,
      res,
      200,
      `<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>${xmlEscape(bucket)}</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker><Prefix>${xmlEscape(prefix)}</Prefix><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>${items}</ListMultipartUploadsResult>`,
    );
  };

  const completeMultipart = async (
    req: IncomingMessage,
    res: ServerResponse,
    bucket: string,
    key: string,
    uploadId: string,
  ): Promise<void> => {
    const body = await readBody(req, COMPLETE_BODY_LIMIT);
    if (body === null) return sendError(req, res, 400, "MalformedXML", "The XML you provided was too large.");
    if (!/^[0-9a-f]+$/i.test(uploadId))
      return sendError(req, res, 404, "NoSuchUpload", "The specified upload does not exist.");
    const dir = join(uploadsDir(bucket), uploadId);
    const uploadKey = await readFile(join(dir, "key"), "utf8").catch(() => null);
    if (uploadKey === null || uploadKey !== key)
      return sendError(req, res, 404, "NoSuchUpload", "The specified upload does not exist.");
    const parts = parseCompleteParts(body);
    if (parts === null || parts.length === 0)
      return sendError(
        req,
        res,
        400,
        "MalformedXML",
        "The XML you provided was not well-formed or did not validate against our published schema.",
      );
    for (let i = 1; i < parts.length; i++) {
      if ((parts[i]?.number ?? 0) <= (parts[i - 1]?.number ?? 0))
        return sendError(req, res, 400, "InvalidPartOrder", "The list of parts was not in ascending order.");
    }
    for (const part of parts) {
      const md5 = await readFile(join(dir, `${part.number}.md5`), "utf8").catch(() => null);
      if (md5 === null || md5.trim() !== part.etag)
        return sendError(
          req,
          res,
          400,
          "InvalidPart",
          "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
        );
    }
    const { md5 } = await s3rver.store.putObjectMultipart(
      bucket,
      uploadId,
      parts.map((p) => ({ number: p.number, etag: p.etag })),
    );
    const location = `http://${req.headers.host ?? "127.0.0.1"}/${encodeURIComponent(bucket)}/${key.split("/").map(encodeURIComponent).join("/")}`;
    sendXml(
      req,
      res,
      200,
      `<CompleteMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Location>${xmlEscape(location)}</Location><Bucket>${xmlEscape(bucket)}</Bucket><Key>${xmlEscape(key)}</Key><ETag>${xmlEscape(JSON.stringify(md5))}</ETag></CompleteMultipartUploadResult>`,
    );
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // A CORS preflight carries a presigned URL's query but no credentials; S3 and R2 answer it from
    // the bucket's CORS rule alone, so s3rver must not see (and reject) the signature parameters.
    if (req.method === "OPTIONS" && req.headers["access-control-request-method"])
      req.url = (req.url ?? "/").split("?")[0];
    if (isSigV4Signed(req)) {
      const failure = verifySigV4(req, { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY });
      if (failure) {
        req.resume();
        return sendError(req, res, failure.status, failure.code, failure.message);
      }
    }
    const url = new URL(req.url ?? "/", "http://localhost");
    const [bucket = "", ...keyParts] = url.pathname.slice(1).split("/");
    const key = keyParts.join("/");
    const uploadId = url.searchParams.get("uploadId");
    if (req.method === "DELETE" && bucket && key && uploadId !== null) {
      return abortMultipart(req, res, decodeURIComponent(bucket), uploadId);
    }
    if (req.method === "POST" && bucket && key && uploadId !== null) {
      return completeMultipart(req, res, decodeURIComponent(bucket), decodeURIComponent(key), uploadId);
    }
    if (req.method === "GET" && bucket && !key && url.searchParams.has("uploads")) {
      return listMultipart(req, res, decodeURIComponent(bucket), url.searchParams.get("prefix") ?? "");
    }
    // Conditional create (S3 and R2 honour `If-None-Match: *` on PutObject; s3rver ignores it).
    if (req.method === "PUT" && bucket && key && uploadId === null && req.headers["if-none-match"] === "*") {
      const objectPath = s3rver.store.getResourcePath(decodeURIComponent(bucket), decodeURIComponent(key), "object");
      if (
        await stat(objectPath).then(
          () => true,
          () => false,
        )
      ) {
        req.resume();
        return sendError(
          req,
          res,
          412,
          "PreconditionFailed",
          "At least one of the pre-conditions you specified did not hold",
        );
      }
    }
    inner(req, res);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(req, res, 500, "InternalError", String(err));
      else res.destroy();
    });
  });
  const port = await listenOnLoopback(server, opts.port);

  let closing: Promise<void> | null = null;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    region: REGION,
    accessKeyId: ACCESS_KEY_ID,
    secretAccessKey: SECRET_ACCESS_KEY,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => {
          s3rver.logger.close();
          resolve();
        });
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
