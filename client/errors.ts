/**
 * What the SDK throws when the service (or the bucket) answers with an error. The service's errors
 * are RFC 9457 problems; their fields are copied here so an app can branch on `status` and show
 * `detail`, and quote `requestId` in a bug report.
 */
export interface ProblemField {
  path: string;
  message: string;
}

export class ApiError extends Error {
  readonly status: number;
  readonly title: string;
  readonly detail: string | undefined;
  /** The service's X-Request-Id for this answer (undefined for answers that did not come from it). */
  readonly requestId: string | undefined;
  /** The problem type, e.g. `about:blank` or `misconfigured`. */
  readonly type: string;
  /** Validation failures (422): which field, and why. */
  readonly errors: ProblemField[] | undefined;
  /** Seconds to wait before retrying (429, 503), from Retry-After. */
  readonly retryAfter: number | undefined;

  constructor(init: {
    status: number;
    title: string;
    detail?: string | undefined;
    requestId?: string | undefined;
    type?: string | undefined;
    errors?: ProblemField[] | undefined;
    retryAfter?: number | undefined;
  }) {
    super(init.detail ? `${init.title}: ${init.detail}` : init.title);
    this.name = "ApiError";
    this.status = init.status;
    this.title = init.title;
    this.detail = init.detail;
    this.requestId = init.requestId;
    this.type = init.type ?? "about:blank";
    this.errors = init.errors;
    this.retryAfter = init.retryAfter;
  }
}

const text = (value: unknown): string | undefined => (typeof value === "string" && value !== "" ? value : undefined);

function fieldsOf(value: unknown): ProblemField[] | undefined {
  if (!Array.isArray(value)) return undefined;
  return value
    .filter((e): e is Record<string, unknown> => typeof e === "object" && e !== null)
    .map((e) => ({ path: String(e.path ?? ""), message: String(e.message ?? "") }));
}

/** Reads an error answer into an ApiError: the problem body when there is one, else the status line. */
export async function apiErrorFrom(response: Response): Promise<ApiError> {
  const retryAfterHeader = Number(response.headers.get("Retry-After"));
  const retryAfter = Number.isFinite(retryAfterHeader) && retryAfterHeader >= 0 ? retryAfterHeader : undefined;
  const headerId = response.headers.get("X-Request-Id") ?? undefined;
  const type = response.headers.get("Content-Type") ?? "";
  let body: Record<string, unknown> = {};
  if (/json/i.test(type)) {
    try {
      const parsed = (await response.json()) as unknown;
      if (typeof parsed === "object" && parsed !== null) body = parsed as Record<string, unknown>;
    } catch {
      // Not the JSON it claimed to be: the status line is all we have.
    }
  } else {
    await response.body?.cancel().catch(() => {});
  }
  return new ApiError({
    status: response.status,
    title: text(body.title) ?? (response.statusText || `HTTP ${response.status}`),
    detail: text(body.detail),
    requestId: text(body.requestId) ?? headerId,
    type: text(body.type),
    errors: fieldsOf(body.errors),
    retryAfter,
  });
}
