import type { Config } from "../../core/config.ts";
import { notFound, unauthorized } from "../../core/problem.ts";
import type { Principal } from "../../core/principal.ts";
import { CLOCK_SKEW_SECONDS, issueAccessToken } from "./access-token.ts";
import { normaliseEmail } from "./email.ts";
import { burnPasswordCheck, hashPassword, verifyPassword } from "./password.ts";
import { accountDisabled, emailNotVerified, emailTaken, invalidCredentials, invalidRefreshToken } from "./problems.ts";
import { accountIdentifier, AUTH_RATE_LIMITS, enforceRateLimits, type RateRule } from "./rate-limit.ts";
import { announceRevokedSessions } from "./revocation.ts";
import { revokeAllSessions, revokeSessionOfToken, rotateRefreshToken, type Session, startSession } from "./sessions.ts";
import {
  DEFAULT_ROLES,
  findUserByEmail,
  findUserById,
  insertUser,
  profileClaimsOf,
  type PublicUser,
  publicUserOf,
  setUserRoles,
  toPublicUser,
  updatePasswordHash,
} from "./users.ts";
import type { UserRow } from "../../db/schema.ts";
import { z } from "zod";
import { readSettingValue } from "../settings/typed-setting.ts";
import { verificationMail } from "./auth-mails.ts";
import { mailerFor, sendInBackground } from "./auth-mailer.ts";
import type { Mailer } from "../../adapters/mail.ts";
import { issueMailTokenForUser } from "./mail-tokens.ts";
import type { AuthContext, LoginInput, PendingVerification, RegisterInput, TokenPair } from "./model.ts";

/** The mailer of a context (the configured one unless a caller supplied its own). */
export const mailOf = (ctx: AuthContext): Mailer => ctx.mail ?? mailerFor(ctx.config, ctx.log);

/**
 * The base of mail links: AUTH_LINK_BASE_URL, else PUBLIC_API_URL, else (on Workers only) the
 * request's origin. Off Workers the Host header is the client's, and a reset link must never point
 * at a host the client chose (it would carry the token there), so without configuration the mail
 * is not sent and the error says which key to set.
 */
export function linkBaseOf(ctx: AuthContext): string | undefined {
  const base = ctx.config.AUTH_LINK_BASE_URL ?? ctx.config.PUBLIC_API_URL ?? ctx.linkBase;
  if (!base) ctx.log.error("auth mail not sent: set AUTH_LINK_BASE_URL (or PUBLIC_API_URL) off Workers");
  return base;
}

/** An optional runtime setting: when true, unverified accounts cannot sign in. */
export const REQUIRE_VERIFIED_EMAIL_KEY = "auth.require-verified-email";

export const requireVerifiedEmail = (ctx: AuthContext): Promise<boolean> =>
  readSettingValue(ctx.deps, REQUIRE_VERIFIED_EMAIL_KEY, z.boolean(), false, ctx);

/** Counts one attempt per client and per account (the address hashed); refused while Redis is down. */
export async function limitClientAndAccount(
  ctx: AuthContext,
  { perClient, perAccount }: { perClient: RateRule; perAccount: RateRule },
  normalisedEmail: string,
): Promise<void> {
  const checks = [
    { rule: perClient, identifier: ctx.client },
    { rule: perAccount, identifier: await accountIdentifier(normalisedEmail) },
  ];
  await enforceRateLimits(ctx, checks, "refuse");
}

async function tokensFor(
  ctx: AuthContext,
  user: UserRow,
  session: Session & { refreshToken: string },
): Promise<TokenPair> {
  const access = await issueAccessToken(
    { userId: user.id, roles: user.roles, sessionId: session.sessionId, profile: profileClaimsOf(user) },
    ctx.config,
  );
  return {
    user: toPublicUser(user),
    accessToken: access.token,
    refreshToken: session.refreshToken,
    tokenType: "Bearer",
    expiresIn: access.expiresIn,
  };
}

async function signIn(ctx: AuthContext, user: UserRow): Promise<TokenPair> {
  const session = await startSession(ctx.deps.db, user.id, ctx.config.REFRESH_TOKEN_TTL_SECONDS, ctx.device);
  return tokensFor(ctx, user, session);
}

/**
 * Creates an account (role "user"), mails it a verification link, and signs it in, unless the
 * `auth.require-verified-email` setting is on: then no tokens until the link was followed. The
 * caller checked the password policy.
 */
export async function register(ctx: AuthContext, input: RegisterInput): Promise<TokenPair | PendingVerification> {
  const email = normaliseEmail(input.email);
  // Per email too, so the 409 cannot be used to test many addresses from many clients.
  await limitClientAndAccount(ctx, AUTH_RATE_LIMITS.register, email);
  const passwordHash = await hashPassword(input.password);
  const user = await insertUser(ctx.deps.db, { email, passwordHash, name: input.name ?? null, roles: DEFAULT_ROLES });
  if (!user) throw emailTaken();
  const mailer = mailOf(ctx);
  const linkBase = mailer.configured ? linkBaseOf(ctx) : undefined;
  if (linkBase) {
    const token = await issueMailTokenForUser(ctx.deps.db, "email-verification", user);
    sendInBackground(mailer, ctx.deps.background, ctx.log, verificationMail(user.email, linkBase, token));
  }
  if (await requireVerifiedEmail(ctx)) return { user: toPublicUser(user), emailVerificationRequired: true };
  return signIn(ctx, user);
}

