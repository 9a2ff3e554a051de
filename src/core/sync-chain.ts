import type { Context, MiddlewareHandler } from "hono";

/*
 * Hono runs a matched route's handlers through compose(): every step is an async function, so a
 * request that waits on nothing (/healthz, /me from a cached token) still pays a promise, a closure
 * and a microtask per layer, and @hono/node-server, handed a promise, awaits it and adds a close
 * listener instead of writing the response at once. Hono skips compose only when one handler matched.
 *
 * So the request frame (middleware.ts) and the auth guards (features/auth/guards.ts) are written to
 * be "sync-aware": each returns what next() returned when that is not a promise, and otherwise a
 * promise, so they also run unchanged under compose. When a route's chain is the frame, sync-aware
 * middleware of that route and its handler, PrefixRouter (prefix-router.ts) hands Hono one handler
 * that runs the same chain (`fuse`): synchronous end to end when every step is, with compose()'s
 * semantics (a step's Response finalises the context unless one already did; an Error becomes
 * onError's answer where it was thrown, so the frame's own work, CORS headers included, still sees it).
 */

/** Marks a middleware that returns next()'s result itself (or a promise of it) and nothing else. */
export const SYNC_AWARE: unique symbol = Symbol("sync-aware middleware");
/** The request frame's fuser: given the handlers after it, one handler running them all. */
export const FUSE: unique symbol = Symbol("request frame fuser");

// Handlers as the router stores them: compose()'s loose signature.
export type ChainHandler = (c: Context, next: () => unknown) => unknown;
export type Fuser = (handlers: readonly ChainHandler[]) => ChainHandler;

/** `fn`, marked sync-aware. It must return next()'s result (or a promise settling after it) and never a Response. */
export function syncAware<F extends ChainHandler>(fn: F): F & MiddlewareHandler {
  (fn as unknown as Record<symbol, unknown>)[SYNC_AWARE] = true;
  return fn as F & MiddlewareHandler;
}

export const isSyncAware = (fn: unknown): boolean =>
  typeof fn === "function" && (fn as unknown as Record<symbol, unknown>)[SYNC_AWARE] === true;

export const fuserOf = (fn: unknown): Fuser | undefined =>
  typeof fn === "function" ? ((fn as unknown as Record<symbol, unknown>)[FUSE] as Fuser | undefined) : undefined;

const noop = (): void => {};

/** Undefined, or a promise settling (to undefined) with `out`: what a sync-aware middleware returns. */
export const afterNext = (out: unknown): undefined | Promise<void> =>
  out instanceof Promise ? out.then(noop) : undefined;

/** compose(): a step's result finalises the context unless a step already did. */
function settle(c: Context, res: unknown): void {
  if (res && c.finalized === false) c.res = res as Response;
}

/** compose() past the last handler: the app's not-found answer, unless a handler answered. */
async function pastTheEnd(c: Context): Promise<void> {
  if (c.finalized === false) settle(c, await c.notFound());
}

/**
 * handlers[i..] under compose()'s semantics, synchronously while every step is; errors propagate.
 * Every handler but the last is sync-aware (PrefixRouter fuses no other chain), so only the last
 * one's result can be a Response: the others' are passed on as they are, without a settling step.
 */
export function runChain(c: Context, handlers: readonly ChainHandler[], i: number): void | Promise<void> {
  const handler = handlers[i] as ChainHandler;
  if (i + 1 < handlers.length) return handler(c, () => runChain(c, handlers, i + 1)) as void | Promise<void>;
  const res = handler(c, () => pastTheEnd(c));
  if (res instanceof Promise) return res.then((r) => settle(c, r));
  settle(c, res);
}

/** compose()'s catch: an Error becomes `onError`'s answer (it replaces whatever answer there was). */
export function answerError(
  c: Context,
  error: unknown,
  onError: (error: Error, c: Context) => Response | Promise<Response>,
): void | Promise<void> {
  if (!(error instanceof Error)) throw error;
  c.error = error;
  const res = onError(error, c);
  if (res instanceof Promise) {
    return res.then((r) => {
      c.res = r;
    });
  }
  c.res = res;
}

/** Hono's own check after compose(). */
export function finalResponse(c: Context): Response {
  if (!c.finalized) {
    throw new Error("Context is not finalized. Did you forget to return a Response object or `await next()`?");
  }
  return c.res;
}
