import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv, Bindings } from "./app-env.ts";
import { type Config, configFor } from "./config.ts";
import { stampRequestId } from "./respond.ts";
import { withCors } from "./cors.ts";
import type { BackgroundTasks } from "./deferred-work.ts";
import type { Deps, DepsFactory, RequestDeps } from "./deps.ts";
import { onError } from "./error-handler.ts";
import { answerError, FUSE, type Fuser, finalResponse, runChain } from "./sync-chain.ts";
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

/** An `X-Request-Id` a caller sent is kept when it is this short and made of these characters. */
export const MAX_REQUEST_ID_LENGTH = 128;
const REQUEST_ID_CHARS = /^[\w\-=]+$/;

/*
 * Fresh request ids: the first 32 characters of a random UUID, renewed every 65,536 ids, then a
 * 4-hex-digit counter, so an id is still UUID-shaped (8-4-4-4-12 lowercase hex, version 4) and unique
 * (within an isolate by the counter, across isolates by the 106 random bits), at the cost of a
 * string concatenation instead of a random UUID per request. Ids are correlation handles, not
 * secrets: that the next id of an isolate can be guessed from one is of no use to anyone.
 */
const IDS_PER_PREFIX = 0x10000;
let idPrefix = "";
let idCount = IDS_PER_PREFIX;

export function freshRequestId(): string {
  if (idCount === IDS_PER_PREFIX) {
    idPrefix = crypto.randomUUID().slice(0, 32);
    idCount = 0;
  }
  const n = idCount++;
  return idPrefix + (n < 0x1000 ? (n < 0x100 ? (n < 0x10 ? "000" : "00") : "0") : "") + n.toString(16);
}

/** The caller's request id when it is a safe token, else a fresh one. */
export function requestIdOf(sent: string | undefined): string {
  return sent !== undefined && sent.length <= MAX_REQUEST_ID_LENGTH && REQUEST_ID_CHARS.test(sent)
    ? sent
    : freshRequestId();
}

/**
 * The one global middleware: the request id (the caller's `X-Request-Id` when it is a safe token,
 * else a UUID; echoed on every answer), CORS when `CORS_ORIGINS` is set (cors.ts), then the
 * request's context: config (validated once per isolate), logger, clients (each built on first
 * use), closed after the response. One layer instead of four, because every layer is a closure and
 * a promise on every request; a request that touches nothing costs a few small objects. A method
 * the path does not allow (405) is found only on a miss, in the not-found handler.
 */
export interface RequestFrameOptions {
  /** Builds each request's clients: the composition root's createDeps (core does not import it). */
  createDeps: DepsFactory;
}

export function requestFrame({ createDeps }: RequestFrameOptions): MiddlewareHandler<AppEnv> {
  /** Sets the request's context; what is left to do after the answer is the scope's. */
  function open(c: Context<AppEnv>): RequestScope {
    const requestId = requestIdOf(c.req.header("X-Request-Id"));
    // On the answer by stampRequestId (respond.ts), once the answer is final.
    c.set("requestId", requestId);
    // A bad configuration throws here, after the id is set: onError answers 500 "misconfigured".
    const config = configFor(c.env);
    const scope = new RequestScope(config, c.env, backgroundOf(c), requestId, createDeps);
    c.set("config", config);
    c.set("log", scope.log);
    c.set("deps", scope.deps);
    c.set("principal", undefined);
    return scope;
  }

  /**
   * As a middleware (under compose(), or alone on a miss). Sync-aware (sync-chain.ts): when what
   * follows answers synchronously, so does the frame. With CORS or the debug request log configured,
   * the awaiting form below.
   */
  function requestFrame(c: Context<AppEnv>, next: () => unknown): unknown {
    const scope = open(c);
    if (scope.awaiting) return awaitingFrame(c, next, scope);
    let out: unknown;
    try {
      out = next();
    } catch (error) {
      scope.finish();
      throw error;
    }
    if (out instanceof Promise) {
      return out.then(
        () => {
          stampRequestId(c);
          scope.finish();
        },
        (error: unknown) => {
          scope.finish();
          throw error;
        },
      );
    }
    stampRequestId(c);
    scope.finish();
    return undefined;
  }

  /** compose()'s catch, then the frame's own end, then Hono's check: the answer. */
  function answered(c: Context, error: unknown, scope: RequestScope | undefined): Response | Promise<Response> {
    const done = answerError(c, error, onError as never);
    if (done instanceof Promise) {
      return done.then(() => {
        scope?.finish();
        return stampedResponse(c);
      });
    }
    scope?.finish();
    return stampedResponse(c);
  }

  /**
   * What PrefixRouter runs instead of compose() for [frame, ...sync-aware middleware, handler]: the
   * frame's work around runChain, with one promise layer (none when the chain is synchronous).
   */
  const fuse: Fuser = (handlers) => {
    // The awaiting form's next(): the chain, its errors answered where they were thrown.
    const rest = (c: Context): void | Promise<void> => {
      let out: void | Promise<void>;
      try {
        out = runChain(c, handlers, 0);
      } catch (error) {
        return answerError(c, error, onError as never);
      }
      return out instanceof Promise
        ? out.catch((error: unknown) => answerError(c, error, onError as never))
        : undefined;
    };
    return function framed(c: Context): Response | Promise<Response> {
      let scope: RequestScope;
      try {
        scope = open(c as Context<AppEnv>);
      } catch (error) {
        return answered(c, error, undefined);
      }
      if (scope.awaiting) {
        return awaitingFrame(c as Context<AppEnv>, () => rest(c), scope).then(
          () => finalResponse(c), // stamped by awaitingFrame
          (error: unknown) => answered(c, error, undefined),
        );
      }
      let out: void | Promise<void>;
      try {
        out = runChain(c, handlers, 0);
      } catch (error) {
        return answered(c, error, scope);
      }
      if (out instanceof Promise) {
        return out.then(
          () => {
            scope.finish();
            return stampedResponse(c);
          },
          (error: unknown) => answered(c, error, scope),
        );
      }
      scope.finish();
      return stampedResponse(c);
    };
  };
  (requestFrame as unknown as Record<symbol, unknown>)[FUSE] = fuse;
  return requestFrame as unknown as MiddlewareHandler<AppEnv>;
}

