import type { Context } from "hono";
import type { AppEnv } from "../../core/app-env.ts";
import type { Principal } from "../../core/principal.ts";
import { notFound } from "../../core/problem.ts";
import {
  changePassword,
  confirmEmail,
  forgotPassword,
  requestEmailVerification,
  resetPassword,
} from "./account-recovery.ts";
import { listUsers, setUserDisabled, signOutUserEverywhere } from "./admin-users.ts";
import { clientBucket, clientNetwork } from "./client-ip.ts";
import { announceRevokedSessions } from "./revocation.ts";
import { type AuthContext, type LoginInput, type RegisterInput, USER_AGENT_MAX_CHARS } from "./model.ts";
import { changeRoles, currentUser, login, logout, logoutAll, refresh, register } from "./service.ts";
import { listSessions, revokeOwnSession } from "./session-list.ts";

/** workerd identifies itself so (Node, Deno and Bun say their own names). */
const ON_WORKERS = (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent === "Cloudflare-Workers";

/** What the auth services need from a request: its clients, its rate-limit bucket, where it came from. */
const authContext = (c: Context<AppEnv>): AuthContext => ({
  deps: c.var.deps,
  config: c.var.config,
  log: c.var.log,
  client: clientBucket(c.req.header("CF-Connecting-IP")),
  device: {
    userAgent: c.req.header("User-Agent")?.slice(0, USER_AGENT_MAX_CHARS) ?? null,
    clientPrefix: clientNetwork(c.req.header("CF-Connecting-IP")),
  },
  // On Workers the URL's host is a route of this Worker; elsewhere it is whatever Host the client sent.
  linkBase: ON_WORKERS ? new URL(c.req.url).origin : undefined,
});

/**
 * The auth feature as routes use it: one object per request, each method taking the caller (where it
 * has one) and the request's input. Unlike the other features' wiring it reads the request itself
 * (client address, user agent, origin: rate limits and session lists need them), and only when a
 * method that needs them runs. A class, so the hottest route (/me) pays one small allocation.
 */
export class AuthService {
  readonly #c: Context<AppEnv>;
  #ctx: AuthContext | undefined;
  constructor(c: Context<AppEnv>) {
    this.#c = c;
  }
  get #context(): AuthContext {
    this.#ctx ??= authContext(this.#c);
    return this.#ctx;
  }

  register(input: RegisterInput) {
    return register(this.#context, input);
  }
  login(input: LoginInput) {
    return login(this.#context, input);
  }
  refresh(refreshToken: string) {
    return refresh(this.#context, refreshToken);
  }
  logout(refreshToken: string) {
    return logout(this.#context, refreshToken);
  }
  logoutAll(principal: Principal) {
    return logoutAll(this.#context, principal);
  }
  /** From the verified token (no I/O), or the account row with `fresh`. */
  currentUser(principal: Principal, options: { fresh: boolean }) {
    return currentUser({ deps: this.#c.get("deps") }, principal, options);
  }
  changeRoles(userId: string, roles: string[]) {
    return changeRoles(this.#context, userId, roles);
  }
  forgotPassword(email: string) {
    return forgotPassword(this.#context, email);
  }
  resetPassword(input: Parameters<typeof resetPassword>[1]) {
    return resetPassword(this.#context, input);
  }
  changePassword(principal: Principal, input: Parameters<typeof changePassword>[2]) {
    return changePassword(this.#context, principal, input);
  }
  requestEmailVerification(email: string) {
    return requestEmailVerification(this.#context, email);
  }
  confirmEmail(token: string) {
    return confirmEmail(this.#context, token);
  }
  listSessions(principal: Principal) {
    return listSessions(this.#c.var.deps.db, principal.userId, principal.sessionId);
  }
  /** Signs one of the caller's own sessions out (its sockets close); 404 when it has no such live session. */
  async revokeOwnSession(principal: Principal, sessionId: string): Promise<void> {
    const { deps, config, log } = this.#c.var;
    if (!(await revokeOwnSession(deps.db, principal.userId, sessionId))) {
      throw notFound("You have no active session with this id.");
    }
    await announceRevokedSessions(deps, config, log, [{ userId: principal.userId, sessionId }]);
  }
  listUsers(query: Parameters<typeof listUsers>[1]) {
    return listUsers(this.#c.var.deps.db, query);
  }
  signOutUserEverywhere(admin: Principal, userId: string) {
    return signOutUserEverywhere(this.#context, admin, userId);
  }
  setUserDisabled(admin: Principal, userId: string, disabled: boolean) {
    return setUserDisabled(this.#context, admin, userId, disabled);
  }
}

/** The auth service over this request (the one way routes reach the auth feature). */
export const authServiceFor = (c: Context<AppEnv>): AuthService => new AuthService(c);
