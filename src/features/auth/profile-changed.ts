import { forgetProfile } from "./profile-cache.ts";
import type { AuthContext } from "./service.ts";

/**
 * After an account's profile changed in Postgres (verified address, reset password, disabled or
 * enabled): whatever serves `/v1/auth/me` from a copy must stop serving the old one. The one place
 * the account routes of issue #15 say so, whatever that copy is.
 */
export const profileChanged = (ctx: AuthContext, userId: string): Promise<void> =>
  forgetProfile(ctx.deps, ctx.config, ctx.log, userId);
