import { createRoute } from "@hono/zod-openapi";
import { bearerSecurity, createRouter, problems } from "../../core/openapi.ts";
import { principalOf, requireActiveSession, requireRole, requireUser } from "./guards.ts";
import { authBodyLimit, jsonBody, jsonResponse, PRIVATE, tags } from "./route-parts.ts";
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
import { ADMIN_ROLE } from "./users.ts";
import { authServiceFor } from "./wiring.ts";

/**
 * Issue #15's routes: password reset and change, email verification, the caller's sessions, and the
 * admin's user list. Mounted by routes.ts into the auth router.
 */
const accepted = { description: "Accepted: if an account may get a mail, it is sent (the same answer either way)" };

const forgotRoute = createRoute({
  method: "post",
  path: "/v1/auth/password/forgot",
  tags,
  summary: "Mail a password-reset link (202 whether or not the address has an account)",
  middleware: [authBodyLimit] as const,
  request: { body: jsonBody(ForgotPasswordBody) },
  responses: { 202: accepted, ...problems(413, 415, 422, 429, 503) },
});

const resetRoute = createRoute({
  method: "post",
  path: "/v1/auth/password/reset",
  tags,
  summary: "Set a new password with a mailed token; signs the account out everywhere",
  middleware: [authBodyLimit] as const,
  request: { body: jsonBody(ResetPasswordBody) },
  responses: {
    204: { description: "Password set; every session revoked" },
    ...problems(400, 413, 415, 422, 429, 503),
  },
});

const changeRoute = createRoute({
  method: "post",
  path: "/v1/auth/password/change",
  tags,
  summary: "Change the password (current one required); every other session is revoked",
  security: bearerSecurity,
  middleware: [requireUser(), requireActiveSession(), authBodyLimit] as const,
  request: { body: jsonBody(ChangePasswordBody) },
  responses: {
    204: { description: "Password changed; the caller's session stays, the others are revoked" },
    ...problems(401, 403, 413, 415, 422, 429, 503),
  },
});

const verificationRequestRoute = createRoute({
  method: "post",
  path: "/v1/auth/email/verification",
  tags,
  summary: "Mail a verification link (202 whether or not an unverified account has the address)",
  middleware: [authBodyLimit] as const,
  request: { body: jsonBody(VerificationRequestBody) },
  responses: { 202: accepted, ...problems(413, 415, 422, 429, 503) },
});

const verifyRoute = createRoute({
  method: "post",
  path: "/v1/auth/email/verify",
  tags,
  summary: "Confirm the address with a mailed token",
  middleware: [authBodyLimit] as const,
  request: { body: jsonBody(VerifyEmailBody) },
  responses: {
    204: { description: "Address verified (access tokens say so from their next refresh)" },
    ...problems(400, 413, 415, 422, 429, 503),
  },
});

const sessionsRoute = createRoute({
  method: "get",
  path: "/v1/auth/sessions",
  tags,
  summary: "The caller's sessions (one per sign-in), newest first",
  security: bearerSecurity,
  // Devices and networks are private: a signed-out session's token may not read them.
  middleware: [requireUser(), requireActiveSession()] as const,
  responses: {
    200: jsonResponse(SessionListSchema, "Sessions"),
    ...problems(401, 503),
  },
});

const revokeSessionRoute = createRoute({
  method: "delete",
  path: "/v1/auth/sessions/{id}",
  tags,
  summary: "Sign one of the caller's sessions out (its sockets close)",
  security: bearerSecurity,
  middleware: [requireUser(), requireActiveSession()] as const,
  request: { params: SessionIdParams },
  responses: { 204: { description: "Session revoked" }, ...problems(401, 404, 422, 503) },
});

const listUsersRoute = createRoute({
  method: "get",
  path: "/v1/users",
  tags,
  summary: "List and search accounts (admin), newest first, cursor-paginated",
  security: bearerSecurity,
  middleware: [requireRole(ADMIN_ROLE)] as const,
  request: { query: UserListQuery },
  responses: {
    200: jsonResponse(UserPageSchema, "A page of accounts"),
    ...problems(401, 403, 422, 503),
  },
});

const disableRoute = createRoute({
  method: "put",
  path: "/v1/users/{id}/disabled",
  tags,
  summary: "Disable or re-enable an account (admin); disabling signs it out everywhere",
  security: bearerSecurity,
  middleware: [requireRole(ADMIN_ROLE), requireActiveSession(), authBodyLimit] as const,
  request: { params: UserIdParams, body: jsonBody(DisabledBody) },
  responses: {
    200: jsonResponse(AdminUserSchema, "The account"),
    ...problems(401, 403, 404, 409, 413, 415, 422, 503),
  },
});

const signOutUserRoute = createRoute({
  method: "delete",
  path: "/v1/users/{id}/sessions",
  tags,
  summary: "Sign an account out everywhere (admin): every session revoked, its sockets closed",
  security: bearerSecurity,
  middleware: [requireRole(ADMIN_ROLE), requireActiveSession()] as const,
  request: { params: UserIdParams },
  responses: { 204: { description: "Every session of the account revoked" }, ...problems(401, 403, 404, 422, 503) },
});

export const accountRoutes = createRouter()
  .openapi(forgotRoute, async (c) => {
    await authServiceFor(c).forgotPassword(c.req.valid("json").email);
    return c.body(null, 202);
  })
  .openapi(resetRoute, async (c) => {
    await authServiceFor(c).resetPassword(c.req.valid("json"));
    return c.body(null, 204);
  })
  .openapi(changeRoute, async (c) => {
    await authServiceFor(c).changePassword(principalOf(c), c.req.valid("json"));
    return c.body(null, 204);
  })
  .openapi(verificationRequestRoute, async (c) => {
    await authServiceFor(c).requestEmailVerification(c.req.valid("json").email);
    return c.body(null, 202);
  })
  .openapi(verifyRoute, async (c) => {
    await authServiceFor(c).confirmEmail(c.req.valid("json").token);
    return c.body(null, 204);
  })
  .openapi(sessionsRoute, async (c) =>
    c.json({ items: await authServiceFor(c).listSessions(principalOf(c)) }, 200, PRIVATE),
  )
  .openapi(revokeSessionRoute, async (c) => {
    await authServiceFor(c).revokeOwnSession(principalOf(c), c.req.valid("param").id);
    return c.body(null, 204);
  })
  .openapi(listUsersRoute, async (c) => c.json(await authServiceFor(c).listUsers(c.req.valid("query")), 200, PRIVATE))
  .openapi(signOutUserRoute, async (c) => {
    await authServiceFor(c).signOutUserEverywhere(principalOf(c), c.req.valid("param").id);
    return c.body(null, 204);
  })
  .openapi(disableRoute, async (c) =>
    c.json(
      await authServiceFor(c).setUserDisabled(principalOf(c), c.req.valid("param").id, c.req.valid("json").disabled),
      200,
    ),
  );
