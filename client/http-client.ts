import { hc } from "hono/client";
import type { AppType } from "../src/app.ts";

export type { AppType };

/**
 * A typed HTTP client for the service, generated from the route definitions (hono/client): paths,
 * params, bodies and responses are checked at compile time.
 *
 *   const api = createApiClient("https://api.example.com", { headers: () => ({ Authorization: `Bearer ${token}` }) });
 *   const res = await api.v1.auth.me.$get();
 */
export function createApiClient(baseUrl: string, options?: Parameters<typeof hc>[1]) {
  return hc<AppType>(baseUrl, options);
}
