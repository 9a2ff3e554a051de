import { Scalar } from "@scalar/hono-api-reference";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../core/app-env.ts";

/** Serves the OpenAPI 3.1 document generated from the route definitions, and a docs page over it. */
export function mountDocs(app: OpenAPIHono<AppEnv>): void {
  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
  });
  app.doc31("/openapi.json", (c) => ({
    openapi: "3.1.0",
    info: {
      title: "Edge backend",
      version: "0.1.0",
      description:
        "A stateless edge backend: JWT auth, shared runtime settings, assets on R2, realtime rooms. Errors are RFC 9457 problem+json.",
    },
    servers: [{ url: new URL(c.req.url).origin }],
  }));
  app.get("/docs", Scalar({ url: "/openapi.json", pageTitle: "Edge backend API" }));
}
