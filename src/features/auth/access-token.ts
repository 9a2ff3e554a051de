import { sign, verify } from "hono/jwt";
import type { Config } from "../../core/config.ts";
import type { Principal } from "../../core/principal.ts";
import { keySetFor } from "./key-set.ts";
import { verifiedTokenCacheFor } from "./verified-token-cache.ts";

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
 * What the access token says about the account, so `GET /v1/auth/me` answers from the verified token
 * alone. Names follow OpenID Connect where it has one (`email`, `name`); `created_at` is the account's
 * creation time as the API shows it (ISO 8601), `email_verified` OIDC's. To add a claim: add it here, in
 * `readProfileClaims` below and in `profileClaimsOf` / `publicUserOf` (users.ts). Tokens are
 * re-minted from the account row at every sign-in and refresh, so a new claim reaches every client
 * within one access-token lifetime; until then a token without it still verifies (see below).
 */
export interface ProfileClaims {
  email: string;
  name: string | null;
  created_at: string;
  /** Whether the address was proven by a mail link (issue #15). */
  email_verified: boolean;
}

/**
 * The profile claims, or null when the token carries none (minted by code that passed no profile, or
 * before profile claims existed: /me then reads the row). A token that carries some but not all, or of
 * the wrong types, is refused: our issuer never writes that, so it is not our token.
 */
function readProfileClaims(payload: Record<string, unknown>): ProfileClaims | null {
  const { email, name, created_at, email_verified } = payload;
  // `email_verified` alone is not a profile: tokens minted before profile claims carried it.
  if (email === undefined && name === undefined && created_at === undefined) return null;
  if (
    typeof email !== "string" ||
    (name !== null && typeof name !== "string") ||
    typeof created_at !== "string" ||
    typeof email_verified !== "boolean"
  ) {
    throw new InvalidTokenError("malformed profile claims");
  }
  return { email, name, created_at, email_verified };
}

/**
 * Verifies an access token with key material alone: no database, cache or network I/O. The key
 * is chosen by `kid`, its algorithm is pinned by configuration, and `exp`, `iat`, `iss`, `aud`,
 * `sub`, `sid`, `jti` and `roles` are required.
 *
 * A token that passed every check is remembered, per isolate and per config (so per key set), until
 * its `exp`: the same token again costs a map lookup instead of parsing and a signature check
 * (verified-token-cache.ts). Only the exact same string hits; anything else is verified in full.
 */
export async function verifyAccessToken(token: string, config: Config, now = Date.now()): Promise<Principal> {
  if (token.length > MAX_TOKEN_LENGTH) throw new InvalidTokenError("token too long");
  const verified = verifiedTokenCacheFor(config);
  const known = verified.get(token, now);
  if (known) return known;
  const principal = await verifyUncached(token, config, now);
  verified.set(token, principal, notBeforeMs(principal), now);
  return principal;
}

/**
 * The principal of a token that already passed verifyAccessToken under this config and is still
 * within its lifetime, else undefined (then verify it). No parsing: a map lookup of the string.
 */
export function knownAccessToken(token: string, config: Config, now = Date.now()): Principal | undefined {
  return verifiedTokenCacheFor(config).get(token, now);
}

// The earliest moment the checks below would pass: a token verified against a caller-supplied `now`
// is not served by the cache to an earlier `now` that would refuse it.
const notBeforeMs = (p: VerifiedPrincipal): number =>
  (Math.max(p.issuedAt, p.notBefore ?? 0) - CLOCK_SKEW_SECONDS) * 1000;

interface VerifiedPrincipal extends Principal {
  issuedAt: number;
  notBefore?: number;
}

async function verifyUncached(token: string, config: Config, now: number): Promise<VerifiedPrincipal> {
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
  const profile = readProfileClaims(payload);
  // Frozen: the cache hands the same object to every request presenting this token.
  return Object.freeze({
    userId: sub,
    roles: Object.freeze([...roles]) as string[],
    sessionId: sid,
    tokenId: jti,
    expiresAt: exp,
    issuedAt: iat,
    ...(typeof nbf === "number" && { notBefore: nbf }),
    ...(profile && { profile: Object.freeze(profile) }),
  });
}

export interface IssueAccessTokenInput {
  userId: string;
  roles: string[];
  sessionId: string;
  /** What /v1/auth/me shows, `email_verified` included; the service always passes it (from the account row). */
  profile?: ProfileClaims;
  /** The `email_verified` claim alone (OIDC's name), for a token minted without a profile; omitted when not given. */
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
      ...input.profile,
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
