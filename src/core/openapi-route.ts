import { createRoute, type RouteConfig } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { bearerSecurity } from "./openapi.ts";

/**
 * What every route declaration shares, so each route states only what differs: its method, path and
 * summary, then its guards, request and responses (`...problems(…)` for every status it can answer).
 *
 *   const route = routeDeclarer("Notes");
 *   const list = route("get", "/", {
 *     summary: "The caller's notes",
 *     ...bearer(requireUser()),
 *     request: { query: ListQuery },
 *     responses: { 200: jsonResponse(NotePage, "One page"), ...problems(401, 422, 503) },
 *   });
 *
 * The declaration is createRoute's, key for key (the OpenAPI document lists an operation's fields in
 * the order they are written: tags, summary, description, security).
 */
type Method = RouteConfig["method"];
type Declaration = Omit<RouteConfig, "method" | "path" | "tags"> & { summary: string };

/** The route declarer of one feature: its operations are listed under `tag`. */
export function routeDeclarer(tag: string) {
  const tags = [tag];
  return <M extends Method, P extends string, D extends Declaration>(method: M, path: P, rest: D) =>
    createRoute({ method, path, tags, ...rest });
}

/** Guarded by a bearer token: the scheme in the document, the guards (in order) on the route. */
export const bearer = <G extends MiddlewareHandler[]>(...middleware: G) => ({
  security: bearerSecurity,
  middleware,
});

/** A bearer token is optional (anonymous callers get the public answer). */
export const bearerOptional = <G extends MiddlewareHandler[]>(...middleware: G) => ({
  security: [...bearerSecurity, {}],
  middleware,
});

/** JSON content of one schema (a request body's or a response's `content`). */
export const jsonContent = <T>(schema: T) => ({ "application/json": { schema } });

/** A required JSON request body. */
export const jsonBody = <T>(schema: T) => ({ content: jsonContent(schema), required: true as const });

/** A JSON response. */
export const jsonResponse = <T>(schema: T, description: string) => ({ description, content: jsonContent(schema) });

/** Answers a client must not keep (tokens, signed URLs, one caller's writes): RFC 6749 §5.1, RFC 9111. */
export const NO_STORE = { "cache-control": "no-store" };
/** The caller's own data: never in a shared cache. */
export const PRIVATE = { "cache-control": "private, no-store" };
