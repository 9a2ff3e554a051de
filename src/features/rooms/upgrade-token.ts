import { unauthorized } from "../../core/problem.ts";

// RFC 6750 §2.1: the scheme is case-insensitive; one space, then the token68 characters.
const BEARER = /^bearer +([A-Za-z0-9\-._~+/]+=*)\s*$/i;

/**
 * The access token of a WebSocket upgrade: `Authorization: Bearer` when sent (a malformed header is
 * refused, not ignored), else `?token=` because browsers cannot set headers on a WebSocket. The
 * query form is accepted on the upgrade route only (API.md, Conventions).
 */
export function upgradeToken(authorization: string | undefined, queryToken: string | undefined): string | undefined {
  if (authorization !== undefined) {
    const match = BEARER.exec(authorization);
    if (!match?.[1]) throw unauthorized("The Authorization header must be `Bearer <token>`.");
    return match[1];
  }
  return queryToken === "" ? undefined : queryToken;
}