/** Unknown email and wrong password: the same 401, after the same amount of hashing. */
export async function login(ctx: AuthContext, input: LoginInput): Promise<TokenPair> {
  const email = normaliseEmail(input.email);
  await limitClientAndAccount(ctx, AUTH_RATE_LIMITS.login, email);
  const user = await findUserByEmail(ctx.deps.db, email);
  if (!user) {
    await burnPasswordCheck(input.password);
    throw invalidCredentials();
  }
  const check = await verifyPassword(input.password, user.passwordHash);
  if (!check.ok) throw invalidCredentials();
  // Told only to someone who knows the password.
  if (user.disabledAt) throw accountDisabled();
  if (!user.emailVerifiedAt && (await requireVerifiedEmail(ctx))) throw emailNotVerified();
  if (check.needsRehash) {
    // Upgrading is best effort: the old hash still verifies, so a failure only postpones it.
    try {
      await updatePasswordHash(ctx.deps.db, user.id, await hashPassword(input.password));
    } catch (error) {
      ctx.log.warn("upgrading a password hash failed", { userId: user.id, error });
    }
  }
  return signIn(ctx, user);
}

/** Spends the refresh token and returns a new pair with the account's current roles. */
export async function refresh(ctx: AuthContext, refreshToken: string): Promise<TokenPair> {
  // Refresh stays available when Redis is down: guessing a 256-bit token is hopeless, and refusing
  // would sign everyone out within one access-token lifetime.
  const { perClient, perAccount } = AUTH_RATE_LIMITS.refresh;
  await enforceRateLimits(ctx, [{ rule: perClient, identifier: ctx.client }], "allow");
  const result = await rotateRefreshToken(ctx.deps.db, refreshToken, ctx.config.REFRESH_TOKEN_TTL_SECONDS, (session) =>
    enforceRateLimits(ctx, [{ rule: perAccount, identifier: session.userId }], "allow"),
  );
  if (result.kind === "invalid") throw invalidRefreshToken();
  if (result.kind === "reused") {
    ctx.log.warn("spent refresh token presented again: family revoked", {
      userId: result.session.userId,
      sessionId: result.session.sessionId,
    });
    await announceRevokedSessions(ctx.deps, ctx.config, ctx.log, [result.session]);
    throw invalidRefreshToken();
  }
  if (result.withinGrace)
    ctx.log.info("concurrent refresh within the grace window", { sessionId: result.issued.sessionId });
  const user = await findUserById(ctx.deps.db, result.issued.userId);
  if (!user || user.disabledAt) throw invalidRefreshToken();
  return tokensFor(ctx, user, result.issued);
}

/** Revokes the family of the presented token. Unknown tokens are ignored (the answer is the same). */
export async function logout(ctx: AuthContext, refreshToken: string): Promise<void> {
  const session = await revokeSessionOfToken(ctx.deps.db, refreshToken);
  if (session) await announceRevokedSessions(ctx.deps, ctx.config, ctx.log, [session]);
}

/** The oldest issue time an unexpired access token can have, now. */
export const liveSince = (config: Config): Date =>
  new Date(Date.now() - (config.ACCESS_TOKEN_TTL_SECONDS + CLOCK_SKEW_SECONDS) * 1000);

async function revokeEverySession(ctx: AuthContext, userId: string, alsoKnown?: Session): Promise<void> {
  const sessions = await revokeAllSessions(ctx.deps.db, userId, liveSince(ctx.config));
  if (alsoKnown && !sessions.some((s) => s.sessionId === alsoKnown.sessionId)) sessions.push(alsoKnown);
  await announceRevokedSessions(ctx.deps, ctx.config, ctx.log, sessions);
}

/** Revokes every refresh-token family of the caller, including the one in use. */
export function logoutAll(ctx: AuthContext, principal: Principal): Promise<void> {
  return revokeEverySession(ctx, principal.userId, { userId: principal.userId, sessionId: principal.sessionId });
}

/**
 * The caller's profile. By default from the verified token's claims alone (no I/O: the token was
 * minted from the account row at sign-in or refresh, at most one access-token lifetime ago). With
 * `fresh`, or for a token that carries no profile claims, the account row as Postgres has it now.
 */
/**
 * The caller's account. From the verified token's claims it is synchronous (no I/O, no promise: /me
 * is the hottest authenticated read); `fresh`, or a token without profile claims, reads the row.
 */
export function currentUser(
  ctx: Pick<AuthContext, "deps">,
  principal: Principal,
  options: { fresh: boolean },
): PublicUser | Promise<PublicUser> {
  const fromToken = options.fresh ? undefined : publicUserOf(principal);
  return fromToken ?? currentUserRow(ctx, principal.userId);
}

async function currentUserRow(ctx: Pick<AuthContext, "deps">, userId: string): Promise<PublicUser> {
  const user = await findUserById(ctx.deps.db, userId);
  if (!user) throw unauthorized("The account no longer exists.");
  return toPublicUser(user);
}

/**
 * Replaces an account's roles. When a role is taken away, the account's sessions are revoked, so
 * its access tokens (which still list the old roles) stop working on sensitive routes at once and
 * its refresh tokens cannot mint more. Added roles take effect at the account's next refresh (the
 * token's claims, and so `/v1/auth/me`, show what the token grants; `?fresh=true` shows the row).
 */
export async function changeRoles(ctx: AuthContext, userId: string, roles: string[]): Promise<PublicUser> {
  const wanted = [...new Set(roles)].sort();
  const change = await setUserRoles(ctx.deps.db, userId, wanted);
  if (!change) throw notFound("No account has this id.");
  if (change.removed.length > 0) {
    ctx.log.info("roles removed: sessions revoked", { userId, removed: change.removed });
    await revokeEverySession(ctx, userId);
  }
  return toPublicUser(change.user);
}
