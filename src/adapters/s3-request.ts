import { digestHex, toHex } from "../../common/encoding.ts";

/**
 * AWS Signature Version 4 for the handful of S3 calls the object store makes, over WebCrypto and
 * fetch. It replaces @aws-sdk/client-s3 in the service: the SDK (its schema registry of every S3
 * operation, its endpoint rules, its middleware stack, its XML serde) was about 85 KiB of the
 * Worker's gzip bundle for eleven operations (BENCHMARKS.md "Bundle"). Header signing for requests
 * the service sends, query signing (presigned URLs) for those a client sends.
 * https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html
 */
export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
}

const ALGORITHM = "AWS4-HMAC-SHA256";
export const UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD";
export const EMPTY_PAYLOAD_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const encoder = new TextEncoder();

/** RFC 3986 encoding as SigV4 wants it: encodeURIComponent plus the four characters it leaves alone. */
export const uriEncode = (s: string): string =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** "20261201T150203Z": the second the request was signed. */
const amzDateOf = (now: Date): string => now.toISOString().replace(/[-:]|\.\d{3}/g, "");

async function hmac(key: Uint8Array | ArrayBuffer, data: string): Promise<ArrayBuffer> {
  const k = await crypto.subtle.importKey("raw", key as ArrayBuffer, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  return crypto.subtle.sign("HMAC", k, encoder.encode(data));
}

/** Query parameters in SigV4's canonical order, each name and value encoded once. */
function canonicalQuery(params: URLSearchParams): string {
  return [...params]
    .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
    .sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
}

/** Builds URLs whose path and query are already in canonical form, so what is signed is what is sent. */
export function canonicalUrl(base: string, path: string[], query: Record<string, string> = {}): URL {
  const url = new URL(base);
  url.pathname = `${url.pathname.replace(/\/$/, "")}/${path.map((p) => p.split("/").map(uriEncode).join("/")).join("/")}`;
  const params = new URLSearchParams(query);
  url.search = canonicalQuery(params);
  return url;
}

export class S3Signer {
  readonly #credentials: S3Credentials;
  // One signing key per UTC day (the scope date), derived once.
  #key: { date: string; key: Promise<ArrayBuffer> } | undefined;

  constructor(credentials: S3Credentials) {
    this.#credentials = credentials;
  }

  #signingKey(date: string): Promise<ArrayBuffer> {
    if (this.#key?.date !== date) {
      const { secretAccessKey, region } = this.#credentials;
      const key = hmac(encoder.encode(`AWS4${secretAccessKey}`), date)
        .then((k) => hmac(k, region))
        .then((k) => hmac(k, "s3"))
        .then((k) => hmac(k, "aws4_request"));
      this.#key = { date, key };
    }
    return this.#key.key;
  }

  /** The hex signature of a canonical request, and its credential scope. */
  async #sign(
    method: string,
    url: URL,
    headers: [string, string][],
    payloadHash: string,
    amzDate: string,
    query: URLSearchParams,
  ): Promise<string> {
    const date = amzDate.slice(0, 8);
    const scope = `${date}/${this.#credentials.region}/s3/aws4_request`;
    const canonicalRequest = [
      method,
      url.pathname,
      canonicalQuery(query),
      headers.map(([k, v]) => `${k}:${v.trim().replace(/\s+/g, " ")}\n`).join(""),
      headers.map(([k]) => k).join(";"),
      payloadHash,
    ].join("\n");
    const stringToSign = [ALGORITHM, amzDate, scope, await digestHex(canonicalRequest)].join("\n");
    return toHex(await hmac(await this.#signingKey(date), stringToSign));
  }

  #scope(amzDate: string): string {
    return `${this.#credentials.accessKeyId}/${amzDate.slice(0, 8)}/${this.#credentials.region}/s3/aws4_request`;
  }

  /**
   * Headers for a request the service sends: `extra` (all signed) plus host, x-amz-date,
   * x-amz-content-sha256 and the Authorization that signs them.
   */
  async signHeaders(
    method: string,
    url: URL,
    extra: Record<string, string>,
    payloadHash: string,
    now = new Date(),
  ): Promise<Record<string, string>> {
    const amzDate = amzDateOf(now);
    const all: Record<string, string> = {
      ...Object.fromEntries(Object.entries(extra).map(([k, v]) => [k.toLowerCase(), v])),
      host: url.host,
      "x-amz-content-sha256": payloadHash,
      "x-amz-date": amzDate,
    };
    const signed = Object.entries(all).sort(([a], [b]) => (a < b ? -1 : 1));
    const signature = await this.#sign(method, url, signed, payloadHash, amzDate, url.searchParams);
    const { host: _host, ...sent } = all;
    return {
      ...sent,
      authorization: `${ALGORITHM} Credential=${this.#scope(amzDate)}, SignedHeaders=${signed.map(([k]) => k).join(";")}, Signature=${signature}`,
    };
  }

  /**
   * A presigned URL: the signature in the query, binding `headers` (the client must send exactly
   * these) and host; the payload unsigned, as S3 presigning is.
   */
  async presign(
    method: string,
    url: URL,
    headers: Record<string, string>,
    expiresInSeconds: number,
    now = new Date(),
  ): Promise<string> {
    const amzDate = amzDateOf(now);
    const signed = Object.entries({
      ...Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])),
      host: url.host,
    }).sort(([a], [b]) => (a < b ? -1 : 1));
    const query = new URLSearchParams(url.searchParams);
    query.set("X-Amz-Algorithm", ALGORITHM);
    query.set("X-Amz-Content-Sha256", UNSIGNED_PAYLOAD);
    query.set("X-Amz-Credential", this.#scope(amzDate));
    query.set("X-Amz-Date", amzDate);
    query.set("X-Amz-Expires", String(expiresInSeconds));
    query.set("X-Amz-SignedHeaders", signed.map(([k]) => k).join(";"));
    const signature = await this.#sign(method, url, signed, UNSIGNED_PAYLOAD, amzDate, query);
    query.set("X-Amz-Signature", signature);
    const out = new URL(url);
    out.search = canonicalQuery(query);
    return out.toString();
  }
}

/** What an S3 error answer says: the HTTP status and, when the body has one, the error Code. */
export class S3Error extends Error {
  readonly status: number;
  readonly code: string | undefined;
  constructor(operation: string, status: number, code: string | undefined) {
    super(`S3 ${operation}: HTTP ${status}${code ? ` ${code}` : ""}`);
    this.name = "S3Error";
    this.status = status;
    this.code = code;
  }
}

const XML_ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

/** Text of an XML element's content: entities decoded (S3 escapes keys and ETags). */
export const xmlText = (raw: string): string =>
  raw.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
    if (name[0] === "#") {
      const code = name[1] === "x" || name[1] === "X" ? Number.parseInt(name.slice(2), 16) : Number(name.slice(1));
      return Number.isFinite(code) && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return XML_ENTITIES[name] ?? whole;
  });

export const xmlEscape = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => `&${{ "&": "amp", "<": "lt", ">": "gt", '"': "quot", "'": "apos" }[c]};`);

/** The text of every `<tag>` element directly in `xml` (flat: S3's answers here nest no same-named tags). */
export function xmlElements(xml: string, tag: string): string[] {
  const out: string[] = [];
  const re = new RegExp(`<${tag}(?:\\s[^>]*)?>([\\s\\S]*?)</${tag}>`, "g");
  for (const m of xml.matchAll(re)) out.push(m[1] ?? "");
  return out;
}
