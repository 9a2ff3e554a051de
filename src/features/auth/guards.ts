import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../../core/app-env.ts";
import type { Principal } from "../../core/principal.ts";
import { forbidden, unauthorized } from "../../core/problem.ts";
import { InvalidTokenError, knownAccessToken, verifyAccessToken } from "./access-token.ts";
import { authenticateExternal, externalIssuerOf } from "./external-issuers.ts";
import { isSessionRevoked } from "./revocation.ts";

// RFC 6750 §2.1: the scheme is case-insensitive; then spaces and the token68 characters. Tokens are
// only read from this header on HTTP routes, never from the query string.
const BEARER = /^bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/**
 * Reads and verifies `Authorization: Bearer`. Undefined when no header was sent. Pure computation:
 * no database, cache or network I/O (test/workers/auth-tokens.test.ts proves it).
 */
async function authenticate(c: Context<AppEnv>): Promise<Principal | undefined> {
  const authorization = c.req.header("Authorization");
  if (authorization === undefined) return undefined;
  // c.get, not c.var: c.var copies every variable into a new object on each read.
  const config = c.get("config");
  // A token this isolate already verified under this config is answered before any parsing: the
  // cache holds exact strings that passed every check below (the header pattern included).
  if (authorization.startsWith("Bearer ")) {
    const known = knownAccessToken(authorization.slice(7), config);
    if (known) return known;
  }
  const match = BEARER.exec(authorization);
  if (!match?.[1]) throw unauthorized("The Authorization header must be `Bearer <token>`.");
  // issue #15: a token whose `iss` is one of AUTH_EXTERNAL_ISSUERS is verified by that issuer's JWKS.
  const external = externalIssuerOf(match[1], config);
  if (external) return authenticateExternal(match[1], external, c.var);
  try {
    return await verifyAccessToken(match[1], config);
  } catch (error) {
    if (error instanceof InvalidTokenError) {
      c.var.log.debug("token refused", { reason: error.message });
      throw unauthorized("The bearer token is invalid or expired.", error);
    }
    throw error;
  }
}

/** The principal a guard set; for handlers behind requireUser/requireRole. */
export function principalOf(c: Context<AppEnv>): Principal {
  const principal = c.get("principal");
  if (!principal) throw unauthorized();
  return principal;
}

/** Requires a valid access token; sets `c.var.principal`. Pure computation: no I/O. */
export const requireUser = () =>
  createMiddleware<AppEnv>(async function requireUser(c, next) {
    const principal = await authenticate(c);
    if (!principal) throw unauthorized();
    c.set("principal", principal);
    await next();
  });

/** Like requireUser, then requires one of `roles` (403 otherwise). No I/O. */
export const requireRole = (...roles: [string, ...string[]]) =>
  createMiddleware<AppEnv>(async function requireRole(c, next) {
    const principal = await authenticate(c);
    if (!principal) throw unauthorized();
    if (!roles.some((r) => principal.roles.includes(r))) throw forbidden();
    c.set("principal", principal);
    await next();
  });

/** Anonymous callers pass with no principal; a token that is sent must be valid (401 otherwise). */
export const optionalUser = () =>
  createMiddleware<AppEnv>(async function optionalUser(c, next) {
    c.set("principal", await authenticate(c));
    await next();
  });

/**
 * For sensitive routes (admin writes, role changes, WebSocket connects), after requireUser or
 * requireRole: refuses a token whose session was revoked (logout, logout-all, refresh-token reuse,
 * a removed role). One Redis read; Postgres answers when Redis cannot; 503 when neither can.
 */
export const requireActiveSession = () =>
  createMiddleware<AppEnv>(async function requireActiveSession(c, next) {
    const principal = principalOf(c);
    if (await isSessionRevoked(c.var.deps, c.var.config, principal.sessionId)) {
      throw unauthorized("This session was signed out. Sign in again.");
    }
    await next();
  });
