import { readBearer } from "../auth/authenticate.ts";

/**
 * The access token of a WebSocket upgrade: `Authorization: Bearer` when sent (a malformed header is
 * refused, not ignored), else `?token=` because browsers cannot set headers on a WebSocket. The
 * query form is accepted on the upgrade route only (API.md, Conventions).
 */
export function upgradeToken(authorization: string | undefined, queryToken: string | undefined): string | undefined {
  if (authorization !== undefined) return readBearer(authorization);
  return queryToken === "" ? undefined : queryToken;
}
