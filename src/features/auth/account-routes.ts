import { createRoute } from "@hono/zod-openapi";
import { jsonBodyLimit } from "../../core/body-limit.ts";
import { bearerSecurity, createRouter, problems } from "../../core/openapi.ts";
import { notFound } from "../../core/problem.ts";
import {
  changePassword,
  confirmEmail,
  forgotPassword,
  requestEmailVerification,
  resetPassword,
} from "./account-recovery.ts";
import { listUsers, setUserDisabled, signOutUserEverywhere } from "./admin-users.ts";
import { AUTH_BODY_LIMIT_BYTES, authContext } from "./auth-context.ts";
import { principalOf, requireActiveSession, requireRole, requireUser } from "./guards.ts";
import { announceRevokedSessions } from "./revocation.ts";
import {
  AdminUserSchema,
  ChangePasswordBody,
  DisabledBody,
  ForgotPasswordBody,
  ResetPasswordBody,
  SessionIdParams,
  SessionListSchema,
  UserIdParams,
  UserListQuery,
  UserPageSchema,
  VerificationRequestBody,
  VerifyEmailBody,
} from "./schemas.ts";
import { listSessions, revokeOwnSession } from "./session-list.ts";
import { ADMIN_ROLE } from "./users.ts";

/**
 * Issue #15's routes: password reset and change, email verification, the caller's sessions, and the
 * admin's user list. Mounted by routes.ts into the auth router.
 */
const json = <T>(schema: T) => ({ content: { "application/json": { schema } }, required: true });
const bodyLimit = jsonBodyLimit(AUTH_BODY_LIMIT_BYTES);
const accepted = { description: "Accepted: if an account may get a mail, it is sent (the same answer either way)" };

const forgotRoute = createRoute({
  method: "post",
  path: "/v1/auth/password/forgot",
  tags: ["Auth"],
  summary: "Mail a password-reset link (202 whether or not the address has an account)",
  middleware: [bodyLimit] as const,
  request: { body: json(ForgotPasswordBody) },
  responses: { 202: accepted, ...problems(413, 415, 422, 429, 503) },
});

const resetRoute = createRoute({
  method: "post",
  path: "/v1/auth/password/reset",
  tags: ["Auth"],
  summary: "Set a new password with a mailed token; signs the account out everywhere",
  middleware: [bodyLimit] as const,
  request: { body: json(ResetPasswordBody) },
  responses: {
    204: { description: "Password set; every session revoked" },
    ...problems(400, 413, 415, 422, 429, 503),
  },
});

const changeRoute = createRoute({
  method: "post",
  path: "/v1/auth/password/change",
  tags: ["Auth"],
  summary: "Change the password (current one required); every other session is revoked",
  security: bearerSecurity,
  middleware: [requireUser(), requireActiveSession(), bodyLimit] as const,
  request: { body: json(ChangePasswordBody) },
  responses: {
    204: { description: "Password changed; the caller's session stays, the others are revoked" },
    ...problems(401, 403, 413, 415, 422, 429, 503),
  },
});

const verificationRequestRoute = createRoute({
  method: "post",
  path: "/v1/auth/email/verification",
  tags: ["Auth"],
  summary: "Mail a verification link (202 whether or not an unverified account has the address)",
  middleware: [bodyLimit] as const,
  request: { body: json(VerificationRequestBody) },
  responses: { 202: accepted, ...problems(413, 415, 422, 429, 503) },
});

const verifyRoute = createRoute({
  method: "post",
  path: "/v1/auth/email/verify",
  tags: ["Auth"],
  summary: "Confirm the address with a mailed token",
  middleware: [bodyLimit] as const,
  request: { body: json(VerifyEmailBody) },
  responses: {
    204: { description: "Address verified (access tokens say so from their next refresh)" },
    ...problems(400, 413, 415, 422, 429, 503),
  },
});

const sessionsRoute = createRoute({
  method: "get",
  path: "/v1/auth/sessions",
  tags: ["Auth"],
  summary: "The caller's sessions (one per sign-in), newest first",
  security: bearerSecurity,
  // Devices and networks are private: a signed-out session's token may not read them.
  middleware: [requireUser(), requireActiveSession()] as const,
  responses: {
    200: { description: "Sessions", content: { "application/json": { schema: SessionListSchema } } },
    ...problems(401, 503),
  },
});

