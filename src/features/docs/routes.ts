import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../core/app-env.ts";

/**
 * The reference page: a shell whose script (/console/docs.js, a static asset built from
 * console/docs.tsx) renders /openapi.json. Everything it loads comes from this service, so the
 * page works with no internet (the Scalar page it replaced loaded its script from a CDN).
 */
const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Edge backend API</title>
  <link rel="stylesheet" href="/console/console.css">
  <link rel="icon" href="data:,">
  <script type="module" src="/console/docs.js"></script>
</head>
<body><div id="root"><p>Loading the API reference… (it needs JavaScript; the raw document is <a href="/openapi.json">/openapi.json</a>)</p></div></body>
</html>`;

/** The document's own fields; the generator adds `components`, `paths` and `webhooks` after them. */
export function documentConfig(origin: string) {
  return {
    openapi: "3.1.0",
    info: {
      title: "Edge backend",
      version: "0.1.0",
      description:
        "A stateless edge backend: JWT auth, shared runtime settings, assets on R2, realtime rooms. Errors are RFC 9457 problem+json.",
    },
    servers: [{ url: origin }],
  };
}

/**
 * Serves the OpenAPI 3.1 document of the route definitions, and a docs page over it. On Node, Deno
 * and Bun `doc31` generates it (@asteasolutions/zod-to-openapi); the Worker bundle aliases
 * @hono/zod-openapi to scripts/bundle/zod-openapi.ts, whose `doc31` serves the same document
 * prebuilt by scripts/openapi-build.ts (public/_templates/openapi-routes.json, a static asset read
 * through the ASSETS binding), so neither the generator nor the document is in the bundle.
 */
export function mountDocs(app: OpenAPIHono<AppEnv>): void {
  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
  });
  app.doc31("/openapi.json", (c) => documentConfig(new URL(c.req.url).origin));
  app.get("/docs", (c) => c.html(DOCS_PAGE, 200, { "Cache-Control": "no-cache" }));
}
