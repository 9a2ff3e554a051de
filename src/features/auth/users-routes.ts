import { createRouter, problems } from "../../core/openapi.ts";
import { bearer, jsonBody, jsonResponse, PRIVATE } from "../../core/openapi-route.ts";
import { principalOf, requireActiveSession, requireRole } from "./guards.ts";
import { authBodyLimit, authRoute, user } from "./route-parts.ts";
import { AdminUserSchema, DisabledBody, RolesBody, UserIdParams, UserListQuery, UserPageSchema } from "./schemas.ts";
import { ADMIN_ROLE } from "./users.ts";
import { authServiceFor } from "./wiring.ts";

/** The admin's routes over accounts, at /v1/users. Every write needs a session still signed in. */
const adminWrite = () => bearer(requireRole(ADMIN_ROLE), requireActiveSession(), authBodyLimit);

const rolesRoute = authRoute("put", "/{id}/roles", {
  summary: "Replace an account's roles (admin; removing a role revokes that account's sessions)",
  ...adminWrite(),
  request: { params: UserIdParams, body: jsonBody(RolesBody) },
  responses: { 200: user("The account with its new roles"), ...problems(401, 403, 404, 409, 413, 415, 422, 503) },
});

const listUsersRoute = authRoute("get", "/", {
  summary: "List and search accounts (admin), newest first, cursor-paginated",
  ...bearer(requireRole(ADMIN_ROLE)),
  request: { query: UserListQuery },
  responses: { 200: jsonResponse(UserPageSchema, "A page of accounts"), ...problems(401, 403, 422, 503) },
});

const disableRoute = authRoute("put", "/{id}/disabled", {
  summary: "Disable or re-enable an account (admin); disabling signs it out everywhere",
  ...adminWrite(),
  request: { params: UserIdParams, body: jsonBody(DisabledBody) },
  responses: { 200: jsonResponse(AdminUserSchema, "The account"), ...problems(401, 403, 404, 409, 413, 415, 422, 503) },
});

const signOutUserRoute = authRoute("delete", "/{id}/sessions", {
  summary: "Sign an account out everywhere (admin): every session revoked, its sockets closed",
  ...bearer(requireRole(ADMIN_ROLE), requireActiveSession()),
  request: { params: UserIdParams },
  responses: { 204: { description: "Every session of the account revoked" }, ...problems(401, 403, 404, 422, 503) },
});

/** Registered before the key set and the account routes: /openapi.json keeps its order. */
export const userRoleRoutes = createRouter().openapi(rolesRoute, async (c) =>
  c.json(await authServiceFor(c).changeRoles(c.req.valid("param").id, c.req.valid("json").roles), 200),
);

export const userAdminRoutes = createRouter()
  .openapi(listUsersRoute, async (c) => c.json(await authServiceFor(c).listUsers(c.req.valid("query")), 200, PRIVATE))
  .openapi(signOutUserRoute, async (c) => {
    await authServiceFor(c).signOutUserEverywhere(principalOf(c), c.req.valid("param").id);
    return c.body(null, 204);
  })
  .openapi(disableRoute, async (c) => {
    const { id } = c.req.valid("param");
    return c.json(await authServiceFor(c).setUserDisabled(principalOf(c), id, c.req.valid("json").disabled), 200);
  });
