import type { Hono } from "hono";
import { hc } from "hono/client";
import type { AppSchema } from "./app-schema.ts";

/** The service's routes as a Hono app type: all hono/client needs (the schema, no server types). */
// biome-ignore lint/complexity/noBannedTypes: the env of a schema-only app type is empty.
export type AppType = Hono<{}, AppSchema, "/">;
export type { AppSchema };
/** The typed client: `api.v1.auth.me.$get()` and so on. */
export type ApiClient = ReturnType<typeof hc<AppType>>;

/**
 * A typed HTTP client for the service, generated from the route definitions (hono/client): paths,
 * params, bodies and responses are checked at compile time.
 *
 *   const api = createApiClient("https://api.example.com", { headers: () => ({ Authorization: `Bearer ${token}` }) });
 *   const res = await api.v1.auth.me.$get();
 */
export function createApiClient(baseUrl: string, options?: Parameters<typeof hc>[1]): ApiClient {
  return hc<AppType>(baseUrl, options);
}
