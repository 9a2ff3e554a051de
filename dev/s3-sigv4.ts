// AWS Signature Version 4 verification for the local S3 server.
// s3rver accepts any V4 signature without checking it, while R2 checks every signed header. Presigned
// uploads bind Content-Type and Content-Length into the signature (see shared/FACTS.md), so a local
// server that does not verify would let a broken client pass in dev and fail in production.
// The payload hash is taken as declared (x-amz-content-sha256 / UNSIGNED-PAYLOAD), not recomputed.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

export interface SigV4Failure {
  status: number;
  code: string;
  message: string;
}

const hmac = (key: Buffer | string, data: string): Buffer => createHmac("sha256", key).update(data, "utf8").digest();
const sha256Hex = (data: string): string => createHash("sha256").update(data, "utf8").digest("hex");

// RFC 3986 encoding as SigV4 wants it: encodeURIComponent plus the four characters it leaves alone.
const uriEncode = (s: string): string =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

function decodeQueryPart(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, "%20"));
  } catch {
    return s;
  }
}

function parseQuery(rawQuery: string): [string, string][] {
  if (!rawQuery) return [];
  return rawQuery
    .split("&")
    .filter(Boolean)
    .map((pair): [string, string] => {
      const i = pair.indexOf("=");
      return i === -1
        ? [decodeQueryPart(pair), ""]
        : [decodeQueryPart(pair.slice(0, i)), decodeQueryPart(pair.slice(i + 1))];
    });
}

/** "20250101T000000Z" → epoch ms, or NaN. */
function parseAmzDate(s: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return Number.NaN;
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

const denied = (code: string, message: string): SigV4Failure => ({ status: 403, code, message });

/** True when the request carries SigV4 credentials at all (header or query). Anonymous requests pass through. */
export function isSigV4Signed(req: IncomingMessage): boolean {
  return (
    (req.headers.authorization ?? "").startsWith("AWS4-HMAC-SHA256") || (req.url ?? "").includes("X-Amz-Signature=")
  );
}

/** Verifies a SigV4-signed request (Authorization header or presigned query). Null when valid. */
export function verifySigV4(
  req: IncomingMessage,
  credentials: { accessKeyId: string; secretAccessKey: string },
  now = Date.now(),
): SigV4Failure | null {
  const rawUrl = req.url ?? "/";
  const q = rawUrl.indexOf("?");
  const rawPath = q === -1 ? rawUrl : rawUrl.slice(0, q);
  const query = parseQuery(q === -1 ? "" : rawUrl.slice(q + 1));
  const queryValue = (name: string): string | undefined => query.find(([k]) => k === name)?.[1];

  let credential: string;
  let signedHeaders: string;
  let signature: string;
  let amzDate: string;
  let payloadHash: string;
  const presigned = queryValue("X-Amz-Signature") !== undefined;
  if (presigned) {
    if (queryValue("X-Amz-Algorithm") !== "AWS4-HMAC-SHA256")
      return denied("AuthorizationQueryParametersError", 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
    credential = queryValue("X-Amz-Credential") ?? "";
    signedHeaders = queryValue("X-Amz-SignedHeaders") ?? "";
    signature = queryValue("X-Amz-Signature") ?? "";
    amzDate = queryValue("X-Amz-Date") ?? "";
    payloadHash = queryValue("X-Amz-Content-Sha256") ?? "UNSIGNED-PAYLOAD";
    const expires = Number(queryValue("X-Amz-Expires") ?? "NaN");
    const signedAt = parseAmzDate(amzDate);
    if (!Number.isFinite(expires) || Number.isNaN(signedAt))
      return denied("AuthorizationQueryParametersError", "invalid X-Amz-Date or X-Amz-Expires");
    if (now > signedAt + expires * 1000) return denied("AccessDenied", "Request has expired");
  } else {
    const auth = req.headers.authorization ?? "";
    const fields = new Map(
      auth
        .slice("AWS4-HMAC-SHA256".length)
        .split(",")
        .map((part) => {
          const [k = "", ...v] = part.trim().split("=");
          return [k, v.join("=")] as const;
        }),
    );
    credential = fields.get("Credential") ?? "";
    signedHeaders = fields.get("SignedHeaders") ?? "";
    signature = fields.get("Signature") ?? "";
    amzDate = String(req.headers["x-amz-date"] ?? "");
    payloadHash = String(req.headers["x-amz-content-sha256"] ?? "");
    if (!payloadHash) return denied("InvalidRequest", "Missing required header for this request: x-amz-content-sha256");
    const signedAt = parseAmzDate(amzDate);
    if (Number.isNaN(signedAt)) return denied("AccessDenied", "AWS authentication requires a valid x-amz-date header");
    if (Math.abs(now - signedAt) > 15 * 60 * 1000)
      return denied(
        "RequestTimeTooSkewed",
        "The difference between the request time and the current time is too large.",
      );
  }

  const [accessKeyId, ...scopeParts] = credential.split("/");
  if (accessKeyId !== credentials.accessKeyId)
    return denied("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.");
  const [date = "", region = "", service = "", terminator = ""] = scopeParts;
  if (terminator !== "aws4_request" || !amzDate.startsWith(date))
    return denied("AuthorizationHeaderMalformed", "invalid credential scope");
  const headerNames = signedHeaders.split(";").filter(Boolean);
  if (!headerNames.includes("host")) return denied("AccessDenied", "host must be a signed header");

  const canonicalQuery = query
    .filter(([k]) => k !== "X-Amz-Signature")
    .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
    .sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const canonicalHeaders = headerNames
    .map((name) => {
      const value = req.headers[name];
      const text = Array.isArray(value) ? value.join(",") : (value ?? "");
      return `${name}:${text.trim().replace(/\s+/g, " ")}\n`;
    })
    .join("");
  // S3 signs the path exactly as sent (no second encoding, no normalisation).
  const canonicalRequest = [
    req.method ?? "GET",
    rawPath,
    canonicalQuery,
    canonicalHeaders,
    signedHeaders,
    payloadHash,
  ].join("\n");
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256Hex(canonicalRequest)].join("\n");
  const signingKey = hmac(
    hmac(hmac(hmac(`AWS4${credentials.secretAccessKey}`, date), region), service),
    "aws4_request",
  );
  const expected = createHmac("sha256", signingKey).update(stringToSign, "utf8").digest();
  const provided = Buffer.from(signature, "hex");
  if (provided.length !== expected.length || !timingSafeEqual(provided, expected)) {
    return denied(
      "SignatureDoesNotMatch",
      "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
    );
  }
  return null;
}