/** Hono's check that a step answered, then the request id on that answer. */
function stampedResponse(c: Context<AppEnv>): Response {
  finalResponse(c);
  stampRequestId(c);
  return c.res;
}

/** The frame with CORS (answering preflights, adding headers after) or the debug request log. */
async function awaitingFrame(c: Context<AppEnv>, next: () => unknown, scope: RequestScope): Promise<void> {
  const config = scope.config;
  const patterns = config.CORS_ORIGINS;
  const started = config.LOG_LEVEL === "debug" ? Date.now() : 0;
  try {
    if (patterns && patterns.length > 0) {
      // A preflight's answer is CORS's own; it takes the request id like any other.
      const preflight = await withCors(c, patterns, config.CORS_ALLOW_CREDENTIALS, next as () => Promise<void>);
      if (preflight && c.finalized === false) c.res = preflight;
    } else {
      await next();
    }
    stampRequestId(c);
  } finally {
    scope.finish();
    if (started) {
      scope.log.debug("request", {
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        ms: Date.now() - started,
      });
    }
  }
}

/**
 * What one request holds: its logger, its clients (each built on first use) and the background work
 * it handed off. Background work may open clients after the response (a settings revalidation
 * reading Postgres), so what the request opened is closed once the work handed off has settled.
 */
class RequestScope implements BackgroundTasks {
  readonly config: Config;
  /** CORS or the debug request log: work after the answer that needs it (the awaiting form). */
  readonly awaiting: boolean;
  readonly log: RequestLogger;
  readonly #runtime: BackgroundTasks;
  readonly #clients: RequestDeps;
  #handedOff: Promise<unknown>[] | undefined;

  constructor(config: Config, env: Bindings, runtime: BackgroundTasks, requestId: string, createDeps: DepsFactory) {
    this.config = config;
    const patterns = config.CORS_ORIGINS;
    this.awaiting = (patterns !== undefined && patterns.length > 0) || config.LOG_LEVEL === "debug";
    this.log = new RequestLogger(config.LOG_LEVEL, requestId);
    this.#runtime = runtime;
    this.#clients = createDeps(config, env, this);
  }

  get deps(): Deps {
    return this.#clients.deps;
  }

  waitUntil(work: Promise<unknown>): void {
    this.#handedOff ??= [];
    this.#handedOff.push(work);
    this.#runtime.waitUntil(work);
  }

  /** After the response: streaming bodies may still be reading, so closing waits in the background. */
  finish(): void {
    const clients = this.#clients;
    const close = () =>
      clients.opened()
        ? clients.close().catch((error: unknown) => this.log.warn("closing clients failed", { error }))
        : undefined;
    if (this.#handedOff) this.#runtime.waitUntil(Promise.allSettled(this.#handedOff).then(close));
    else if (clients.opened()) this.#runtime.waitUntil(close() as Promise<void>);
  }
}
