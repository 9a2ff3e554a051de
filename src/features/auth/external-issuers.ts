import { toHex } from "../../../common/encoding.ts";

import type { SignatureAlgorithm } from "hono/utils/jwt/jwa";
import type { Config, ExternalIssuerConfig } from "../../core/config.ts";
import type { Deps } from "../../core/deps.ts";
import type { Logger } from "../../../common/logger.ts";
import type { Principal } from "../../core/principal.ts";
import { dependencyUnavailable } from "../../core/problem.ts";
import { users } from "../../db/schema.ts";
import { decodeSegment, InvalidTokenError, isRecord, MAX_TOKEN_LENGTH, verifyJws } from "./jws.ts";
import { DEFAULT_ROLES } from "./users.ts";

/**
 * Access tokens from outside OIDC issuers (AUTH_EXTERNAL_ISSUERS: Auth0, Clerk, Supabase, Firebase,
 * any JWKS), verified with the issuer's published keys. The guards send a token here when its
 * (unverified) `iss` names a configured issuer; everything else goes to verifyAccessToken.
 *
 * Keys are fetched from `jwksUri` and kept per isolate for JWKS_TTL_MS. A token whose `kid` is
 * not in the cached set triggers a refetch at most once per REFETCH_INTERVAL_MS per issuer, so a
 * flood of made-up kids costs the issuer one request a minute, not one per token. Asymmetric
 * algorithms only (RS256, ES256, EdDSA); the key's algorithm is pinned, the token's `alg` must match.
 */
export const JWKS_TTL_MS = 10 * 60 * 1000;
export const REFETCH_INTERVAL_MS = 60 * 1000;
export const JWKS_FETCH_TIMEOUT_MS = 3_000;
/** After a failed fetch (and with no usable keys) the next try waits this long: 503s meanwhile. */
export const FAILED_FETCH_BACKOFF_MS = 5_000;
/** Bounds on what one JWKS answer may make us parse and import. */
const MAX_JWKS_BYTES = 64 * 1024;
const MAX_KEYS = 32;
const MAX_ROLES = 32;

type ExternalAlg = Extract<SignatureAlgorithm, "RS256" | "ES256" | "EdDSA">;

const IMPORT_PARAMS: Record<ExternalAlg, SubtleCryptoImportKeyAlgorithm> = {
  RS256: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
  ES256: { name: "ECDSA", namedCurve: "P-256" },
  EdDSA: { name: "Ed25519" },
};
const isExternalAlg = (alg: unknown): alg is ExternalAlg => alg === "RS256" || alg === "ES256" || alg === "EdDSA";

/** OIDC providers use plain JWT or RFC 9068's access-token type. */
const ALLOWED_TYP = new Set(["JWT", "at+jwt", "application/at+jwt"]);

interface ExternalKey {
  alg: ExternalAlg;
  key: CryptoKey;
}
interface KeySetState {
  keys: Map<string, ExternalKey> | undefined;
  fetchedAt: number;
  /** When the last fetch started (successful or not): the refetch interval counts from here. */
  attemptedAt: number;
  inflight: Promise<Map<string, ExternalKey>> | undefined;
}

// Per isolate, keyed by issuer and JWKS URL: a cache of public keys, nothing a request can change.
const keySets = new Map<string, KeySetState>();

/** A segment's JSON, or undefined: only to choose the verifier, which then checks everything. */
function peekJson(segment: string): unknown {
  try {
    return decodeSegment(segment);
  } catch {
    return undefined;
  }
}

/**
 * The configured issuer a token claims to come from, or undefined (then it is one of ours, or
 * nobody's). Reads the payload without verifying it: only to choose the verifier.
 */
export function externalIssuerOf(token: string, config: Config): ExternalIssuerConfig | undefined {
  const issuers = config.AUTH_EXTERNAL_ISSUERS;
  if (!issuers || token.length > MAX_TOKEN_LENGTH) return undefined;
  const payload = peekJson(token.split(".")[1] ?? "");
  if (!isRecord(payload) || typeof payload.iss !== "string") return undefined;
  return issuers.find((i) => i.issuer === payload.iss);
}

