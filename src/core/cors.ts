import type { Context, Next } from "hono";
import type { AppEnv } from "./app-env.ts";
import type { OriginPattern } from "./origin-patterns.ts";

/*
 * CORS from `CORS_ORIGINS`, applied by the request frame before routing, so a preflight is
 * answered on every path (a 405 never hides it), and every answer (problems included) carries the
 * headers a browser needs to read it. An origin that matches no pattern gets no CORS header at all;
 * the browser then keeps the response from the page. Unset `CORS_ORIGINS`: nothing is done.
 */
export const ALLOWED_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE";
/** Bearer auth, JSON bodies, and the preconditions of settings writes. */
export const ALLOWED_HEADERS = "Authorization, Content-Type, If-Match, If-None-Match, X-Request-Id";
/** What a browser app may read beyond the CORS-safelisted response headers. */
export const EXPOSED_HEADERS = "ETag, X-Request-Id, Retry-After, Location";
/** How long a browser may cache a preflight (Chromium caps it at 2 h). */
export const PREFLIGHT_MAX_AGE_SECONDS = 600;

function addVary(headers: Headers, name: string): void {
  const current = headers.get("Vary");
  if (!current) headers.set("Vary", name);
  else if (!current.split(",").some((v) => v.trim().toLowerCase() === name.toLowerCase() || v.trim() === "*")) {
    headers.set("Vary", `${current}, ${name}`);
  }
}

/**
 * Runs `next` under CORS from `CORS_ORIGINS` (`patterns`, non-empty): answers a preflight itself,
 * and adds the headers a browser needs to every other answer (problems included). Called by the
 * request frame (middleware.ts) only when CORS is configured, so without it a request pays nothing.
 */
export async function withCors(
  c: Context<AppEnv>,
  patterns: readonly OriginPattern[],
  credentials: boolean,
  next: Next,
): Promise<Response | undefined> {
  const origin = c.req.header("Origin");
  const allowed = origin !== undefined && patterns.some((p) => p.matches(origin));

  if (c.req.method === "OPTIONS" && origin !== undefined && c.req.header("Access-Control-Request-Method")) {
    // Through the context, so the headers set before (X-Request-Id) come along.
    c.header("Vary", "Origin");
    if (allowed) {
      c.header("Access-Control-Allow-Origin", origin);
      c.header("Access-Control-Allow-Methods", ALLOWED_METHODS);
      c.header("Access-Control-Allow-Headers", ALLOWED_HEADERS);
      c.header("Access-Control-Max-Age", String(PREFLIGHT_MAX_AGE_SECONDS));
      if (credentials) c.header("Access-Control-Allow-Credentials", "true");
    }
    return c.body(null, 204);
  }

  await next();
  // A 101 carries the WebSocket itself; its headers are not read by any CORS check.
  if (c.res.status === 101) return;
  let headers = c.res.headers;
  try {
    addVary(headers, "Origin");
  } catch {
    // Immutable headers (a response passed through from fetch): copy it once.
    c.res = new Response(c.res.body, c.res);
    headers = c.res.headers;
    addVary(headers, "Origin");
  }
  if (!allowed) return;
  headers.set("Access-Control-Allow-Origin", origin);
  headers.set("Access-Control-Expose-Headers", EXPOSED_HEADERS);
  if (credentials) headers.set("Access-Control-Allow-Credentials", "true");
}
