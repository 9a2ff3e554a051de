import { and, eq, isNull, ne } from "drizzle-orm";
import type { Database } from "../../adapters/postgres.ts";
import { refreshTokens } from "../../db/schema.ts";
import { withDatabase } from "../../core/database-errors.ts";
import { generateRefreshToken, hashRefreshToken, REFRESH_TOKEN_LENGTH } from "./refresh-token.ts";

/**
 * A spent refresh token presented again within this many seconds gets a fresh pair instead of
 * revoking its family: a client that fired two refreshes at once (two tabs, a retry after a lost
 * response) must not log itself out. Later reuse is treated as theft.
 */
export const REFRESH_REUSE_GRACE_SECONDS = 10;

/** One sign-in: the refresh-token family. Its id is the access tokens' `sid`. */
export interface Session {
  userId: string;
  sessionId: string;
}

export interface IssuedRefreshToken extends Session {
  refreshToken: string;
  expiresAt: Date;
}

const TOKEN_SHAPE = /^[A-Za-z0-9_-]+$/;

/** Where a sign-in came from, for the sessions list (GET /v1/auth/sessions). */
export interface SessionDevice {
  /** The User-Agent header, truncated; null when none was sent. */
  userAgent: string | null;
  /** The client's /24 (IPv4) or /48 (IPv6), never the full address; null when unknown. */
  clientPrefix: string | null;
}

/** What every token of a family carries about its sign-in (copied on rotation; old rows are pruned). */
interface FamilyInfo extends SessionDevice {
  sessionStartedAt: Date;
}

const NO_DEVICE: SessionDevice = { userAgent: null, clientPrefix: null };

async function insertToken(
  db: Pick<Database, "insert">,
  session: Session,
  parentId: string | null,
  ttlSeconds: number,
  now: Date,
  family: FamilyInfo,
): Promise<IssuedRefreshToken> {
  const refreshToken = generateRefreshToken();
  const expiresAt = new Date(now.getTime() + ttlSeconds * 1000);
  await db.insert(refreshTokens).values({
    userId: session.userId,
    familyId: session.sessionId,
    parentId,
    tokenHash: await hashRefreshToken(refreshToken),
    expiresAt,
    // The Worker's clock, like expiresAt and the liveSince cut-off in revokeAllSessions.
    createdAt: now,
    sessionStartedAt: family.sessionStartedAt,
    userAgent: family.userAgent,
    clientPrefix: family.clientPrefix,
  });
  return { ...session, refreshToken, expiresAt };
}

/** Starts a new family (a sign-in) with its first refresh token. */
export function startSession(
  db: Database,
  userId: string,
  ttlSeconds: number,
  device: SessionDevice = NO_DEVICE,
  now = new Date(),
): Promise<IssuedRefreshToken> {
  const family = { ...device, sessionStartedAt: now };
  return withDatabase(() => insertToken(db, { userId, sessionId: crypto.randomUUID() }, null, ttlSeconds, now, family));
}

export type RotateResult =
  | { kind: "rotated"; issued: IssuedRefreshToken; withinGrace: boolean }
  /** A spent token came back after the grace window: its whole family is now revoked. */
  | { kind: "reused"; session: Session }
  | { kind: "invalid" };

/**
 * Spends a refresh token and issues its child. The presented row is locked, so concurrent
 * refreshes of one token run one after the other and the second sees it spent.
 */