/** The algorithm a JWK is for: its `alg` if present, else what its key type implies. */
function algOfJwk(jwk: Record<string, unknown>): ExternalAlg | undefined {
  if (jwk.alg !== undefined) return isExternalAlg(jwk.alg) ? jwk.alg : undefined;
  if (jwk.kty === "RSA") return "RS256";
  if (jwk.kty === "EC" && jwk.crv === "P-256") return "ES256";
  if (jwk.kty === "OKP" && jwk.crv === "Ed25519") return "EdDSA";
  return undefined;
}

const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

async function importKeys(body: unknown): Promise<Map<string, ExternalKey>> {
  const keys = new Map<string, ExternalKey>();
  if (!isRecord(body) || !Array.isArray(body.keys)) throw new Error("JWKS has no keys array");
  for (const jwk of body.keys.slice(0, MAX_KEYS)) {
    if (!isRecord(jwk) || typeof jwk.kid !== "string" || (jwk.use !== undefined && jwk.use !== "sig")) continue;
    const alg = algOfJwk(jwk);
    if (!alg || jwk.kty === "oct") continue;
    const publicJwk: Record<string, unknown> = { ...jwk };
    for (const member of [...PRIVATE_MEMBERS, "key_ops", "use", "alg"]) delete publicJwk[member];
    try {
      const key = await crypto.subtle.importKey("jwk", publicJwk as unknown as JsonWebKey, IMPORT_PARAMS[alg], false, [
        "verify",
      ]);
      keys.set(jwk.kid, { alg, key });
    } catch {
      // A key we cannot use (wrong curve, bad encoding) is skipped; its tokens get 401.
    }
  }
  return keys;
}

