import { createRouter } from "./core/openapi.ts";
import { notFound, onError } from "./core/error-handler.ts";
import { createDeps } from "./composition/deps.ts";
import { requestFrame } from "./core/middleware.ts";
import { PrefixRouter } from "./core/prefix-router.ts";
import { mountDocs } from "./features/docs/routes.ts";
import { assetsRoutes } from "./features/assets/routes.ts";
import { accountRoutes } from "./features/auth/account-routes.ts";
import { authRoutes, keySetRoutes } from "./features/auth/routes.ts";
import { userAdminRoutes, userRoleRoutes } from "./features/auth/users-routes.ts";
import { livenessRoutes, readinessRoutes } from "./features/health/routes.ts";
import { roomsRoutes } from "./features/rooms/routes.ts";
import { settingsRoutes } from "./features/settings/routes.ts";

/**
 * Every router's mount prefix. Each gets its own router (core/prefix-router.ts), so a pattern only
 * the trie can route costs its own feature the trie and not every request the RegExp router's speed.
 */
const MOUNTS = [
  "/healthz",
  "/readyz",
  "/v1/auth",
  "/v1/users",
  "/.well-known",
  "/v1/settings",
  "/v1/assets",
  "/v1/rooms",
] as const;

/** Builds the HTTP service. Stateless: every dependency is built per request from the env. */
export function createApp() {
  const app = createRouter({ router: new PrefixRouter(MOUNTS) });

  // One global layer: request id, CORS (a preflight is answered on every path), the request's context.
  app.use(requestFrame({ createDeps }));

  // Each router at its own prefix. The order is /openapi.json's order of operations (auth's routers
  // interleave so the published document stays as it was when they were one router).
  const routes = app
    .route("/healthz", livenessRoutes)
    .route("/readyz", readinessRoutes)
    .route("/v1/auth", authRoutes)
    .route("/v1/users", userRoleRoutes)
    .route("/.well-known", keySetRoutes)
    .route("/v1/auth", accountRoutes)
    .route("/v1/users", userAdminRoutes)
    .route("/v1/settings", settingsRoutes)
    .route("/v1/assets", assetsRoutes)
    .route("/v1/rooms", roomsRoutes);

  mountDocs(app);
  app.notFound(notFound(app));
  app.onError(onError);
  return routes;
}

export type AppType = ReturnType<typeof createApp>;
