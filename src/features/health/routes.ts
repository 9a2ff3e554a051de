import { createRoute, z } from "@hono/zod-openapi";
import { respondJson } from "../../core/respond.ts";
import { createRouter } from "../../core/openapi.ts";
import { NO_STORE } from "../../core/openapi-route.ts";
import { checkReadiness } from "./readiness.ts";

const CheckSchema = z.object({ ok: z.boolean(), ms: z.number(), error: z.string().optional() });
const ReadySchema = z
  .object({
    status: z.enum(["ok", "degraded", "down"]),
    checks: z.object({ postgres: CheckSchema, redis: CheckSchema, storage: CheckSchema }),
  })
  .openapi("Readiness");

const healthz = createRoute({
  method: "get",
  path: "/",
  tags: ["Operations"],
  summary: "Liveness: answers without touching any dependency",
  responses: {
    200: { description: "Alive", content: { "application/json": { schema: z.object({ status: z.literal("ok") }) } } },
  },
});

const readyz = createRoute({
  method: "get",
  path: "/",
  tags: ["Operations"],
  summary: "Readiness: checks Postgres, Redis and storage, each bounded by a timeout",
  responses: {
    200: { description: "Ready (ok or degraded)", content: { "application/json": { schema: ReadySchema } } },
    503: { description: "Postgres is unreachable", content: { "application/json": { schema: ReadySchema } } },
  },
});

/** Mounted at /healthz: the hot path, no dependency touched. */
export const livenessRoutes = createRouter().openapi(healthz, (c) =>
  respondJson(c, { status: "ok" as const }, 200, NO_STORE),
);

/** Mounted at /readyz. */
export const readinessRoutes = createRouter().openapi(readyz, async (c) => {
  const report = await checkReadiness(c.var.deps, c.var.log);
  const headers = { "Cache-Control": "no-store" };
  return report.status === "down" ? c.json(report, 503, headers) : c.json(report, 200, headers);
});
