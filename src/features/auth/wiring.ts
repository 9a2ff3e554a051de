import type { Context } from "hono";
import type { AppEnv } from "../../core/app-env.ts";
import { clientBucket, clientNetwork } from "./client-ip.ts";
import type { AuthContext } from "./service.ts";
import { USER_AGENT_MAX_CHARS } from "./session-list.ts";

/** workerd identifies itself so (Node, Deno and Bun say their own names). */
const ON_WORKERS = (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent === "Cloudflare-Workers";

/** Auth bodies are small; this bounds what a client can make us read before validation. */
export const AUTH_BODY_LIMIT_BYTES = 4 * 1024;

/** What the auth services need from a request: its clients, its rate-limit bucket, where it came from. */
export const authContext = (c: Context<AppEnv>): AuthContext => ({
  deps: c.var.deps,
  config: c.var.config,
  log: c.var.log,
  client: clientBucket(c.req.header("CF-Connecting-IP")),
  device: {
    userAgent: c.req.header("User-Agent")?.slice(0, USER_AGENT_MAX_CHARS) ?? null,
    clientPrefix: clientNetwork(c.req.header("CF-Connecting-IP")),
  },
  // On Workers the URL's host is a route of this Worker; elsewhere it is whatever Host the client sent.
  linkBase: ON_WORKERS ? new URL(c.req.url).origin : undefined,
});