export async function rotateRefreshToken(
  db: Database,
  token: string,
  ttlSeconds: number,
  /** Runs with the row locked, before the token is spent: a throw (e.g. a 429) leaves it unspent. */
  beforeSpend: (session: Session) => Promise<void>,
  now = new Date(),
): Promise<RotateResult> {
  if (token.length !== REFRESH_TOKEN_LENGTH || !TOKEN_SHAPE.test(token)) return { kind: "invalid" };
  const tokenHash = await hashRefreshToken(token);
  const result = await withDatabase(() =>
    db.transaction(async (tx): Promise<RotateResult> => {
      const [row] = await tx.select().from(refreshTokens).where(eq(refreshTokens.tokenHash, tokenHash)).for("update");
      if (!row || row.revokedAt || row.expiresAt <= now) return { kind: "invalid" };
      const session = { userId: row.userId, sessionId: row.familyId };
      const family = {
        sessionStartedAt: row.sessionStartedAt ?? row.createdAt,
        userAgent: row.userAgent,
        clientPrefix: row.clientPrefix,
      };
      await beforeSpend(session);
      if (row.spentAt) {
        if (now.getTime() - row.spentAt.getTime() > REFRESH_REUSE_GRACE_SECONDS * 1000) {
          return { kind: "reused", session };
        }
        const issued = await insertToken(tx, session, row.id, ttlSeconds, now, family);
        return { kind: "rotated", issued, withinGrace: true };
      }
      await tx.update(refreshTokens).set({ spentAt: now }).where(eq(refreshTokens.id, row.id));
      const issued = await insertToken(tx, session, row.id, ttlSeconds, now, family);
      return { kind: "rotated", issued, withinGrace: false };
    }),
  );
  // Revoked outside the lookup transaction so the revocation commits even though refresh fails.
  if (result.kind === "reused") await revokeFamily(db, result.session.sessionId, now);
  return result;
}

/**
 * Marks every token of a family revoked. Run twice on purpose: under READ COMMITTED the first
 * UPDATE waits for a concurrent rotation holding a row lock in this family but cannot see the child
 * that rotation inserts; the second statement takes a new snapshot and catches it.
 */
export async function revokeFamily(db: Database, familyId: string, now = new Date()): Promise<void> {
  const revoke = () =>
    db
      .update(refreshTokens)
      .set({ revokedAt: now })
      .where(and(eq(refreshTokens.familyId, familyId), isNull(refreshTokens.revokedAt)));
  await withDatabase(async () => {
    await revoke();
    await revoke();
  });
}

/** Logout: revokes the family of a presented refresh token. Undefined when the token is unknown. */
export async function revokeSessionOfToken(
  db: Database,
  token: string,
  now = new Date(),
): Promise<Session | undefined> {
  if (token.length !== REFRESH_TOKEN_LENGTH || !TOKEN_SHAPE.test(token)) return undefined;
  const tokenHash = await hashRefreshToken(token);
  const row = await withDatabase(() =>
    db.query.refreshTokens.findFirst({
      where: eq(refreshTokens.tokenHash, tokenHash),
      columns: { userId: true, familyId: true },
    }),
  );
  if (!row) return undefined;
  await revokeFamily(db, row.familyId, now);
  return { userId: row.userId, sessionId: row.familyId };
}

/**
 * Logout-all: revokes every family of the user. Returns the families that may still have live
 * access tokens: those with a token issued after `liveSince` (an access token is minted with each
 * refresh token, so an older family's access tokens have all expired).
 */
export async function revokeAllSessions(
  db: Pick<Database, "update">,
  userId: string,
  liveSince: Date,
  now = new Date(),
  /** A family to leave signed in (password change keeps the caller's own session). */
  exceptSessionId?: string,
): Promise<Session[]> {
  const revoke = () =>
    db
      .update(refreshTokens)
      .set({ revokedAt: now })
      .where(
        and(
          eq(refreshTokens.userId, userId),
          isNull(refreshTokens.revokedAt),
          exceptSessionId === undefined ? undefined : ne(refreshTokens.familyId, exceptSessionId),
        ),
      )
      .returning({ familyId: refreshTokens.familyId, createdAt: refreshTokens.createdAt });
  const rows = await withDatabase(async () => [...(await revoke()), ...(await revoke())]);
  const live = new Set(rows.filter((r) => r.createdAt >= liveSince).map((r) => r.familyId));
  return [...live].map((sessionId) => ({ userId, sessionId }));
}
