import { and, desc, eq, ilike, lt, or, type SQL } from "drizzle-orm";
import type { Database } from "../../adapters/postgres.ts";
import { decodePosition, encodePosition } from "../../core/cursor.ts";
import { withDatabase } from "../../core/database-errors.ts";
import type { Principal } from "../../core/principal.ts";
import { notFound } from "../../core/problem.ts";
import { type UserRow, users } from "../../db/schema.ts";
import { profileChanged } from "./profile-changed.ts";
import { cannotDisableSelf } from "./problems.ts";
import { announceRevokedSessions } from "./revocation.ts";
import type { AuthContext } from "./model.ts";
import { liveSince } from "./service.ts";
import { revokeAllSessions } from "./sessions.ts";
import { type PublicUser, toPublicUser } from "./users.ts";

/** What an admin sees of an account. */
export interface AdminUser extends PublicUser {
  disabled: boolean;
  /** The outside issuer the account came from (AUTH_EXTERNAL_ISSUERS), or null for a local one. */
  externalIssuer: string | null;
}

export const toAdminUser = (row: UserRow): AdminUser => ({
  ...toPublicUser(row),
  disabled: row.disabledAt !== null,
  externalIssuer: row.externalIssuer,
});

export interface UserPage {
  items: AdminUser[];
  /** Pass as `cursor` for the next page; null on the last one. */
  nextCursor: string | null;
}

/** LIKE metacharacters in a search are literal. */
const escapeLike = (text: string): string => text.replace(/[\\%_]/g, (ch) => `\\${ch}`);

/**
 * Accounts, newest first, `limit` per page; `q` filters by a substring of the email (an ILIKE
 * scan: fine for an admin screen, not an index-backed search).
 */
export async function listUsers(
  db: Database,
  query: { q?: string | undefined; limit: number; cursor?: string | undefined },
): Promise<UserPage> {
  const conditions: (SQL | undefined)[] = [];
  if (query.q) conditions.push(ilike(users.email, `%${escapeLike(query.q.trim().toLowerCase())}%`));
  if (query.cursor) {
    const after = decodePosition(query.cursor);
    conditions.push(
      or(lt(users.createdAt, after.createdAt), and(eq(users.createdAt, after.createdAt), lt(users.id, after.id))),
    );
  }
  const rows = await withDatabase(() =>
    db
      .select()
      .from(users)
      .where(and(...conditions))
      .orderBy(desc(users.createdAt), desc(users.id))
      .limit(query.limit + 1),
  );
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  return { items: page.map(toAdminUser), nextCursor: rows.length > query.limit && last ? encodePosition(last) : null };
}

/**
 * Disables (or re-enables) an account. Disabling revokes every session in the same step (their
 * sockets close, sensitive routes refuse their tokens at once); sign-in, refresh and password
 * reset are refused while disabled.
 */
export async function setUserDisabled(
  ctx: AuthContext,
  admin: Principal,
  userId: string,
  disabled: boolean,
): Promise<AdminUser> {
  if (disabled && userId === admin.userId) throw cannotDisableSelf();
  const now = new Date();
  const { row, sessions } = await withDatabase(() =>
    ctx.deps.db.transaction(async (tx) => {
      const [updated] = await tx
        .update(users)
        .set({ disabledAt: disabled ? now : null, updatedAt: now })
        .where(eq(users.id, userId))
        .returning();
      if (!updated) throw notFound("No account has this id.");
      const revoked = disabled ? await revokeAllSessions(tx, userId, liveSince(ctx.config), now) : [];
      return { row: updated, sessions: revoked };
    }),
  );
  ctx.log.info(disabled ? "account disabled: sessions revoked" : "account enabled", { userId, by: admin.userId });
  await profileChanged(ctx, userId);
  await announceRevokedSessions(ctx.deps, ctx.config, ctx.log, sessions);
  return toAdminUser(row);
}

/**
 * Signs an account out everywhere (admin): every session revoked in one step, their sockets closed,
 * sensitive routes refusing their tokens at once. The account stays enabled: it may sign in again.
 */
export async function signOutUserEverywhere(ctx: AuthContext, admin: Principal, userId: string): Promise<void> {
  const now = new Date();
  const sessions = await withDatabase(() =>
    ctx.deps.db.transaction(async (tx) => {
      const [found] = await tx.select({ id: users.id }).from(users).where(eq(users.id, userId));
      if (!found) throw notFound("No account has this id.");
      return revokeAllSessions(tx, userId, liveSince(ctx.config), now);
    }),
  );
  ctx.log.info("account signed out everywhere by an admin", { userId, by: admin.userId, sessions: sessions.length });
  await announceRevokedSessions(ctx.deps, ctx.config, ctx.log, sessions);
}
