import type { z } from "@hono/zod-openapi";
import { createRouter, problems } from "../../core/openapi.ts";
import { bearer, jsonBody, jsonResponse, PRIVATE } from "../../core/openapi-route.ts";
import { principalOf, requireActiveSession, requireUser } from "./guards.ts";
import { authBody, authBodyLimit, authRoute } from "./route-parts.ts";
import {
  ChangePasswordBody,
  ForgotPasswordBody,
  ResetPasswordBody,
  SessionIdParams,
  SessionListSchema,
  VerificationRequestBody,
  VerifyEmailBody,
} from "./schemas.ts";
import { authServiceFor } from "./wiring.ts";

/**
 * The account's own routes, at /v1/auth: password reset and change, email verification, the
 * caller's sessions.
 */
/** Asks for a mailed link: 202 whether or not an account may get the mail. */
const mailLinkRoute = <P extends string, B extends z.ZodType>(path: P, summary: string, body: B) =>
  authRoute("post", path, {
    summary,
    ...authBody(body),
    responses: {
      202: { description: "Accepted: if an account may get a mail, it is sent (the same answer either way)" },
      ...problems(413, 415, 422, 429, 503),
    },
  });

/** Spends a mailed token (400 when it is unknown, spent or expired). */
const mailTokenRoute = <P extends string, B extends z.ZodType>(path: P, summary: string, body: B, done: string) =>
  authRoute("post", path, {
    summary,
    ...authBody(body),
    responses: { 204: { description: done }, ...problems(400, 413, 415, 422, 429, 503) },
  });

// Devices and networks are private: a signed-out session's token may not read them.
const activeSession = () => bearer(requireUser(), requireActiveSession());

const forgotRoute = mailLinkRoute(
  "/password/forgot",
  "Mail a password-reset link (202 whether or not the address has an account)",
  ForgotPasswordBody,
);

const resetRoute = mailTokenRoute(
  "/password/reset",
  "Set a new password with a mailed token; signs the account out everywhere",
  ResetPasswordBody,
  "Password set; every session revoked",
);

const changeRoute = authRoute("post", "/password/change", {
  summary: "Change the password (current one required); every other session is revoked",
  ...bearer(requireUser(), requireActiveSession(), authBodyLimit),
  request: { body: jsonBody(ChangePasswordBody) },
  responses: {
    204: { description: "Password changed; the caller's session stays, the others are revoked" },
    ...problems(401, 403, 413, 415, 422, 429, 503),
  },
});

const verificationRequestRoute = mailLinkRoute(
  "/email/verification",
  "Mail a verification link (202 whether or not an unverified account has the address)",
  VerificationRequestBody,
);

const verifyRoute = mailTokenRoute(
  "/email/verify",
  "Confirm the address with a mailed token",
  VerifyEmailBody,
  "Address verified (access tokens say so from their next refresh)",
);

const sessionsRoute = authRoute("get", "/sessions", {
  summary: "The caller's sessions (one per sign-in), newest first",
  ...activeSession(),
  responses: { 200: jsonResponse(SessionListSchema, "Sessions"), ...problems(401, 503) },
});

const revokeSessionRoute = authRoute("delete", "/sessions/{id}", {
  summary: "Sign one of the caller's sessions out (its sockets close)",
  ...activeSession(),
  request: { params: SessionIdParams },
  responses: { 204: { description: "Session revoked" }, ...problems(401, 404, 422, 503) },
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
  });
