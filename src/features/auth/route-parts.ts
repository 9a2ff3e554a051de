import { jsonBodyLimit } from "../../core/body-limit.ts";

/** What every auth route declaration shares (routes.ts, account-routes.ts). */

/** Auth bodies are small; this bounds what a client can make us read before validation. */
export const AUTH_BODY_LIMIT_BYTES = 4 * 1024;
export const authBodyLimit = jsonBodyLimit(AUTH_BODY_LIMIT_BYTES);

/** A required JSON request body. */
export const jsonBody = <T>(schema: T) => ({ content: { "application/json": { schema } }, required: true });
/** A JSON response. */
export const jsonResponse = <T>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});

export const tags = ["Auth"];
// RFC 6749 §5.1: responses carrying tokens must not be cached.
export const NO_STORE = { "Cache-Control": "no-store" };
/** The caller's own data: never in a shared cache. */
export const PRIVATE = { "Cache-Control": "private, no-store" };
