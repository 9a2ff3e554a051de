import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "./app-env.ts";
import { configFor } from "./config.ts";
import type { BackgroundTasks } from "./deferred-work.ts";
import { createDeps } from "./deps.ts";
import { createLogger } from "./logger.ts";

/** The request's ExecutionContext, or (outside a runtime, e.g. app.request in a unit test) awaiting inline. */
function backgroundOf(c: Context<AppEnv>): BackgroundTasks {
  try {
    return c.executionCtx;
  } catch {
    return { waitUntil: (work) => void work.catch(() => {}) };
  }
}

/**
 * Validates config (once per isolate), builds this request's clients and logger, and closes
 * the clients after the response. Runs after requestId so even a config failure has an id.
 */
export const requestContext = () =>
  createMiddleware<AppEnv>(async function requestContext(c, next) {
    const config = configFor(c.env);
    const log = createLogger(config.LOG_LEVEL, { requestId: c.var.requestId });
    const { deps, close } = createDeps(config, c.env, backgroundOf(c));
    c.set("config", config);
    c.set("log", log);
    c.set("deps", deps);
    c.set("principal", undefined);
    const started = Date.now();
    try {
      await next();
    } finally {
      // Streaming responses may still be reading; let the runtime finish closing after the response.
      backgroundOf(c).waitUntil(close().catch((error: unknown) => log.warn("closing clients failed", { error })));
      log.debug("request", {
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        ms: Date.now() - started,
      });
    }
  });
