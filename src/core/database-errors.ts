import { DrizzleQueryError } from "drizzle-orm/errors";
import { dependencyUnavailable, ProblemError } from "./problem.ts";
import { withTimeout } from "../../common/timeout.ts";

// A Postgres server error carries a five-character SQLSTATE; a connection failure does not.
const SQLSTATE = /^[0-9A-Z]{5}$/;

const sqlStateOf = (error: unknown): string | undefined => {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && SQLSTATE.test(code) ? code : undefined;
};

/**
 * Runs database work, turning its errors into the problems of databaseProblem (unreachable or timed
 * out: 503). The raw error never travels on: drizzle's DrizzleQueryError message lists the query
 * parameters, which here include password and token hashes, so only a name and SQLSTATE are kept as
 * the (logged) cause. With `timeoutMs`, work still running then is given up on (a 503).
 */
export async function withDatabase<T>(work: () => Promise<T>, options?: { timeoutMs?: number }): Promise<T> {
  try {
    const timeoutMs = options?.timeoutMs;
    return await (timeoutMs === undefined ? work() : withTimeout("postgres", timeoutMs, work()));
  } catch (error) {
    if (error instanceof ProblemError) throw error;
    throw databaseProblem(error);
  }
}

/**
 * The problem for a database error, wherever it is caught: SQLSTATE class 22 (data exception: a
 * value out of range, text Postgres cannot store, a malformed literal) is the request's fault and
 * can never succeed on retry, so 422; classes 08, 53 and 57 (the server cannot serve now) are a 503;
 * a unique or foreign-key violation (23505, 23503) is a 409; any other SQLSTATE is a 500; no SQLSTATE at all means
 * Postgres is unreachable or timed out (503 with Retry-After). Only the name and SQLSTATE are kept.
 */
export function databaseProblem(error: unknown): ProblemError {
  const inner = error instanceof DrizzleQueryError ? error.cause : error;
  const code = sqlStateOf(inner);
  const summary = {
    name: inner instanceof Error ? inner.name : ((inner as object | null)?.constructor?.name ?? typeof inner),
    ...(code && { sqlState: code }),
  };
  // Connection exceptions (08), insufficient resources (53: too many connections, out of memory or
  // disk) and operator intervention (57: shutting down, cannot connect now): the server is there but
  // cannot serve now, which a retry may fix.
  if (code && /^(08|53|57)/.test(code)) return dependencyUnavailable("postgres", summary);
  if (code?.startsWith("22"))
    return new ProblemError({
      status: 422,
      type: "unprocessable-value",
      title: "Unprocessable value",
      detail: "A value in this request is out of the range or form the database accepts.",
      cause: summary,
    });
  // A unique or foreign-key violation that reached here lost a race with another write (the row it
  // names was just taken or removed): the request conflicts with the current state.
  if (code === "23505" || code === "23503")
    return new ProblemError({
      status: 409,
      detail: "The request conflicts with a change made at the same time; reload and try again.",
      cause: summary,
    });
  if (code) return new ProblemError({ status: 500, detail: "Something went wrong on our side.", cause: summary });
  return dependencyUnavailable("postgres", summary);
}
