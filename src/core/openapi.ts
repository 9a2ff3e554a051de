import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { H, RouterRoute } from "hono/types";
import type { Router } from "hono/router";
import type { ZodError } from "zod";
import type { AppEnv } from "./app-env.ts";
import { type FieldError, validationFailed } from "./problem.ts";

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    requestId: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi("Problem");

const problemContent = { "application/problem+json": { schema: ProblemSchema } };

const DESCRIPTIONS: Record<number, string> = {
  400: "Malformed request",
  401: "Missing or invalid bearer token",
  403: "Valid token, insufficient role",
  404: "Not found or not visible to the caller",
  409: "Conflict",
  411: "Content-Length required",
  412: "Precondition failed (stale version)",
  413: "Body too large",
  415: "Unsupported media type",
  422: "Validation failed",
  428: "Precondition required",
  429: "Rate limited (see Retry-After)",
  503: "A dependency is unavailable (see Retry-After)",
};

/** OpenAPI response entries for the problems a route can answer with. */
export function problems(...statuses: number[]) {
  return Object.fromEntries(
    statuses.map((s) => [s, { description: DESCRIPTIONS[s] ?? "Error", content: problemContent }]),
  );
}

export function zodIssuesToFieldErrors(error: ZodError, target: string): FieldError[] {
  return error.issues.map((issue) => {
    const path = issue.path.map(String).join(".");
    const prefix = target === "json" ? "" : target;
    return { path: [prefix, path].filter(Boolean).join(".") || target, message: issue.message };
  });
}

/** A router whose request validation failures become 422 problems. Every feature router is one. */
export function createRouter(options: { router?: Router<[H, RouterRoute]> } = {}) {
  return new OpenAPIHono<AppEnv>({
    ...options,
    defaultHook: (result) => {
      if (!result.success) throw validationFailed(zodIssuesToFieldErrors(result.error, result.target));
    },
  });
}

export const bearerSecurity = [{ bearerAuth: [] }];
