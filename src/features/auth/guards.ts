import type { Context, MiddlewareHandler } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../../core/app-env.ts";
import type { Principal } from "../../core/principal.ts";
import { forbidden, unauthorized } from "../../core/problem.ts";
import { afterNext, syncAware } from "../../core/sync-chain.ts";
import { knownAccessToken } from "./access-token.ts";
import { assertActiveSession, authenticate, readBearer } from "./authenticate.ts";

/**
 * Reads and verifies `Authorization: Bearer` (tokens are only read from this header on HTTP routes,
 * never from the query string). Undefined when no header was sent. Our own tokens cost no I/O, and a
 * token this isolate already verified is answered synchronously (no promise).
 */
function principalFromHeader(c: Context<AppEnv>): Principal | undefined | Promise<Principal | undefined> {
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

/*
 * The guards are sync-aware (core/sync-chain.ts): with a cached token they check, set the principal
 * and return what next() returned, so a hot read waits on nothing it does not need; under Hono's
 * compose() they behave as any async middleware.
 */
type Next = () => unknown;
type Admit = (c: Context<AppEnv>, principal: Principal | undefined, next: Next) => undefined | Promise<void>;

function guard(name: string, admit: Admit): MiddlewareHandler<AppEnv> {
  const run = (c: Context<AppEnv>, next: Next): undefined | Promise<void> => {
    const found = principalFromHeader(c);
    return found instanceof Promise ? found.then((principal) => admit(c, principal, next)) : admit(c, found, next);
  };
  Object.defineProperty(run, "name", { value: name });
  return syncAware(run as never) as unknown as MiddlewareHandler<AppEnv>;
}

/** Requires a valid access token; sets `c.var.principal`. Pure computation: no I/O. */
export const requireUser = () =>
  guard("requireUser", (c, principal, next) => {
    if (!principal) throw unauthorized();
    c.set("principal", principal);
    return afterNext(next());
  });

/** Like requireUser, then requires one of `roles` (403 otherwise). No I/O. */
export const requireRole = (...roles: [string, ...string[]]) =>
  guard("requireRole", (c, principal, next) => {
    if (!principal) throw unauthorized();
    if (!roles.some((r) => principal.roles.includes(r))) throw forbidden();
    c.set("principal", principal);
    return afterNext(next());
  });

/** Anonymous callers pass with no principal; a token that is sent must be valid (401 otherwise). */
export const optionalUser = () =>
  guard("optionalUser", (c, principal, next) => {
    c.set("principal", principal);
    return afterNext(next());
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
