import { and, eq, gt, isNull, sql } from "drizzle-orm";
import type { Database } from "../../adapters/postgres.ts";
import { withDatabase } from "../../core/database-errors.ts";
import { authMailTokens, users } from "../../db/schema.ts";
import { generateRefreshToken, hashRefreshToken, REFRESH_TOKEN_LENGTH } from "./refresh-token.ts";

/**
 * Single-use tokens sent by mail: password reset and email verification. The same rules as
 * refresh tokens (256 random bits, only the SHA-256 stored), plus: spent at most once (an atomic
 * UPDATE ... WHERE used_at IS NULL) and dead 30 minutes after issue.
 */
export const MAIL_TOKEN_TTL_SECONDS = 30 * 60;

export type MailTokenPurpose = "password-reset" | "email-verification";

const TOKEN_SHAPE = /^[A-Za-z0-9_-]+$/;

/** Whether `token` can be one of ours at all; anything else is refused without a query. */
export const isMailTokenShape = (token: string): boolean =>
  token.length === REFRESH_TOKEN_LENGTH && TOKEN_SHAPE.test(token);

/** A fresh token, the hash that is stored, and when it dies. */
async function newMailToken(now: Date): Promise<{ token: string; tokenHash: string; expiresAt: Date }> {
  const token = generateRefreshToken();
  return {
    token,
    tokenHash: await hashRefreshToken(token),
    expiresAt: new Date(now.getTime() + MAIL_TOKEN_TTL_SECONDS * 1000),
  };
}

export interface IssuedMailToken {
  token: string;
  userId: string;
}

/**
 * Issues a token for the account with this (normalised) address, if there is one that may get it:
 * local (an external issuer's account has a placeholder address and no password), not disabled,
 * and for verification not verified yet. One INSERT ... SELECT either way, so a known
 * and an unknown address cost the same round trip (no account enumeration by timing).
 */
export async function issueMailTokenForEmail(db: Database, purpose: MailTokenPurpose, email: string, now = new Date()) {
  const { token, tokenHash, expiresAt } = await newMailToken(now);
  const onlyUnverified = purpose === "email-verification" ? sql`and ${users.emailVerifiedAt} is null` : sql``;
  const result = await withDatabase(() =>
    db.execute<{ user_id: string }>(sql`
      insert into ${authMailTokens} ("user_id", "purpose", "token_hash", "email", "expires_at", "created_at")
      select ${users.id}, ${purpose}::text, ${tokenHash}::text, ${users.email},
        ${expiresAt.toISOString()}::timestamptz, ${now.toISOString()}::timestamptz
      from ${users}
      where ${users.email} = ${email} and ${users.disabledAt} is null and ${users.externalIssuer} is null
        ${onlyUnverified}
      returning "user_id"`),
  );
  const userId = result.rows[0]?.user_id;
  return userId ? ({ token, userId } satisfies IssuedMailToken) : undefined;
}

/** Issues a token for a known account (verification right after registration). */
export async function issueMailTokenForUser(
  db: Database,
  purpose: MailTokenPurpose,
  user: Recipient,
  now = new Date(),
) {
  const { token, tokenHash, expiresAt } = await newMailToken(now);
  await withDatabase(() =>
    db
      .insert(authMailTokens)
      .values({ userId: user.id, purpose, tokenHash, email: user.email, expiresAt, createdAt: now }),
  );
  return token;
}

/** Who a token is issued to. */
type Recipient = { id: string; email: string };

export interface MailTokenHolder {
  userId: string;
  /** The address the token was sent to. */
  email: string;
}

/** What picks the live token of this purpose; undefined for a string no token has the shape of. */
async function liveToken(purpose: MailTokenPurpose, token: string, now: Date) {
  if (!isMailTokenShape(token)) return undefined;
  const tokenHash = await hashRefreshToken(token);
  return and(
    eq(authMailTokens.tokenHash, tokenHash),
    eq(authMailTokens.purpose, purpose),
    isNull(authMailTokens.usedAt),
    gt(authMailTokens.expiresAt, now),
  );
}

/** A transaction, or the database: what a token is spent through. */
type Writer = Pick<Database, "update">;

/** Looks a token up without spending it (so a bad one is refused before any password hashing). */
export async function findLiveMailToken(db: Database, purpose: MailTokenPurpose, token: string, now = new Date()) {
  const where = await liveToken(purpose, token, now);
  if (!where) return undefined;
  const holder: MailTokenHolder | undefined = await withDatabase(() =>
    db.query.authMailTokens.findFirst({ where, columns: { userId: true, email: true } }),
  );
  return holder;
}

/**
 * Spends a token: at most one caller ever gets its holder back (the row is updated only while
 * unused). Run inside the transaction that applies what the token allows, so a failure there
 * leaves the token unspent.
 */
export async function spendMailToken(tx: Writer, purpose: MailTokenPurpose, token: string, now = new Date()) {
  const where = await liveToken(purpose, token, now);
  if (!where) return undefined;
  const [holder]: (MailTokenHolder | undefined)[] = await tx
    .update(authMailTokens)
    .set({ usedAt: now })
    .where(where)
    .returning({ userId: authMailTokens.userId, email: authMailTokens.email });
  return holder;
}

/** Kills every other unused token of the user for `purpose` (after a reset: older links must die too). */
export async function spendAllMailTokens(tx: Writer, purpose: MailTokenPurpose, userId: string, now = new Date()) {
  await tx
    .update(authMailTokens)
    .set({ usedAt: now })
    .where(and(eq(authMailTokens.userId, userId), eq(authMailTokens.purpose, purpose), isNull(authMailTokens.usedAt)));
}
