import type { Result, Router } from "hono/router";
import type { RouterRoute } from "hono/types";
import { RegExpRouter } from "hono/router/reg-exp-router";
import { SmartRouter } from "hono/router/smart-router";
import { TrieRouter } from "hono/router/trie-router";
import { type ChainHandler, fuserOf, isSyncAware } from "./sync-chain.ts";

/** Hono's default: one RegExp for every route, or the trie when a pattern rules the RegExp out. */
const smartRouter = <T>(): Router<T> => new SmartRouter<T>({ routers: [new RegExpRouter(), new TrieRouter()] });

/** Where a match result keeps what it fused into (see PrefixRouter#fused). */
const FUSED = Symbol("fused match");

/** `/v1/assets` holds `/v1/assets/x` and `/v1/assets` itself, not `/v1/assetsx`. */
const isUnder = (path: string, prefix: string): boolean =>
  path.startsWith(prefix) && (path.length === prefix.length || path.charCodeAt(prefix.length) === 47);

/** The literal start of a route pattern: everything before its first parameter or wildcard. */
function literalLead(pattern: string): string {
  const at = pattern.search(/[:*]/);
  return at === -1 ? pattern : pattern.slice(0, at);
}

/**
 * One router per mount prefix (and one for every other path), each Hono's own RegExp-or-trie choice.
 *
 * Why: Hono's RegExpRouter, by far the fastest matcher (tens of ns against microseconds for the
 * trie), refuses a literal and a parameter side by side at one position under one method
 * (`POST /v1/assets/uploads` next to `POST /v1/assets/:id/complete`), and then the whole app falls
 * back to the trie. Split by prefix, such a pair only costs its own feature the trie, and the hot
 * reads (`/healthz`, `/v1/auth/me`, `/v1/settings`) keep the RegExp. A route that could match under
 * several parts (the global middleware, `/*`) is added to each, in registration order, so every part
 * answers exactly what one router over all routes would.
 */
export class PrefixRouter<T> implements Router<T> {
  readonly name = "PrefixRouter";
  readonly #prefixes: readonly string[];
  readonly #parts: Router<T>[];
  readonly #rest: Router<T> = smartRouter();

  /** `prefixes`: literal path prefixes without a trailing slash ("/v1/assets"). */
  constructor(prefixes: readonly string[]) {
    for (const prefix of prefixes) {
      if (!/^\/[^:*]*[^/:*]$/.test(prefix))
        throw new Error(`PrefixRouter: "${prefix}" must be a literal path like /v1/assets`);
    }
    // Longest first, so a nested prefix wins over its parent.
    this.#prefixes = [...prefixes].sort((a, b) => b.length - a.length);
    this.#parts = this.#prefixes.map(() => smartRouter());
  }

  add(method: string, path: string, handler: T): void {
    const lead = literalLead(path);
    let within = false;
    for (let i = 0; i < this.#prefixes.length; i++) {
      const prefix = this.#prefixes[i] as string;
      // A literal path under the prefix, or a pattern whose literal start already is.
      if (lead === path ? isUnder(path, prefix) : lead.startsWith(`${prefix}/`)) {
        // Wholly inside this prefix (a longer prefix listed earlier took it already if it nests).
        if (!within) (this.#parts[i] as Router<T>).add(method, path, handler);
        within = true;
      } else if (prefix.startsWith(lead)) {
        // The literal part stops before the prefix does: the pattern may match paths under it.
        (this.#parts[i] as Router<T>).add(method, path, handler);
      }
    }
    if (!within) this.#rest.add(method, path, handler);
  }

  match(method: string, path: string): Result<T> {
    const prefixes = this.#prefixes;
    for (let i = 0; i < prefixes.length; i++) {
      if (isUnder(path, prefixes[i] as string)) return this.#fused((this.#parts[i] as Router<T>).match(method, path));
    }
    return this.#fused(this.#rest.match(method, path));
  }

  /** Fused chains by their last handler (the route's), with the handlers they were built from. */
  readonly #chains = new WeakMap<
    ChainHandler,
    { frame: ChainHandler; handlers: readonly ChainHandler[]; fused: ChainHandler }
  >();

  /**
   * A match of [request frame, ...sync-aware middleware of one route, that route's handler] as one
   * handler (sync-chain.ts), which Hono then calls without compose(). It carries the route's own
   * entry (its RouterRoute and parameters), so c.req.param() and c.req.routePath read as they would
   * in the route's handler. Anything else is returned as matched.
   */
  #fused(result: Result<T>): Result<T> {
    // A static path's match is the same array every time (RegExpRouter's static map): what it fused
    // into is kept on it, so such a request pays one property read.
    const known = (result as unknown as Record<symbol, Result<T> | undefined>)[FUSED];
    if (known !== undefined) return known;
    const fused = this.#fuse(result);
    // A router that handed out a frozen result (none of Hono's do) just pays the fusing each time.
    if (Object.isExtensible(result)) (result as unknown as Record<symbol, Result<T>>)[FUSED] = fused;
    return fused;
  }

  #fuse(result: Result<T>): Result<T> {
    const matched = result[0] as unknown as Array<[[ChainHandler, RouterRoute], unknown]>;
    const count = matched.length;
    if (count < 2) return result;
    const frame = (matched[0] as [[ChainHandler, RouterRoute], unknown])[0][0];
    const fuse = fuserOf(frame);
    if (!fuse) return result;
    const last = matched[count - 1] as [[ChainHandler, RouterRoute], unknown];
    const [handler, route] = last[0];
    let chain = this.#chains.get(handler);
    if (!chain || chain.frame !== frame || !sameHandlers(chain.handlers, matched)) {
      const handlers: ChainHandler[] = [];
      for (let i = 1; i < count; i++) {
        const [fn, own] = (matched[i] as [[ChainHandler, RouterRoute], unknown])[0];
        // Middleware of the same route only (so the route's parameters are theirs too), and sync-aware.
        if (i < count - 1 && (!isSyncAware(fn) || own.path !== route.path || own.method !== route.method)) {
          return result;
        }
        handlers.push(fn);
      }
      chain = { frame, handlers, fused: fuse(handlers) };
      this.#chains.set(handler, chain);
    }
    const one = [[[chain.fused, route], last[1]]];
    return (result.length > 1 ? [one, result[1]] : [one]) as unknown as Result<T>;
  }
}

/** True when `matched` is [frame, ...handlers] with exactly these handlers after the frame. */
function sameHandlers(
  handlers: readonly ChainHandler[],
  matched: ReadonlyArray<[[ChainHandler, RouterRoute], unknown]>,
) {
  if (handlers.length !== matched.length - 1) return false;
  for (let i = 0; i < handlers.length; i++) {
    if (handlers[i] !== (matched[i + 1] as [[ChainHandler, RouterRoute], unknown])[0][0]) return false;
  }
  return true;
}
