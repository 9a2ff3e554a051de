import type { Context, TypedResponse } from "hono";
import type { ContentfulStatusCode, StatusCode } from "hono/utils/http-status";
import type { JSONParsed } from "hono/utils/types";
import type { AppEnv } from "./app-env.ts";

/*
 * Every answer carries `X-Request-Id`. The request frame stamps it on the final response
 * (stampRequestId, below), except on the responses built here: the hot reads (/healthz, /me, the
 * settings reads) build their Response in one step from a plain header record, the id included.
 *
 * Why not c.json(): Hono collects two or more headers in a `Headers` object, and @hono/node-server
 * then turns it back into a record (validating and sorting every name) before it writes the head,
 * while workerd crosses into the runtime once per header set. From a record, node-server writes the
 * head straight from it and workerd builds the headers in one call (BENCHMARKS.md, "fourth session").
 */
// The response `respond` built for a context, kept on the context itself (a WeakSet of responses
// costs the garbage collector more, for every request, than one property).
const RESPONDED: unique symbol = Symbol("responded");
type Marked = Context<AppEnv> & { [RESPONDED]?: Response };

/** Header names as the runtimes print them (lowercase), so a record and a `Headers` answer read the same. */
export type HeaderRecord = Readonly<Record<string, string>>;

/** A body (or none) with `headers` and the request id, in one step. */
export function respond(c: Context<AppEnv>, body: string | null, status: StatusCode, headers: HeaderRecord): Response {
  const res = new Response(body, { status, headers: { ...headers, "x-request-id": c.get("requestId") } });
  (c as Marked)[RESPONDED] = res;
  return res;
}

/** `c.json(value, status, headers)` built as `respond` builds it, typed as c.json types it. */
export function respondJson<T, S extends ContentfulStatusCode>(
  c: Context<AppEnv>,
  value: T,
  status: S,
  headers: HeaderRecord,
): Response & TypedResponse<JSONParsed<T>, S, "json"> {
  return respond(c, JSON.stringify(value), status, { "content-type": "application/json", ...headers }) as Response &
    TypedResponse<JSONParsed<T>, S, "json">;
}

/**
 * The frame's last step: the request id on the final response, unless `respond` built it. A response
 * whose headers cannot change (one passed through from fetch) is copied once; a 101 carries the
 * WebSocket itself and is left as it is.
 */
export function stampRequestId(c: Context<AppEnv>): void {
  // Nothing answered (a bug Hono reports itself): reading c.res would make up an empty 200.
  if (!c.finalized) return;
  const res = c.res;
  if ((c as Marked)[RESPONDED] === res || res.status === 101) return;
  const id = c.get("requestId");
  try {
    res.headers.set("x-request-id", id);
  } catch {
    c.res = new Response(res.body, res);
    c.res.headers.set("x-request-id", id);
  }
}
