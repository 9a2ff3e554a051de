import { respondJson } from "../../core/respond.ts";
import { createRouter, problems } from "../../core/openapi.ts";
import { bearer, jsonContent, NO_STORE, PRIVATE } from "../../core/openapi-route.ts";
import { principalOf, requireUser } from "./guards.ts";
import { keySetFor } from "./key-set.ts";
import { authBody, authRoute, tokens, user } from "./route-parts.ts";
import {
  JwksSchema,
  LoginBody,
  MeFreshParameter,
  meFreshness,
  PendingVerificationSchema,
  RefreshBody,
  RegisterBody,
} from "./schemas.ts";
import { authServiceFor } from "./wiring.ts";

/** Signing in and out, at /v1/auth; the public keys, at /.well-known. */
const registerRoute = authRoute("post", "/register", {
  summary: "Create an account and sign in",
  ...authBody(RegisterBody),
  responses: {
    201: tokens("Account created, signed in (a verification link is mailed when mail is configured)"),
    202: {
      description:
        "Account created; `auth.require-verified-email` is on, so no tokens until the mailed link is followed",
      content: jsonContent(PendingVerificationSchema),
    },
    ...problems(409, 413, 415, 422, 429, 503),
  },
});

const loginRoute = authRoute("post", "/login", {
  summary: "Sign in with email and password",
  ...authBody(LoginBody),
  responses: { 200: tokens("Signed in"), ...problems(401, 403, 413, 415, 422, 429, 503) },
});

const refreshRoute = authRoute("post", "/refresh", {
  summary: "Spend a refresh token for a new pair; a spent token presented again revokes its family",
  ...authBody(RefreshBody),
  responses: { 200: tokens("New tokens"), ...problems(401, 413, 415, 422, 429, 503) },
});

const logoutRoute = authRoute("post", "/logout", {
  summary: "Revoke the refresh token's family (this sign-in)",
  ...authBody(RefreshBody),
  responses: { 204: { description: "Signed out (also for an unknown token)" }, ...problems(413, 415, 422, 503) },
});

const logoutAllRoute = authRoute("post", "/logout-all", {
  summary: "Revoke every sign-in of the caller",
  ...bearer(requireUser()),
  responses: { 204: { description: "Every session revoked" }, ...problems(401, 503) },
});

const meRoute = authRoute("get", "/me", {
  summary: "The caller's account: from the access token's claims (no I/O), or the row now with ?fresh=true",
  description:
    "By default the profile is read from the verified access token: it shows the account as it was when the token was minted (at sign-in or the last refresh), and the roles the token grants. `?fresh=true` reads the account row from Postgres instead (401 when the account no longer exists, 503 when Postgres is unavailable).",
  ...bearer(requireUser()),
  // Documented, not wired as a validator: /me is the hottest authenticated read, and one query flag
  // is checked by hand (meFreshness) without a validation layer per request.
  parameters: [MeFreshParameter],
  responses: { 200: user("The caller"), ...problems(401, 422, 503) },
});

const jwksRoute = authRoute("get", "/jwks.json", {
  summary: "Public keys that verify access tokens (empty when only shared secrets are configured)",
  responses: { 200: { description: "JSON Web Key Set", content: jsonContent(JwksSchema) } },
});

export const authRoutes = createRouter()
  .openapi(registerRoute, async (c) => {
    const result = await authServiceFor(c).register(c.req.valid("json"));
    return "accessToken" in result ? c.json(result, 201, NO_STORE) : c.json(result, 202, NO_STORE);
  })
  .openapi(loginRoute, async (c) => c.json(await authServiceFor(c).login(c.req.valid("json")), 200, NO_STORE))
  .openapi(refreshRoute, async (c) =>
    c.json(await authServiceFor(c).refresh(c.req.valid("json").refreshToken), 200, NO_STORE),
  )
  .openapi(logoutRoute, async (c) => {
    await authServiceFor(c).logout(c.req.valid("json").refreshToken);
    return c.body(null, 204);
  })
  .openapi(logoutAllRoute, async (c) => {
    await authServiceFor(c).logoutAll(principalOf(c));
    return c.body(null, 204);
  })
  // Not async: answered from the claims, /me returns its Response synchronously (core/sync-chain.ts).
  .openapi(meRoute, (c) => {
    const fresh = meFreshness(c.req.query("fresh"));
    const user = authServiceFor(c).currentUser(principalOf(c), { fresh });
    return user instanceof Promise
      ? user.then((u) => respondJson(c, u, 200, PRIVATE))
      : respondJson(c, user, 200, PRIVATE);
  });

/** Mounted at /.well-known. */
export const keySetRoutes = createRouter().openapi(jwksRoute, async (c) => {
  const keys = await keySetFor(c.var.config);
  // Public material only; caches may keep it a few minutes (rotation publishes a key before it signs).
  return c.json({ keys: keys.publicJwks }, 200, { "Cache-Control": "public, max-age=300" });
});
