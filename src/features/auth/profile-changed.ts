import type { AuthContext } from "./model.ts";

/**
 * After an account's profile changed in Postgres (verified address, reset password, disabled or
 * enabled): whatever serves `/v1/auth/me` from a copy must stop serving the old one. The one place
 * the account routes of issue #15 say so, whatever that copy is.
 *
 * Since issue #16 the only copy is the access token itself: `/v1/auth/me` answers from its claims, and
 * the next sign-in or refresh mints them from the row (within one access-token lifetime; at once with
 * `?fresh=true`). There is no server-side copy to drop, so this has nothing to do; it stays the one
 * hook a future copy would use.
 */
export const profileChanged = (_ctx: AuthContext, _userId: string): Promise<void> => Promise.resolve();
