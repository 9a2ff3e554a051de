import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/** One failed field in a 422 answer. `path` is a JSON-pointer-like dotted path (`body.email`). */
export interface FieldError {
  path: string;
  message: string;
}

export interface ProblemInit {
  status: ContentfulStatusCode;
  /** Short, stable, human title; defaults to the status text. */
  title?: string;
  /** What went wrong for this request. Never upstream text, SQL or secrets. */
  detail?: string;
  /** Stable problem type slug, e.g. `validation-failed`; becomes `/problems/<slug>`. */
  type?: string;
  errors?: FieldError[];
  headers?: Record<string, string>;
  /** The underlying error: logged, never sent to the client. */
  cause?: unknown;
}

const STATUS_TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  411: "Length Required",
  412: "Precondition Failed",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  428: "Precondition Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

export const statusTitle = (status: number): string => STATUS_TITLES[status] ?? "Error";

/**
 * The one error type the service throws on purpose. It is an HTTPException so Hono's own
 * middleware and ours compose, and it carries everything RFC 9457 needs. `app.onError`
 * turns it into `application/problem+json`.
 */
export class ProblemError extends HTTPException {
  readonly title: string;
  readonly type: string;
  readonly detail: string | undefined;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string>;

  constructor(init: ProblemInit) {
    super(init.status, { message: init.detail ?? statusTitle(init.status), cause: init.cause });
    this.name = "ProblemError";
    this.title = init.title ?? statusTitle(init.status);
    this.type = init.type ?? slug(this.title);
    this.detail = init.detail;
    this.errors = init.errors;
    this.headers = init.headers ?? {};
  }
}

const slug = (title: string): string =>
  title
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "");

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  requestId: string;
  errors?: FieldError[];
}

/** Builds the problem+json response. The only place error JSON is shaped. */
export function problemResponse(problem: ProblemError, requestId: string): Response {
  const body: ProblemBody = {
    type: `/problems/${problem.type}`,
    title: problem.title,
    status: problem.status,
    ...(problem.detail !== undefined && { detail: problem.detail }),
    requestId,
    ...(problem.errors !== undefined && { errors: problem.errors }),
  };
  return new Response(JSON.stringify(body), {
    status: problem.status,
    headers: {
      ...problem.headers,
      "Content-Type": "application/problem+json; charset=utf-8",
      "X-Request-Id": requestId,
      "Cache-Control": "no-store",
    },
  });
}

// Shorthands for the problems every feature raises. Each names the situation, not the status.
export const notFound = (detail = "The resource does not exist or is not visible to you.") =>
  new ProblemError({ status: 404, detail });

export const validationFailed = (errors: FieldError[], detail = "The request is not valid.") =>
  new ProblemError({ status: 422, type: "validation-failed", title: "Validation failed", detail, errors });

export const unauthorized = (detail = "A valid bearer token is required.", cause?: unknown) =>
  new ProblemError({
    status: 401,
    detail,
    cause,
    headers: { "WWW-Authenticate": 'Bearer error="invalid_token"' },
  });

export const forbidden = (detail = "Your roles do not allow this.") => new ProblemError({ status: 403, detail });

export const dependencyUnavailable = (dependency: string, cause?: unknown, retryAfterSeconds = 5) =>
  new ProblemError({
    status: 503,
    type: "dependency-unavailable",
    detail: `A service this request needs (${dependency}) is unavailable. Try again shortly.`,
    headers: { "Retry-After": String(retryAfterSeconds) },
    cause,
  });

/**
 * The request body broke off before it was complete: the client went away, or its connection did.
 * Nothing of it was kept. It is the client's doing, so a 400 (that it will rarely see) and an info
 * line in the logs, never an error.
 */
export const incompleteBody = (cause?: unknown) =>
  new ProblemError({
    status: 400,
    type: "incomplete-body",
    title: "Incomplete request body",
    detail: "The request body ended before it was complete (the connection closed or broke); nothing was stored.",
    cause,
  });
