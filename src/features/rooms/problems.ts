import { ProblemError } from "../../core/problem.ts";

// The rooms feature's own problems; the shared ones (notFound, forbidden, unauthorized, ...) are in core/problem.ts.

/** The connect route answered a plain request: it only upgrades. */
export const upgradeRequired = () =>
  new ProblemError({
    status: 426,
    title: "Upgrade Required",
    detail: "This route is a WebSocket upgrade.",
    headers: { Upgrade: "websocket" },
  });

/** A connect refused for now: the client may retry in a few seconds. */
const RETRY_SOON = { "Retry-After": "5" };

export const tooManyConnections = () =>
  new ProblemError({ status: 429, detail: "You have too many connections to this room.", headers: RETRY_SOON });

const unavailable = (type: string, detail: string) =>
  new ProblemError({ status: 503, type, detail, headers: RETRY_SOON });

export const roomFull = () => unavailable("room-full", "The room is at its connection limit. Try again shortly.");

/** The room object refused a connect for a reason of its own (or none): realtime is unavailable. */
export const roomRefused = () =>
  unavailable("dependency-unavailable", "A service this request needs (realtime) is unavailable. Try again shortly.");

export const publishTooLarge = (maxBytes: number) =>
  new ProblemError({ status: 413, detail: `Published data is limited to ${maxBytes} bytes serialized.` });

export const publishingTooFast = (retryAfterMs: number) =>
  new ProblemError({
    status: 429,
    detail: "Publishing too fast.",
    headers: { "Retry-After": String(Math.max(1, Math.ceil(retryAfterMs / 1000))) },
  });
