import { ProblemError } from "../../core/problem.ts";
import { MAX_SETTINGS, type StoredSetting } from "./model.ts";

// The settings feature's own problems; the shared ones (notFound, validationFailed, ...) are in core/problem.ts.

export const preconditionRequired = (detail: string) =>
  new ProblemError({ status: 428, type: "precondition-required", detail });

export const preconditionFailed = (current: StoredSetting | null) =>
  new ProblemError({
    status: 412,
    type: "precondition-failed",
    detail: current
      ? `The setting is at version ${current.version}; fetch it again and retry with If-Match: "${current.version}".`
      : "The setting does not exist (use If-None-Match: * to create it) or changed concurrently.",
  });

export const tooManySettings = () =>
  new ProblemError({ status: 409, detail: `There are already ${MAX_SETTINGS} settings, the most allowed.` });
