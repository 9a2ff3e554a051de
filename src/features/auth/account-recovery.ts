import { and, eq, isNull, sql } from "drizzle-orm";
import type { MailMessage } from "../../adapters/mail.ts";
import { createPostgres } from "../../adapters/postgres.ts";
import { withDatabase } from "../../core/database-errors.ts";
import type { Principal } from "../../core/principal.ts";
import { unauthorized } from "../../core/problem.ts";
import { users } from "../../db/schema.ts";
import { passwordResetMail, verificationMail } from "./auth-mails.ts";
import { normaliseEmail } from "./email.ts";
import {
  findLiveMailToken,
  issueMailTokenForEmail,
  isMailTokenShape,
  type MailTokenPurpose,
  spendAllMailTokens,
  spendMailToken,
} from "./mail-tokens.ts";
import { hashPassword, verifyPassword } from "./password.ts";
import { profileChanged } from "./profile-changed.ts";
import { invalidMailToken, wrongCurrentPassword } from "./problems.ts";
import { AUTH_RATE_LIMITS, enforceRateLimits } from "./rate-limit.ts";
import { announceRevokedSessions } from "./revocation.ts";
import type { AuthContext } from "./model.ts";
import { limitClientAndAccount, linkBaseOf, liveSince, mailOf } from "./service.ts";
import { revokeAllSessions } from "./sessions.ts";
import { findUserById } from "./users.ts";

/**
 * Password reset, email verification and password change: everything that proves an account by a
 * mailed token or by its current password. The mailed tokens: mail-tokens.ts.
 */

/** Limits for the routes that send mail: per client and per address, refused when Redis is down. */
async function limitMailRequest(ctx: AuthContext, email: string, kind: "reset" | "verify"): Promise<void> {
  const limits = kind === "reset" ? AUTH_RATE_LIMITS.passwordForgot : AUTH_RATE_LIMITS.verification;
  await limitClientAndAccount(ctx, limits, email);
}

const limitTokenSpend = (ctx: AuthContext): Promise<void> =>
  enforceRateLimits(ctx, [{ rule: AUTH_RATE_LIMITS.mailToken.perClient, identifier: ctx.client }], "refuse");

/**
 * Issues a token for `email` and mails it, all after the response: the answer (202) then does the
 * same work for every address (the rate limits), so neither its body nor its timing says whether
 * an account exists. The request's Postgres pool is closed once the response is out, so this
 * opens its own. Failures are logged, never the token.
 */
function mailTokenAfterResponse(
  ctx: AuthContext,
  purpose: MailTokenPurpose,
  email: string,
  compose: (to: string, linkBase: string, token: string) => MailMessage,
): void {
  const mailer = mailOf(ctx);
  const linkBase = linkBaseOf(ctx);
  if (!linkBase) return;
  const work = async (): Promise<void> => {
    await new Promise((resolve) => setTimeout(resolve, 0));
    const pg = createPostgres({
      url: ctx.config.DATABASE_URL,
      wsProxy: ctx.config.DATABASE_WS_PROXY,
      timeoutMs: ctx.config.DATABASE_TIMEOUT_MS,
    });
    try {
      const issued = await issueMailTokenForEmail(pg.db, purpose, email);
      if (issued) await mailer.send(compose(email, linkBase, issued.token));
    } catch (error) {
      ctx.log.error("issuing or sending an auth mail failed", { purpose, error });
    } finally {
      await pg.close().catch(() => {});
    }
  };
  ctx.deps.background.waitUntil(work());
}

/** POST /v1/auth/password/forgot: 202 for every address; a reset link only to an enabled account. */
export async function forgotPassword(ctx: AuthContext, rawEmail: string): Promise<void> {
  const email = normaliseEmail(rawEmail);
  await limitMailRequest(ctx, email, "reset");
  mailTokenAfterResponse(ctx, "password-reset", email, passwordResetMail);
}

/**
 * POST /v1/auth/password/reset. Spends the token, sets the password, kills the other reset links
 * and revokes every session, in one transaction (nothing half-changed); then closes the sessions'
 * sockets and lists them as revoked. The mail proved the address, so it also counts as verified.
 */
