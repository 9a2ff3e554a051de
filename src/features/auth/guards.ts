import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../../core/app-env.ts";
import { forbidden, unauthorized } from "../../core/problem.ts";
import { InvalidTokenError, verifyAccessToken } from "./access-token.ts";

// RFC 6750 §2.1: the scheme is case-insensitive; one space, then the token68 characters.
const BEARER = /^bearer +([A-Za-z0-9\-._~+/]+=*)\s*$/i;

/** Reads and verifies `Authorization: Bearer`. Returns undefined when no header was sent. */
async function authenticate(authorization: string | undefined, c: Parameters<Parameters<typeof createMiddleware<AppEnv>>[0]>[0]) {
  if (authorization === undefined) return undefined;
  const match = BEARER.exec(authorization);
  if (!match?.[1]) throw unauthorized("The Authorization header must be `Bearer <token>`.");
  try {
    return await verifyAccessToken(match[1], c.var.config);
  } catch (error) {
    if (error instanceof InvalidTokenError) {
      c.var.log.debug("token refused", { reason: error.message });
      throw unauthorized("The bearer token is invalid or expired.", error);
    }
    throw error;
  }
}

/** Requires a valid access token; sets `c.var.principal`. Pure computation: no I/O. */
export const requireUser = () =>
  createMiddleware<AppEnv>(async function requireUser(c, next) {
    const principal = await authenticate(c.req.header("Authorization"), c);
    if (!principal) throw unauthorized();
    c.set("principal", principal);
    await next();
  });

/** Like requireUser, then requires one of `roles` (403 otherwise). */
export const requireRole = (...roles: [string, ...string[]]) =>
  createMiddleware<AppEnv>(async function requireRole(c, next) {
    const principal = await authenticate(c.req.header("Authorization"), c);
    if (!principal) throw unauthorized();
    if (!roles.some((r) => principal.roles.includes(r))) throw forbidden();
    c.set("principal", principal);
    await next();
  });

/** Anonymous callers pass with no principal; a token that is sent must be valid (401 otherwise). */
export const optionalUser = () =>
  createMiddleware<AppEnv>(async function optionalUser(c, next) {
    c.set("principal", await authenticate(c.req.header("Authorization"), c));
    await next();
  });

/**
 * For sensitive routes, after requireUser/requireRole: refuses a token whose session was revoked
 * (one Redis read). Placeholder until the auth feature implements the revocation list.
 */
export const requireActiveSession = () =>
  createMiddleware<AppEnv>(async function requireActiveSession(_c, next) {
    await next();
  });
