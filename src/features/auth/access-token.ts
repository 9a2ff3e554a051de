import { sign } from "hono/jwt";
import type { Config } from "../../core/config.ts";
import type { Principal } from "../../core/principal.ts";
import { CLOCK_SKEW_SECONDS, InvalidTokenError, MAX_TOKEN_LENGTH, verifyJws } from "./jws.ts";
import { keySetFor } from "./key-set.ts";
import { verifiedTokenCacheFor } from "./verified-token-cache.ts";

// The shared JWS checks live in jws.ts; these names stay importable from here.
export { CLOCK_SKEW_SECONDS, InvalidTokenError, MAX_TOKEN_LENGTH } from "./jws.ts";

const OUR_TYP = new Set(["JWT"]);

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
  const keys = await keySetFor(config);
  const { payload, exp } = await verifyJws(
    token,
    {
      typ: OUR_TYP,
      keyFor: async (header) => keys.byKid.get(header.kid),
      iss: config.JWT_ISSUER,
      aud: config.JWT_AUDIENCE,
      requireIat: true,
    },
    now,
  );
  const { sub, sid, jti, roles, iat, nbf } = payload;
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
    issuedAt: iat as number,
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
