import type { ErrorHandler, NotFoundHandler } from "hono";
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

export const onNotFound: NotFoundHandler<AppEnv> = (c) =>
  problemResponse(
    new ProblemError({ status: 404, detail: `No route matches ${c.req.method} ${c.req.path}.` }),
    c.var.requestId ?? crypto.randomUUID(),
  );
