import { sign, verify } from "hono/jwt";
import type { Config } from "../../core/config.ts";
import type { Principal } from "../../core/principal.ts";
import { keySetFor } from "./key-set.ts";

/** Tokens longer than this are refused before any parsing (a cheap bound on hostile input). */
export const MAX_TOKEN_LENGTH = 8 * 1024;
/** Allowed clock difference between the issuer and this instance, seconds. */
export const CLOCK_SKEW_SECONDS = 30;

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

const toBase64Url = (bytes: Uint8Array): string =>
  btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");

/**
 * Decodes base64url and insists on the canonical form: a last character with non-zero unused bits
 * decodes to the same bytes as its canonical twin, so without this check one signed token would
 * have several spellings that all verify.
 */
function decodeBase64Url(segment: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = Uint8Array.from(atob(segment.replace(/-/g, "+").replace(/_/g, "/")), (ch) => ch.charCodeAt(0));
  } catch {
    throw new InvalidTokenError("a segment is not base64url");
  }
  if (toBase64Url(bytes) !== segment) throw new InvalidTokenError("a segment is not canonical base64url");
  return bytes;
}

function decodeSegment(segment: string): unknown {
  const bytes = decodeBase64Url(segment);
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes));
  } catch {
    throw new InvalidTokenError("a segment is not JSON");
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Verifies an access token with key material alone: no database, cache or network I/O. The key
 * is chosen by `kid`, its algorithm is pinned by configuration, and `exp`, `iat`, `iss`, `aud`,
 * `sub`, `sid`, `jti` and `roles` are required.
 */
export async function verifyAccessToken(token: string, config: Config, now = Date.now()): Promise<Principal> {
  if (token.length > MAX_TOKEN_LENGTH) throw new InvalidTokenError("token too long");
  const parts = token.split(".");
  if (parts.length !== 3 || !parts.every((p) => SEGMENT.test(p))) throw new InvalidTokenError("not a compact JWS");
  const header = decodeSegment(parts[0] as string);
  if (!isRecord(header)) throw new InvalidTokenError("header is not an object");
  if (FORBIDDEN_HEADERS.some((h) => h in header)) throw new InvalidTokenError("forbidden header parameter");
  if (header.typ !== undefined && header.typ !== "JWT") throw new InvalidTokenError("unexpected typ");
  if (typeof header.kid !== "string") throw new InvalidTokenError("missing kid");
  if (!isRecord(decodeSegment(parts[1] as string))) throw new InvalidTokenError("payload is not an object");
  decodeBase64Url(parts[2] as string);

  const keys = await keySetFor(config);
  const key = keys.byKid.get(header.kid);
  if (!key) throw new InvalidTokenError("unknown kid");
  if (header.alg !== key.alg) throw new InvalidTokenError("alg does not match the key");

  let payload: Record<string, unknown>;
  try {
    // Time claims are checked below with an explicit skew; hono checks iss/aud and the signature.
    payload = (await verify(token, key.key, {
      alg: key.alg,
      iss: config.JWT_ISSUER,
      aud: config.JWT_AUDIENCE,
      exp: false,
      nbf: false,
      iat: false,
    })) as Record<string, unknown>;
  } catch (error) {
    throw new InvalidTokenError(error instanceof Error ? error.name : "verification failed");
  }

  const nowSeconds = Math.floor(now / 1000);
  const { sub, sid, jti, roles, exp, iat, nbf } = payload;
  if (typeof exp !== "number" || !Number.isFinite(exp)) throw new InvalidTokenError("exp required");
  if (typeof iat !== "number" || !Number.isFinite(iat)) throw new InvalidTokenError("iat required");
  if (exp + CLOCK_SKEW_SECONDS <= nowSeconds) throw new InvalidTokenError("expired");
  if (iat - CLOCK_SKEW_SECONDS > nowSeconds) throw new InvalidTokenError("issued in the future");
  if (nbf !== undefined && (typeof nbf !== "number" || nbf - CLOCK_SKEW_SECONDS > nowSeconds)) {
    throw new InvalidTokenError("not yet valid");
  }
  if (typeof sub !== "string" || typeof sid !== "string" || typeof jti !== "string") {
    throw new InvalidTokenError("sub, sid and jti required");
  }
  if (!Array.isArray(roles) || !roles.every((r) => typeof r === "string"))
    throw new InvalidTokenError("roles required");
  return { userId: sub, roles: roles as string[], sessionId: sid, tokenId: jti, expiresAt: exp };
}

export interface IssueAccessTokenInput {
  userId: string;
  roles: string[];
  sessionId: string;
  /** issue #15: the `email_verified` claim (OIDC's name), omitted when not given. */
  emailVerified?: boolean;
}

/** Signs an access token with the configured signing key (`kid` in the header). */
export async function issueAccessToken(
  input: IssueAccessTokenInput,
  config: Config,
  now = Date.now(),
): Promise<{ token: string; expiresIn: number }> {
  const keys = await keySetFor(config);
  const iat = Math.floor(now / 1000);
  const expiresIn = config.ACCESS_TOKEN_TTL_SECONDS;
  const token = await sign(
    {
      sub: input.userId,
      roles: input.roles,
      sid: input.sessionId,
      jti: crypto.randomUUID(),
      iss: config.JWT_ISSUER,
      aud: config.JWT_AUDIENCE,
      iat,
      exp: iat + expiresIn,
      ...(input.emailVerified !== undefined && { email_verified: input.emailVerified }),
    },
    keys.signing,
  );
  return { token, expiresIn };
}
