import { verify } from "hono/jwt";
import { decodeUtf8, fromBase64Url, toBase64Url } from "../../../common/encoding.ts";
import type { SignatureAlgorithm } from "hono/utils/jwt/jwa";

/**
 * The checks every access token gets, ours (access-token.ts) and outside issuers' (external-issuers.ts):
 * the compact form in canonical base64url, RFC 8725 header rules, the key chosen by `kid` with its
 * algorithm pinned, the signature, `iss`, `aud`, and the time claims with an explicit clock skew.
 * Each verifier then reads its own claims from the payload.
 */

/** Tokens longer than this are refused before any parsing (a cheap bound on hostile input). */
export const MAX_TOKEN_LENGTH = 8 * 1024;
/** Allowed clock difference between the issuer and this instance, seconds. */
export const CLOCK_SKEW_SECONDS = 30;
const MAX_KID_LENGTH = 256;

/** Why a token was refused; logged at debug, never sent (the client always gets one plain 401). */
export class InvalidTokenError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = "InvalidTokenError";
  }
}

const SEGMENT = /^[A-Za-z0-9_-]+$/;
// RFC 8725 §3.10 / RFC 7515 §4.1: headers that would let the token name its own key, or demand
// processing we do not do, are refused outright.
const FORBIDDEN_HEADERS = ["crit", "jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256"];

export const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Decodes base64url and insists on the canonical form: a last character with non-zero unused bits
 * decodes to the same bytes as its canonical twin, so without this check one signed token would
 * have several spellings that all verify.
 */
function decodeBase64Url(segment: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = fromBase64Url(segment);
  } catch {
    throw new InvalidTokenError("a segment is not base64url");
  }
  if (toBase64Url(bytes) !== segment) throw new InvalidTokenError("a segment is not canonical base64url");
  return bytes;
}

/** A segment's JSON; throws InvalidTokenError for anything else. */
export function decodeSegment(segment: string): unknown {
  const bytes = decodeBase64Url(segment);
  try {
    return JSON.parse(decodeUtf8(bytes));
  } catch {
    throw new InvalidTokenError("a segment is not JSON");
  }
}

export interface PinnedKey {
  /** The token's `alg` header must equal it; it never chooses the key type. */
  alg: SignatureAlgorithm;
  key: CryptoKey;
}

export interface JwsRules {
  /** `typ` values allowed besides none. */
  typ: ReadonlySet<string>;
  /** The key for the header's `kid` (a string of at most 256 characters); undefined when there is none. */
  keyFor(header: Record<string, unknown> & { kid: string }): Promise<PinnedKey | undefined>;
  iss: string;
  aud: string | string[];
  /** Whether `iat` is required (and checked against the clock). `exp` always is; `nbf` when present. */
  requireIat: boolean;
}

export interface VerifiedJws {
  payload: Record<string, unknown>;
  exp: number;
  /** The signature segment (a stable id for a token without `jti`). */
  signature: string;
}

/** Verifies a compact JWS against `rules` at `now` (epoch ms); throws InvalidTokenError for anything wrong. */
export async function verifyJws(token: string, rules: JwsRules, now: number): Promise<VerifiedJws> {
  if (token.length > MAX_TOKEN_LENGTH) throw new InvalidTokenError("token too long");
  const parts = token.split(".");
  if (parts.length !== 3 || !parts.every((p) => SEGMENT.test(p))) throw new InvalidTokenError("not a compact JWS");
  const [headerPart, payloadPart, signature] = parts as [string, string, string];
  const header = decodeSegment(headerPart);
  if (!isRecord(header)) throw new InvalidTokenError("header is not an object");
  if (FORBIDDEN_HEADERS.some((h) => h in header)) throw new InvalidTokenError("forbidden header parameter");
  if (header.typ !== undefined && !(typeof header.typ === "string" && rules.typ.has(header.typ))) {
    throw new InvalidTokenError("unexpected typ");
  }
  const kid = header.kid;
  if (typeof kid !== "string" || kid.length > MAX_KID_LENGTH) throw new InvalidTokenError("missing kid");
  if (!isRecord(decodeSegment(payloadPart))) throw new InvalidTokenError("payload is not an object");
  decodeBase64Url(signature);

  const key = await rules.keyFor({ ...header, kid });
  if (!key) throw new InvalidTokenError("unknown kid");
  if (header.alg !== key.alg) throw new InvalidTokenError("alg does not match the key");

  let payload: Record<string, unknown>;
  try {
    // Time claims are checked below with an explicit skew; hono checks iss/aud and the signature.
    payload = (await verify(token, key.key, {
      alg: key.alg,
      iss: rules.iss,
      aud: rules.aud,
      ...(typeof header.typ === "string" && { typ: header.typ }),
      exp: false,
      nbf: false,
      iat: false,
    })) as Record<string, unknown>;
  } catch (error) {
    throw new InvalidTokenError(error instanceof Error ? error.name : "verification failed");
  }

  const nowSeconds = Math.floor(now / 1000);
  const { exp, iat, nbf } = payload;
  if (typeof exp !== "number" || !Number.isFinite(exp)) throw new InvalidTokenError("exp required");
  if (rules.requireIat && (typeof iat !== "number" || !Number.isFinite(iat)))
    throw new InvalidTokenError("iat required");
  if (exp + CLOCK_SKEW_SECONDS <= nowSeconds) throw new InvalidTokenError("expired");
  if (rules.requireIat && (iat as number) - CLOCK_SKEW_SECONDS > nowSeconds) {
    throw new InvalidTokenError("issued in the future");
  }
  if (nbf !== undefined && (typeof nbf !== "number" || nbf - CLOCK_SKEW_SECONDS > nowSeconds)) {
    throw new InvalidTokenError("not yet valid");
  }
  return { payload, exp, signature };
}
