import { createRoute } from "@hono/zod-openapi";
import { jsonBodyLimit } from "../../core/body-limit.ts";
import { bearerSecurity, createRouter, problems } from "../../core/openapi.ts";
import { accountRoutes } from "./account-routes.ts";
import { AUTH_BODY_LIMIT_BYTES, authContext } from "./auth-context.ts";
import { principalOf, requireActiveSession, requireRole, requireUser } from "./guards.ts";
import { keySetFor } from "./key-set.ts";
import {
  JwksSchema,
  LoginBody,
  MeFreshParameter,
  meFreshness,
  PendingVerificationSchema,
  RefreshBody,
  RegisterBody,
  RolesBody,
  TokenPairSchema,
  UserIdParams,
  UserSchema,
} from "./schemas.ts";
import { changeRoles, currentUser, login, logout, logoutAll, refresh, register } from "./service.ts";
import { ADMIN_ROLE } from "./users.ts";

const json = <T>(schema: T) => ({ content: { "application/json": { schema } }, required: true });
const tokens = (description: string) => ({ description, content: { "application/json": { schema: TokenPairSchema } } });
const user = (description: string) => ({ description, content: { "application/json": { schema: UserSchema } } });
// RFC 6749 §5.1: responses carrying tokens must not be cached.
const NO_STORE = { "Cache-Control": "no-store" };

const registerRoute = createRoute({
  method: "post",
  path: "/v1/auth/register",
  tags: ["Auth"],
  summary: "Create an account and sign in",
  middleware: [jsonBodyLimit(AUTH_BODY_LIMIT_BYTES)] as const,
  request: { body: json(RegisterBody) },
  responses: {
    201: tokens("Account created, signed in (a verification link is mailed when mail is configured)"),
    202: {
      description:
        "Account created; `auth.require-verified-email` is on, so no tokens until the mailed link is followed",
      content: { "application/json": { schema: PendingVerificationSchema } },
    },
    ...problems(409, 413, 415, 422, 429, 503),
  },
});

const loginRoute = createRoute({
  method: "post",
  path: "/v1/auth/login",
  tags: ["Auth"],
  summary: "Sign in with email and password",
  middleware: [jsonBodyLimit(AUTH_BODY_LIMIT_BYTES)] as const,
  request: { body: json(LoginBody) },
  responses: { 200: tokens("Signed in"), ...problems(401, 403, 413, 415, 422, 429, 503) },
});

const refreshRoute = createRoute({
  method: "post",
  path: "/v1/auth/refresh",
  tags: ["Auth"],
  summary: "Spend a refresh token for a new pair; a spent token presented again revokes its family",
  middleware: [jsonBodyLimit(AUTH_BODY_LIMIT_BYTES)] as const,
  request: { body: json(RefreshBody) },
  responses: { 200: tokens("New tokens"), ...problems(401, 413, 415, 422, 429, 503) },
});

const logoutRoute = createRoute({
  method: "post",
  path: "/v1/auth/logout",
  tags: ["Auth"],
  summary: "Revoke the refresh token's family (this sign-in)",
  middleware: [jsonBodyLimit(AUTH_BODY_LIMIT_BYTES)] as const,
  request: { body: json(RefreshBody) },
  responses: { 204: { description: "Signed out (also for an unknown token)" }, ...problems(413, 415, 422, 503) },
});

const logoutAllRoute = createRoute({
  method: "post",
  path: "/v1/auth/logout-all",
  tags: ["Auth"],
  summary: "Revoke every sign-in of the caller",
  security: bearerSecurity,
  middleware: [requireUser()] as const,
  responses: { 204: { description: "Every session revoked" }, ...problems(401, 503) },
});

const meRoute = createRoute({
  method: "get",
  path: "/v1/auth/me",
  tags: ["Auth"],
  summary: "The caller's account: from the access token's claims (no I/O), or the row now with ?fresh=true",
  description:
    "By default the profile is read from the verified access token: it shows the account as it was when the token was minted (at sign-in or the last refresh), and the roles the token grants. `?fresh=true` reads the account row from Postgres instead (401 when the account no longer exists, 503 when Postgres is unavailable).",
  security: bearerSecurity,
  middleware: [requireUser()] as const,
  // Documented, not wired as a validator: /me is the hottest authenticated read, and one query flag
  // is checked by hand (meFreshness) without a validation layer per request.
  parameters: [MeFreshParameter],
  responses: { 200: user("The caller"), ...problems(401, 422, 503) },
});

const rolesRoute = createRoute({
  method: "put",
  path: "/v1/users/{id}/roles",
  tags: ["Auth"],
  summary: "Replace an account's roles (admin; removing a role revokes that account's sessions)",
  security: bearerSecurity,
  middleware: [requireRole(ADMIN_ROLE), requireActiveSession(), jsonBodyLimit(AUTH_BODY_LIMIT_BYTES)] as const,
  request: { params: UserIdParams, body: json(RolesBody) },
  responses: { 200: user("The account with its new roles"), ...problems(401, 403, 404, 409, 413, 415, 422, 503) },
});

const jwksRoute = createRoute({
  method: "get",
  path: "/.well-known/jwks.json",
  tags: ["Auth"],
  summary: "Public keys that verify access tokens (empty when only shared secrets are configured)",
  responses: { 200: { description: "JSON Web Key Set", content: { "application/json": { schema: JwksSchema } } } },
});

export const authRoutes = createRouter()
  .openapi(registerRoute, async (c) => {
    const result = await register(authContext(c), c.req.valid("json"));
    return "accessToken" in result ? c.json(result, 201, NO_STORE) : c.json(result, 202, NO_STORE);
  })
  .openapi(loginRoute, async (c) => c.json(await login(authContext(c), c.req.valid("json")), 200, NO_STORE))
  .openapi(refreshRoute, async (c) =>
    c.json(await refresh(authContext(c), c.req.valid("json").refreshToken), 200, NO_STORE),
  )
  .openapi(logoutRoute, async (c) => {
    await logout(authContext(c), c.req.valid("json").refreshToken);
    return c.body(null, 204);
  })
  .openapi(logoutAllRoute, async (c) => {
    await logoutAll(authContext(c), principalOf(c));
    return c.body(null, 204);
  })
  .openapi(meRoute, async (c) => {
    const fresh = meFreshness(c.req.query("fresh"));
    return c.json(await currentUser({ deps: c.get("deps") }, principalOf(c), { fresh }), 200, {
      "Cache-Control": "private, no-store",
    });
  })
  .openapi(rolesRoute, async (c) =>
    c.json(await changeRoles(authContext(c), c.req.valid("param").id, c.req.valid("json").roles), 200),
  )
  .openapi(jwksRoute, async (c) => {
    const keys = await keySetFor(c.var.config);
    // Public material only; caches may keep it a few minutes (rotation publishes a key before it signs).
    return c.json({ keys: keys.publicJwks }, 200, { "Cache-Control": "public, max-age=300" });
  })
  .route("/", accountRoutes);
