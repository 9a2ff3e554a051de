import type { ErrorHandler, NotFoundHandler } from "hono";
import type { RouterRoute } from "hono/types";
import { TrieRouter } from "hono/router/trie-router";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { AppEnv } from "./app-env.ts";
import { DrizzleQueryError } from "drizzle-orm/errors";
import { ConfigError } from "./config.ts";
import { databaseProblem } from "./database-errors.ts";
import { createLogger } from "../../common/logger.ts";
import { dependencyUnavailable, ProblemError, problemResponse } from "./problem.ts";
import { TimeoutError } from "../../common/timeout.ts";

/** Maps every thrown error to RFC 9457. The only place error responses are made. */
export const onError: ErrorHandler<AppEnv> = (error, c) => {
  const requestId = c.var.requestId ?? crypto.randomUUID();
  const log = c.var.log ?? createLogger("info", { requestId });
  const problem = toProblem(error);
  if (problem.status >= 500) {
    // What is logged is the problem's cause: for mapped errors (config, database) a summary made
    // to be safe to log; the raw error and its stack only when nothing mapped it.
    const unmapped = problem.cause === error;
    log.error(problem.title, {
      error: problem.cause ?? error,
      ...(unmapped && error instanceof Error && error.stack && { stack: error.stack }),
    });
  } else if (problem.type === "incomplete-body") {
    log.info("client went away during the request body", { error: problem.cause });
  }
  return problemResponse(problem, requestId);
};

function toProblem(error: unknown): ProblemError {
  if (error instanceof ProblemError) return error;
  if (error instanceof ConfigError) {
    return new ProblemError({
      status: 500,
      type: "misconfigured",
      detail: "The service is misconfigured. The operator has been told which setting is wrong.",
      cause: error,
    });
  }
  if (error instanceof TimeoutError) return dependencyUnavailable(error.what, error);
  // Its message lists the query parameters (hashes, emails): only a summary may be logged.
  if (error instanceof DrizzleQueryError) return databaseProblem(error);
  if (error instanceof HTTPException) {
    // Hono's own middleware (body limit, validators, 415 from zod-openapi) speak HTTPException.
    const status = error.status as ContentfulStatusCode;
    return new ProblemError({
      status,
      detail: status >= 500 ? undefined : safeMessage(error.message),
      cause: error,
    });
  }
  return new ProblemError({ status: 500, detail: "Something went wrong on our side.", cause: error });
}

// Hono's messages are fixed strings like "Malformed JSON in request body"; anything else is dropped.
const safeMessage = (message: string): string | undefined =>
  message && message.length < 200 && !/[\n{]/.test(message) ? message : undefined;

/** The methods each route pattern answers (GET brings HEAD), built on the first miss. */
function methodsByPattern(routes: readonly RouterRoute[]): TrieRouter<string[]> {
  const byPath = new Map<string, Set<string>>();
  for (const route of routes) {
    if (route.method === "ALL" || route.method === "HEAD") continue;
    const methods = byPath.get(route.path) ?? new Set<string>();
    methods.add(route.method);
    if (route.method === "GET") methods.add("HEAD");
    byPath.set(route.path, methods);
  }
  const router = new TrieRouter<string[]>();
  for (const [path, methods] of byPath) router.add("ALL", path, [...methods]);
  return router;
}

/**
 * No route answered: 405 with `Allow` when the path exists under other methods, else 404. The
 * method check runs here, on a miss, and not as a middleware on every request.
 */
export function notFound(app: { readonly routes: readonly RouterRoute[] }): NotFoundHandler<AppEnv> {
  let methods: TrieRouter<string[]> | undefined;
  return function notFound(c) {
    const requestId = c.var.requestId ?? crypto.randomUUID();
    methods ??= methodsByPattern(app.routes);
    const allowed = new Set<string>();
    for (const [list] of methods.match("ALL", c.req.path)[0]) for (const method of list) allowed.add(method);
    if (allowed.size > 0 && !allowed.has(c.req.method)) {
      const allow = [...allowed].join(", ");
      return problemResponse(
        new ProblemError({
          status: 405,
          detail: `${c.req.method} is not allowed here. Allowed: ${allow}.`,
          headers: { Allow: allow },
        }),
        requestId,
      );
    }
    return problemResponse(
      new ProblemError({ status: 404, detail: `No route matches ${c.req.method} ${c.req.path}.` }),
      requestId,
    );
  };
}
