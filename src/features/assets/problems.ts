import { ProblemError } from "../../core/problem.ts";
import type { UploadLimits } from "./limits.ts";

// The assets feature's own problems; the shared ones (notFound, validationFailed, ...) are in core/problem.ts.

export const conflict = (detail: string) => new ProblemError({ status: 409, detail });

export const lengthRequired = () =>
  new ProblemError({
    status: 411,
    detail: "Send the body with a Content-Length header (chunked uploads are not accepted).",
  });

export const tooLarge = (limits: UploadLimits) =>
  new ProblemError({ status: 413, detail: `Uploads are limited to ${limits.maxBytes} bytes.` });

export const unsupportedType = (contentType: string | null) =>
  new ProblemError({
    status: 415,
    detail: contentType
      ? `${contentType} is not an accepted upload type.`
      : "A Content-Type (type/subtype) is required.",
  });

export const lengthMismatch = (declared: number, kind: "longer" | "shorter") =>
  new ProblemError({
    status: 400,
    type: "length-mismatch",
    detail: `The body is ${kind} than its Content-Length (${declared} bytes); nothing was stored.`,
  });

export const typeMismatch = (contentType: string) =>
  new ProblemError({
    status: 415,
    type: "content-mismatch",
    detail: `The body's first bytes are not those of ${contentType}; nothing was stored.`,
  });
