import { methodNotAllowed } from "hono/method-not-allowed";
import { requestId } from "hono/request-id";
import { cors } from "./core/cors.ts";
import { createRouter } from "./core/openapi.ts";
import { onError, onNotFound } from "./core/error-handler.ts";
import { requestContext } from "./core/middleware.ts";
import { ProblemError, problemResponse } from "./core/problem.ts";
import { mountDocs } from "./features/docs/routes.ts";
import { assetsRoutes } from "./features/assets/routes.ts";
import { authRoutes } from "./features/auth/routes.ts";
import { healthRoutes } from "./features/health/routes.ts";
import { roomsRoutes } from "./features/rooms/routes.ts";
import { settingsRoutes } from "./features/settings/routes.ts";

/** Builds the HTTP service. Stateless: every dependency is built per request from the env. */
export function createApp() {
  const app = createRouter();

  app.use(
    requestId({
      headerName: "X-Request-Id",
      limitLength: 128,
      generator: () => crypto.randomUUID(),
    }),
  );
  // Before methodNotAllowed: a preflight OPTIONS is answered on every route, and every answer gets CORS headers.
  app.use(cors());
  app.use(
    methodNotAllowed({
      app,
      onMethodNotAllowed: (c, methods) =>
        problemResponse(
          new ProblemError({
            status: 405,
            detail: `${c.req.method} is not allowed here. Allowed: ${methods.join(", ")}.`,
            headers: { Allow: methods.join(", ") },
          }),
          c.var.requestId,
        ),
    }),
  );
  app.use(requestContext());

  const routes = app
    .route("/", healthRoutes)
    .route("/", authRoutes)
    .route("/v1/settings", settingsRoutes)
    .route("/v1/assets", assetsRoutes)
    .route("/v1/rooms", roomsRoutes);

  mountDocs(app);
  app.notFound(onNotFound);
  app.onError(onError);
  return routes;
}

export type AppType = ReturnType<typeof createApp>;
