import { jsonBodyLimit } from "../../core/body-limit.ts";
import { jsonBody, jsonResponse, routeDeclarer } from "../../core/openapi-route.ts";
import { TokenPairSchema, UserSchema } from "./schemas.ts";

/** What the auth feature's route declarations share (routes.ts, account-routes.ts, users-routes.ts). */

/** Auth bodies are small; this bounds what a client can make us read before validation. */
export const AUTH_BODY_LIMIT_BYTES = 4 * 1024;
export const authBodyLimit = jsonBodyLimit(AUTH_BODY_LIMIT_BYTES);

/** Every auth operation is listed under "Auth". */
export const authRoute = routeDeclarer("Auth");

/** An anonymous route's JSON body, bounded by the auth limit. */
export const authBody = <T>(schema: T) => ({ middleware: [authBodyLimit], request: { body: jsonBody(schema) } });

export const tokens = (description: string) => jsonResponse(TokenPairSchema, description);
export const user = (description: string) => jsonResponse(UserSchema, description);
