import { DrizzleQueryError } from "drizzle-orm/errors";
import { dependencyUnavailable, ProblemError } from "./problem.ts";

// A Postgres server error carries a five-character SQLSTATE; a connection failure does not.
const SQLSTATE = /^[0-9A-Z]{5}$/;

const sqlStateOf = (error: unknown): string | undefined => {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && SQLSTATE.test(code) ? code : undefined;
};

/**
 * Runs database work, turning "Postgres is unreachable" into a 503 problem. The raw error never
 * travels on: drizzle's DrizzleQueryError message lists the query parameters, which here include
 * password and token hashes, so only a name and SQLSTATE are kept as the (logged) cause.
 */
export async function withDatabase<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof ProblemError) throw error;
    throw databaseProblem(error);
  }
}

/**
 * The problem for a database error that reached the error handler: a server error (SQLSTATE) is
 * a 500, anything else means Postgres is unreachable (503). Only the name and SQLSTATE are kept.
 */
export function databaseProblem(error: unknown): ProblemError {
  const inner = error instanceof DrizzleQueryError ? error.cause : error;
  const code = sqlStateOf(inner);
  const summary = {
    name: inner instanceof Error ? inner.name : ((inner as object | null)?.constructor?.name ?? typeof inner),
    ...(code && { sqlState: code }),
  };
  if (code) return new ProblemError({ status: 500, detail: "Something went wrong on our side.", cause: summary });
  return dependencyUnavailable("postgres", summary);
}
