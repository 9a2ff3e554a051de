import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../../core/app-env.ts";
import type { Principal } from "../../core/principal.ts";
import { forbidden, unauthorized } from "../../core/problem.ts";
import { knownAccessToken } from "./access-token.ts";
import { assertActiveSession, authenticate, readBearer } from "./authenticate.ts";

/**
 * Reads and verifies `Authorization: Bearer` (tokens are only read from this header on HTTP routes,
 * never from the query string). Undefined when no header was sent. Our own tokens cost no I/O.
 */
async function principalFromHeader(c: Context<AppEnv>): Promise<Principal | undefined> {
  const header = c.req.header("Authorization");
  // c.get, not c.var: c.var copies every variable into a new object on each read.
  const config = c.get("config");
  // A token this isolate already verified under this config is answered before any parsing: the
  // cache holds exact strings that passed every check (the header pattern included).
  if (header?.startsWith("Bearer ")) {
    const known = knownAccessToken(header.slice(7), config);
    if (known) return known;
  }
  const token = readBearer(header);
  if (token === undefined) return undefined;
  return authenticate(token, { config, log: c.get("log"), deps: c.get("deps") });
}

/** The principal a guard set; for handlers behind requireUser/requireRole (fails closed with 401). */
export function principalOf(c: Context<AppEnv>): Principal {
  const principal = c.get("principal");
  if (!principal) throw unauthorized();
  return principal;
}

/** Requires a valid access token; sets `c.var.principal`. Pure computation: no I/O. */
export const requireUser = () =>
  createMiddleware<AppEnv>(async function requireUser(c, next) {
    const principal = await principalFromHeader(c);
    if (!principal) throw unauthorized();
    c.set("principal", principal);
    await next();
  });

/** Like requireUser, then requires one of `roles` (403 otherwise). No I/O. */
export const requireRole = (...roles: [string, ...string[]]) =>
  createMiddleware<AppEnv>(async function requireRole(c, next) {
    const principal = await principalFromHeader(c);
    if (!principal) throw unauthorized();
    if (!roles.some((r) => principal.roles.includes(r))) throw forbidden();
    c.set("principal", principal);
    await next();
  });

/** Anonymous callers pass with no principal; a token that is sent must be valid (401 otherwise). */
export const optionalUser = () =>
  createMiddleware<AppEnv>(async function optionalUser(c, next) {
    c.set("principal", await principalFromHeader(c));
    await next();
  });

/**
 * For sensitive routes (admin writes, role changes, WebSocket connects), after requireUser or
 * requireRole: refuses a token whose session was revoked (logout, logout-all, refresh-token reuse,
 * a removed role). See assertActiveSession.
 */
export const requireActiveSession = () =>
  createMiddleware<AppEnv>(async function requireActiveSession(c, next) {
    await assertActiveSession(principalOf(c), c.var);
    await next();
  });
