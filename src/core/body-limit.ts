import { bodyLimit } from "hono/body-limit";
import { ProblemError } from "./problem.ts";

/** The largest JSON body any route accepts (a setting value is at most 64 KiB serialized). */
export const MAX_JSON_BODY_BYTES = 256 * 1024;

/**
 * Refuses JSON bodies over `maxBytes` with a 413 problem, counting the stream (not only
 * Content-Length, which a client can omit). Raw uploads use their own streaming limit instead.
 */
export const jsonBodyLimit = (maxBytes = MAX_JSON_BODY_BYTES) =>
  bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new ProblemError({ status: 413, detail: `The body is larger than ${maxBytes} bytes.` });
    },
  });
