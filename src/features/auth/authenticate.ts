import type { Config } from "../../core/config.ts";
import type { Deps } from "../../core/deps.ts";
import type { Logger } from "../../../common/logger.ts";
import type { Principal } from "../../core/principal.ts";
import { unauthorized } from "../../core/problem.ts";
import { InvalidTokenError, verifyAccessToken } from "./access-token.ts";
import { ensureExternalUser, externalIssuerOf, verifyExternalToken } from "./external-issuers.ts";
import { isSessionRevoked } from "./revocation.ts";

/**
 * The three checks every feature makes of a caller, written once: read the Bearer header, verify the
 * token, and (on sensitive actions) make sure its session was not revoked. Routes use them through
 * the guards (guards.ts); a route that reads its token elsewhere (the WebSocket upgrade) calls them.
 */

// RFC 6750 §2.1: the scheme is case-insensitive; then spaces and the token68 characters.
const BEARER = /^bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/** The one detail of every refused token (the reason is logged at debug, never sent). */
export const INVALID_TOKEN_DETAIL = "The access token is invalid or expired.";
/** The one detail of every refused revoked session. */
export const SESSION_SIGNED_OUT_DETAIL = "This session was signed out. Sign in again.";

/** The token of `Authorization: Bearer <token>`; undefined when no header was sent, 401 when it is malformed. */
export function readBearer(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  const match = BEARER.exec(authorization);
  if (!match?.[1]) throw unauthorized("The Authorization header must be `Bearer <token>`.");
  return match[1];
}

export interface AuthenticateScope {
  config: Config;
  log: Logger;
  /**
   * Given: an outside identity's account row is made on first sight (routes such as assets point at it;
   * at most one INSERT per user per isolate). Omitted: verification does no I/O at all.
   */
  deps?: Pick<Deps, "db">;
}

/**
 * Verifies an access token, ours or a configured outside issuer's (AUTH_EXTERNAL_ISSUERS): the caller's
 * principal, or a 401 problem. Our own tokens cost no I/O (test/workers/auth-tokens.test.ts proves it).
 */
export async function authenticate(token: string, scope: AuthenticateScope): Promise<Principal> {
  const issuer = externalIssuerOf(token, scope.config);
  try {
    if (!issuer) return await verifyAccessToken(token, scope.config);
    const verified = await verifyExternalToken(token, issuer);
    if (scope.deps) await ensureExternalUser(scope.deps, scope.log, verified);
    const { subject: _subject, externalIssuer: _issuer, ...principal } = verified;
    return principal;
  } catch (error) {
    if (!(error instanceof InvalidTokenError)) throw error;
    scope.log.debug("token refused", { reason: error.message, ...(issuer && { issuer: issuer.issuer }) });
    throw unauthorized(INVALID_TOKEN_DETAIL, error);
  }
}

/**
 * For sensitive actions (admin writes, role changes, deletes, WebSocket connects): a 401 problem when
 * the principal's session was revoked. One Redis read; Postgres answers when Redis cannot; 503 when
 * neither can (revocation.ts).
 */
export async function assertActiveSession(principal: Principal, scope: { deps: Deps; config: Config }): Promise<void> {
  if (await isSessionRevoked(scope.deps, scope.config, principal.sessionId)) {
    throw unauthorized(SESSION_SIGNED_OUT_DETAIL);
  }
}