async function fetchKeys(issuer: ExternalIssuerConfig): Promise<Map<string, ExternalKey>> {
  const res = await fetch(issuer.jwksUri, {
    headers: { Accept: "application/json" },
    signal: AbortSignal.timeout(JWKS_FETCH_TIMEOUT_MS),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`JWKS answered ${res.status}`);
  if (text.length > MAX_JWKS_BYTES) throw new Error("JWKS too large");
  return importKeys(JSON.parse(text));
}

/**
 * The verification key for `kid`, fetching the issuer's JWKS when the cache is empty or old, or
 * when `kid` is unknown and the last fetch is at least REFETCH_INTERVAL_MS ago. Undefined: no such
 * key. Throws a 503 problem when no keys could ever be fetched (the issuer's JWKS is down).
 */
async function keyFor(issuer: ExternalIssuerConfig, kid: string, now: number): Promise<ExternalKey | undefined> {
  const id = `${issuer.issuer}\n${issuer.jwksUri}`;
  let state = keySets.get(id);
  if (!state) {
    state = { keys: undefined, fetchedAt: 0, attemptedAt: Number.NEGATIVE_INFINITY, inflight: undefined };
    keySets.set(id, state);
  }
  const fresh = state.keys !== undefined && now - state.fetchedAt < JWKS_TTL_MS;
  const known = state.keys?.get(kid);
  if (fresh && known) return known;
  const sinceAttempt = now - state.attemptedAt;
  const mayFetch = sinceAttempt >= REFETCH_INTERVAL_MS || (!fresh && sinceAttempt >= FAILED_FETCH_BACKOFF_MS);
  if (!mayFetch && !state.inflight) {
    if (state.keys) return known;
    throw dependencyUnavailable("external issuer keys");
  }
  if (!state.inflight) {
    const current = state;
    current.attemptedAt = now;
    current.inflight = fetchKeys(issuer)
      .then((keys) => {
        current.keys = keys;
        current.fetchedAt = now;
        return keys;
      })
      .finally(() => {
        current.inflight = undefined;
      });
  }
  try {
    return (await state.inflight)?.get(kid);
  } catch (error) {
    // Stale keys beat none while the issuer's JWKS is unreachable.
    if (state.keys) return state.keys.get(kid);
    throw dependencyUnavailable("external issuer keys", { name: error instanceof Error ? error.name : "unknown" });
  }
}

/** Reads a claim by name, or by a dotted path into nested objects (`realm_access.roles`). */
function claimAt(payload: Record<string, unknown>, path: string): unknown {
  if (path in payload) return payload[path];
  let value: unknown = payload;
  for (const part of path.split(".")) value = isRecord(value) ? value[part] : undefined;
  return value;
}

function rolesOf(payload: Record<string, unknown>, issuer: ExternalIssuerConfig): string[] {
  if (!issuer.rolesClaim) return [...DEFAULT_ROLES];
  const value = claimAt(payload, issuer.rolesClaim);
  if (!Array.isArray(value)) return [];
  return value.filter((r): r is string => typeof r === "string" && r.length <= 64).slice(0, MAX_ROLES);
}

/**
 * A stable UUID for an outside identity (UUIDv8 from SHA-256 of issuer and value), so the principal's
 * `userId` is computed, not looked up: verification stays free of database I/O.
 */
export async function externalUuid(kind: "user" | "session", issuer: string, value: string): Promise<string> {
  const input = new TextEncoder().encode(`edge-backend:${kind}\n${issuer}\n${value}`);
  const bytes = new Uint8Array(await crypto.subtle.digest("SHA-256", input)).slice(0, 16);
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x80;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  const hex = toHex(bytes);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A verified outside token's principal, with where it came from. */
export type ExternalPrincipal = Principal & { subject: string; externalIssuer: string };

/**
 * Verifies a token from `issuer`: header rules as for our own tokens, the key from the issuer's
 * JWKS by `kid` with its algorithm pinned, signature, `iss`, `aud`, and a required `exp` (30 s skew),
 * `nbf` when present, a `sub`. Throws InvalidTokenError (a 401) for anything wrong with the token.
 */
export async function verifyExternalToken(
  token: string,
  issuer: ExternalIssuerConfig,
  now = Date.now(),
): Promise<ExternalPrincipal> {
  const { payload, exp, signature } = await verifyJws(
    token,
    {
      typ: ALLOWED_TYP,
      keyFor: async (header) => {
        // HS* would let anyone holding a shared secret mint tokens, `none` anyone at all.
        if (!isExternalAlg(header.alg)) throw new InvalidTokenError("external tokens must use RS256, ES256 or EdDSA");
        return keyFor(issuer, header.kid, now);
      },
      iss: issuer.issuer,
      aud: issuer.audience,
      requireIat: false,
    },
    now,
  );
  const { sub, jti, sid } = payload;
  if (typeof sub !== "string" || sub.length === 0 || sub.length > 255) throw new InvalidTokenError("sub required");

  return {
    userId: await externalUuid("user", issuer.issuer, sub),
    roles: rolesOf(payload, issuer),
    // One sign-in at the issuer when it says so (`sid`), else one per subject. Never one of our families.
    sessionId: await externalUuid("session", issuer.issuer, typeof sid === "string" ? sid : sub),
    tokenId: typeof jti === "string" ? jti.slice(0, 128) : signature.slice(0, 43),
    expiresAt: exp,
    externalIssuer: issuer.issuer,
    subject: sub,
  };
}

// Users this isolate already made sure exist, so only the first request of each pays an INSERT.
const knownUsers = new Set<string>();
const MAX_KNOWN_USERS = 10_000;

/**
 * Creates the account row of an outside identity on first sight (routes such as assets need a
 * row to point at). A placeholder address (`<id>@external.invalid`, a reserved TLD) keeps the
 * email unique without trusting the issuer's `email` claim; the password can never match.
 */
export async function ensureExternalUser(
  deps: Pick<Deps, "db">,
  log: Logger,
  principal: ExternalPrincipal,
): Promise<void> {
  if (knownUsers.has(principal.userId)) return;
  try {
    await deps.db
      .insert(users)
      .values({
        id: principal.userId,
        email: `${principal.userId}@external.invalid`,
        passwordHash: "!external",
        roles: [...DEFAULT_ROLES],
        externalIssuer: principal.externalIssuer,
        externalSubject: principal.subject,
      })
      .onConflictDoNothing();
    if (knownUsers.size >= MAX_KNOWN_USERS) knownUsers.clear();
    knownUsers.add(principal.userId);
  } catch (error) {
    // The token is valid either way; a route that needs the row fails on its own and the next request retries.
    log.warn("creating the account of an external identity failed", { issuer: principal.externalIssuer, error });
  }
}
