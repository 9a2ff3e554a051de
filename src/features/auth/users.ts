import { eq, sql } from "drizzle-orm";
import type { Database } from "../../adapters/postgres.ts";
import { type UserRow, users } from "../../db/schema.ts";
import { withDatabase } from "../../core/database-errors.ts";
import type { Principal } from "../../core/principal.ts";
import type { ProfileClaims } from "./access-token.ts";
import { lastAdmin } from "./problems.ts";

export const ADMIN_ROLE = "admin";
export const DEFAULT_ROLES = ["user"];

/** What the API shows of an account (never the hash). */
export interface PublicUser {
  id: string;
  email: string;
  name: string | null;
  roles: string[];
  createdAt: string;
  /** Whether the address was proven by a verification (or password-reset) mail. */
  emailVerified: boolean;
}

export const toPublicUser = (row: UserRow): PublicUser => ({
  id: row.id,
  email: row.email,
  name: row.name,
  roles: row.roles,
  createdAt: row.createdAt.toISOString(),
  emailVerified: row.emailVerifiedAt !== null,
});

/** The profile claims an access token for this account carries (access-token.ts ProfileClaims). */
export const profileClaimsOf = (row: UserRow): ProfileClaims => ({
  email: row.email,
  name: row.name,
  created_at: row.createdAt.toISOString(),
  email_verified: row.emailVerifiedAt !== null,
});

/** The account as its verified token describes it; undefined for a token without profile claims. */
export const publicUserOf = (principal: Principal): PublicUser | undefined =>
  principal.profile && {
    id: principal.userId,
    email: principal.profile.email,
    name: principal.profile.name,
    roles: [...principal.roles],
    createdAt: principal.profile.created_at,
    emailVerified: principal.profile.email_verified,
  };

export function findUserByEmail(db: Database, email: string): Promise<UserRow | undefined> {
  return withDatabase(() => db.query.users.findFirst({ where: eq(users.email, email) }));
}

export function findUserById(db: Database, id: string): Promise<UserRow | undefined> {
  return withDatabase(() => db.query.users.findFirst({ where: eq(users.id, id) }));
}

export interface NewUser {
  email: string;
  passwordHash: string;
  name: string | null;
  roles: string[];
}

/** Inserts the account; undefined when the (normalised) email is taken. */
export async function insertUser(db: Database, user: NewUser): Promise<UserRow | undefined> {
  const rows = await withDatabase(() =>
    db.insert(users).values(user).onConflictDoNothing({ target: users.email }).returning(),
  );
  return rows[0];
}

export async function updatePasswordHash(db: Database, id: string, passwordHash: string): Promise<void> {
  await withDatabase(() => db.update(users).set({ passwordHash, updatedAt: new Date() }).where(eq(users.id, id)));
}

export interface RoleChange {
  user: UserRow;
  /** Roles the account had before and no longer has. */
  removed: string[];
}

/**
 * Replaces an account's roles; undefined when there is no such account. Refuses to remove the
 * admin role from the last admin. The admin rows are locked first so two concurrent demotions
 * cannot both see "another admin remains".
 */
export function setUserRoles(db: Database, id: string, roles: string[]): Promise<RoleChange | undefined> {
  return withDatabase(() =>
    db.transaction(async (tx) => {
      const admins = await tx
        .select({ id: users.id })
        .from(users)
        .where(sql`${ADMIN_ROLE} = any(${users.roles})`)
        .for("update");
      const [before] = await tx.select().from(users).where(eq(users.id, id)).for("update");
      if (!before) return undefined;
      const removed = before.roles.filter((r) => !roles.includes(r));
      if (removed.includes(ADMIN_ROLE) && !admins.some((a) => a.id !== id)) throw lastAdmin();
      const [user] = await tx.update(users).set({ roles, updatedAt: new Date() }).where(eq(users.id, id)).returning();
      return user ? { user, removed } : undefined;
    }),
  );
}
