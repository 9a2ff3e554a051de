import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "./app-env.ts";
import { configFor } from "./config.ts";
import type { BackgroundTasks } from "./deferred-work.ts";
import { createDeps } from "../composition/deps.ts";
import { createLogger, type Logger, type LogLevel } from "../../common/logger.ts";

/** The request's ExecutionContext, or (outside a runtime, e.g. app.request in a unit test) awaiting inline. */
function backgroundOf(c: Context<AppEnv>): BackgroundTasks {
  try {
    return c.executionCtx;
  } catch {
    return { waitUntil: (work) => void work.catch(() => {}) };
  }
}

/**
 * The request's logger, built on its first use: most requests log nothing, so the hot path pays
 * for one small object instead of a logger's closures.
 */
class RequestLogger implements Logger {
  #inner: Logger | undefined;
  readonly #level: LogLevel;
  readonly #requestId: string;
  constructor(level: LogLevel, requestId: string) {
    this.#level = level;
    this.#requestId = requestId;
  }
  get #log(): Logger {
    this.#inner ??= createLogger(this.#level, { requestId: this.#requestId });
    return this.#inner;
  }
  debug(msg: string, fields?: Record<string, unknown>): void {
    if (this.#level === "debug") this.#log.debug(msg, fields);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.#log.info(msg, fields);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.#log.warn(msg, fields);
  }
  error(msg: string, fields?: Record<string, unknown>): void {
    this.#log.error(msg, fields);
  }
  child(fields: Record<string, unknown>): Logger {
    return this.#log.child(fields);
  }
}

/**
 * Validates config (once per isolate), sets up this request's clients (each built on first use)
 * and logger, and closes what the request opened after the response. Runs after requestId so even
 * a config failure has an id. A request that touched nothing costs a few small objects.
 */
export const requestContext = () =>
  createMiddleware<AppEnv>(async function requestContext(c, next) {
    const config = configFor(c.env);
    const log = new RequestLogger(config.LOG_LEVEL, c.get("requestId"));
    const runtime = backgroundOf(c);
    // Background work may open clients after the response (a settings revalidation reading Postgres),
    // so what the request opened is closed once the work handed off so far has settled.
    let handedOff: Promise<unknown>[] | undefined;
    const background: BackgroundTasks = {
      waitUntil(work) {
        handedOff ??= [];
        handedOff.push(work);
        runtime.waitUntil(work);
      },
    };
    const clients = createDeps(config, c.env, background);
    c.set("config", config);
    c.set("log", log);
    c.set("deps", clients.deps);
    c.set("principal", undefined);
    const started = config.LOG_LEVEL === "debug" ? Date.now() : 0;
    try {
      await next();
    } finally {
      // Streaming responses may still be reading; let the runtime finish closing after the response.
      const close = () =>
        clients.opened()
          ? clients.close().catch((error: unknown) => log.warn("closing clients failed", { error }))
          : undefined;
      if (handedOff) runtime.waitUntil(Promise.allSettled(handedOff).then(close));
      else if (clients.opened()) runtime.waitUntil(close() as Promise<void>);
      if (started) {
        log.debug("request", {
          method: c.req.method,
          path: c.req.path,
          status: c.res.status,
          ms: Date.now() - started,
        });
      }
    }
  });