const revokeSessionRoute = createRoute({
  method: "delete",
  path: "/v1/auth/sessions/{id}",
  tags: ["Auth"],
  summary: "Sign one of the caller's sessions out (its sockets close)",
  security: bearerSecurity,
  middleware: [requireUser(), requireActiveSession()] as const,
  request: { params: SessionIdParams },
  responses: { 204: { description: "Session revoked" }, ...problems(401, 404, 422, 503) },
});

const listUsersRoute = createRoute({
  method: "get",
  path: "/v1/users",
  tags: ["Auth"],
  summary: "List and search accounts (admin), newest first, cursor-paginated",
  security: bearerSecurity,
  middleware: [requireRole(ADMIN_ROLE)] as const,
  request: { query: UserListQuery },
  responses: {
    200: { description: "A page of accounts", content: { "application/json": { schema: UserPageSchema } } },
    ...problems(401, 403, 422, 503),
  },
});

const disableRoute = createRoute({
  method: "put",
  path: "/v1/users/{id}/disabled",
  tags: ["Auth"],
  summary: "Disable or re-enable an account (admin); disabling signs it out everywhere",
  security: bearerSecurity,
  middleware: [requireRole(ADMIN_ROLE), requireActiveSession(), bodyLimit] as const,
  request: { params: UserIdParams, body: json(DisabledBody) },
  responses: {
    200: { description: "The account", content: { "application/json": { schema: AdminUserSchema } } },
    ...problems(401, 403, 404, 409, 413, 415, 422, 503),
  },
});

const signOutUserRoute = createRoute({
  method: "delete",
  path: "/v1/users/{id}/sessions",
  tags: ["Auth"],
  summary: "Sign an account out everywhere (admin): every session revoked, its sockets closed",
  security: bearerSecurity,
  middleware: [requireRole(ADMIN_ROLE), requireActiveSession()] as const,
  request: { params: UserIdParams },
  responses: { 204: { description: "Every session of the account revoked" }, ...problems(401, 403, 404, 422, 503) },
});

const PRIVATE = { "Cache-Control": "private, no-store" };

export const accountRoutes = createRouter()
  .openapi(forgotRoute, async (c) => {
    await forgotPassword(authContext(c), c.req.valid("json").email);
    return c.body(null, 202);
  })
  .openapi(resetRoute, async (c) => {
    await resetPassword(authContext(c), c.req.valid("json"));
    return c.body(null, 204);
  })
  .openapi(changeRoute, async (c) => {
    await changePassword(authContext(c), principalOf(c), c.req.valid("json"));
    return c.body(null, 204);
  })
  .openapi(verificationRequestRoute, async (c) => {
    await requestEmailVerification(authContext(c), c.req.valid("json").email);
    return c.body(null, 202);
  })
  .openapi(verifyRoute, async (c) => {
    await confirmEmail(authContext(c), c.req.valid("json").token);
    return c.body(null, 204);
  })
  .openapi(sessionsRoute, async (c) => {
    const principal = principalOf(c);
    const items = await listSessions(c.var.deps.db, principal.userId, principal.sessionId);
    return c.json({ items }, 200, PRIVATE);
  })
  .openapi(revokeSessionRoute, async (c) => {
    const principal = principalOf(c);
    const sessionId = c.req.valid("param").id;
    if (!(await revokeOwnSession(c.var.deps.db, principal.userId, sessionId))) {
      throw notFound("You have no active session with this id.");
    }
    await announceRevokedSessions(c.var.deps, c.var.config, c.var.log, [{ userId: principal.userId, sessionId }]);
    return c.body(null, 204);
  })
  .openapi(listUsersRoute, async (c) => c.json(await listUsers(c.var.deps.db, c.req.valid("query")), 200, PRIVATE))
  .openapi(signOutUserRoute, async (c) => {
    await signOutUserEverywhere(authContext(c), principalOf(c), c.req.valid("param").id);
    return c.body(null, 204);
  })
  .openapi(disableRoute, async (c) =>
    c.json(
      await setUserDisabled(authContext(c), principalOf(c), c.req.valid("param").id, c.req.valid("json").disabled),
      200,
    ),
  );
