import type { AuthSession, FetchLike } from "./auth-session.ts";
import { apiErrorFrom } from "./errors.ts";

/** A body that can be sent twice (a stream cannot): only such requests are retried after a refresh. */
const replayable = (input: string | URL | Request, init: RequestInit | undefined): boolean =>
  !(init?.body instanceof ReadableStream) && !(input instanceof Request && input.body !== null && !init?.body);

/**
 * fetch with the session's bearer token. A 401 to a request that carried a token gets one more
 * try with a refreshed token (another tab's, or a new rotation). Any answer of 400 or more is
 * thrown as an ApiError carrying the problem's status, title, detail and requestId.
 */
export function authedFetch(session: AuthSession, baseFetch: FetchLike): FetchLike {
  const send = (input: string | URL | Request, init: RequestInit | undefined, token: string | null) => {
    const request = new Request(input, init);
    if (token) request.headers.set("Authorization", `Bearer ${token}`);
    return baseFetch(request);
  };
  return async (input, init) => {
    // A caller's own Authorization wins, and then a refresh of ours would not help it.
    const own = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined)).has(
      "Authorization",
    );
    if (own) {
      const res = await baseFetch(input, init);
      if (res.status >= 400) throw await apiErrorFrom(res);
      return res;
    }
    const token = await session.getAccessToken();
    let res = await send(input, init, token);
    if (res.status === 401 && token && replayable(input, init)) {
      const fresh = await session.tokenAfterRejection(token);
      if (fresh && fresh !== token) {
        await res.body?.cancel();
        res = await send(input, init, fresh);
      }
    }
    if (res.status >= 400) throw await apiErrorFrom(res);
    return res;
  };
}