export async function resetPassword(ctx: AuthContext, input: { token: string; password: string }): Promise<void> {
  await limitTokenSpend(ctx);
  if (!isMailTokenShape(input.token)) throw invalidMailToken();
  // A bad token is refused before the (deliberately slow) hash; the spend below re-checks atomically.
  if (!(await findLiveMailToken(ctx.deps.db, "password-reset", input.token))) throw invalidMailToken();
  const passwordHash = await hashPassword(input.password);
  const now = new Date();
  const { userId, sessions } = await withDatabase(() =>
    ctx.deps.db.transaction(async (tx) => {
      const holder = await spendMailToken(tx, "password-reset", input.token, now);
      if (!holder) throw invalidMailToken();
      const [user] = await tx
        .update(users)
        .set({
          passwordHash,
          updatedAt: now,
          emailVerifiedAt: sql`coalesce(${users.emailVerifiedAt}, case when ${users.email} = ${holder.email} then now() end)`,
        })
        .where(and(eq(users.id, holder.userId), isNull(users.disabledAt)))
        .returning({ id: users.id });
      if (!user) throw invalidMailToken();
      await spendAllMailTokens(tx, "password-reset", user.id, now);
      return { userId: user.id, sessions: await revokeAllSessions(tx, user.id, liveSince(ctx.config), now) };
    }),
  );
  ctx.log.info("password reset: every session revoked", { userId, sessions: sessions.length });
  await profileChanged(ctx, userId);
  await announceRevokedSessions(ctx.deps, ctx.config, ctx.log, sessions);
}

/** POST /v1/auth/email/verification: 202 for every address; a link only to an unverified account. */
export async function requestEmailVerification(ctx: AuthContext, rawEmail: string): Promise<void> {
  const email = normaliseEmail(rawEmail);
  await limitMailRequest(ctx, email, "verify");
  mailTokenAfterResponse(ctx, "email-verification", email, verificationMail);
}

/**
 * POST /v1/auth/email/verify. Spends the token and marks the address verified, if it is still the
 * account's address. Access tokens carry `email_verified` from their next refresh on.
 */
export async function confirmEmail(ctx: AuthContext, token: string): Promise<void> {
  await limitTokenSpend(ctx);
  if (!isMailTokenShape(token)) throw invalidMailToken();
  const now = new Date();
  const userId = await withDatabase(() =>
    ctx.deps.db.transaction(async (tx) => {
      const holder = await spendMailToken(tx, "email-verification", token, now);
      if (!holder) throw invalidMailToken();
      const [user] = await tx
        .update(users)
        .set({
          emailVerifiedAt: sql`coalesce(${users.emailVerifiedAt}, ${now.toISOString()}::timestamptz)`,
          updatedAt: now,
        })
        .where(and(eq(users.id, holder.userId), eq(users.email, holder.email)))
        .returning({ id: users.id });
      if (!user) throw invalidMailToken();
      await spendAllMailTokens(tx, "email-verification", user.id, now);
      return user.id;
    }),
  );
  await profileChanged(ctx, userId);
}

/**
 * POST /v1/auth/password/change. Needs the current password (limited like login, per account);
 * every other session is revoked, the caller's own stays signed in. The update only applies if the
 * hash is still the one that was checked, so a concurrent reset is not overwritten.
 */
export async function changePassword(
  ctx: AuthContext,
  principal: Principal,
  input: { currentPassword: string; newPassword: string },
): Promise<void> {
  const perAccount = AUTH_RATE_LIMITS.passwordChange.perAccount;
  await enforceRateLimits(ctx, [{ rule: perAccount, identifier: principal.userId }], "refuse");
  const user = await findUserById(ctx.deps.db, principal.userId);
  if (!user || user.disabledAt) throw unauthorized("The account no longer exists or is disabled.");
  const check = await verifyPassword(input.currentPassword, user.passwordHash);
  if (!check.ok) throw wrongCurrentPassword();
  const passwordHash = await hashPassword(input.newPassword);
  const now = new Date();
  const sessions = await withDatabase(() =>
    ctx.deps.db.transaction(async (tx) => {
      const [changed] = await tx
        .update(users)
        .set({ passwordHash, updatedAt: now })
        .where(and(eq(users.id, user.id), eq(users.passwordHash, user.passwordHash)))
        .returning({ id: users.id });
      if (!changed) throw wrongCurrentPassword();
      await spendAllMailTokens(tx, "password-reset", user.id, now);
      return revokeAllSessions(tx, user.id, liveSince(ctx.config), now, principal.sessionId);
    }),
  );
  ctx.log.info("password changed: other sessions revoked", { userId: user.id, sessions: sessions.length });
  await announceRevokedSessions(ctx.deps, ctx.config, ctx.log, sessions);
}
