import { and, desc, eq, gt, isNull, max, min, sql } from "drizzle-orm";
import type { Database } from "../../adapters/postgres.ts";
import { withDatabase } from "../../core/database-errors.ts";
import { refreshTokens } from "../../db/schema.ts";
import { MAX_LISTED_SESSIONS, type SessionInfo } from "./model.ts";
import { revokeFamily } from "./sessions.ts";

/** The caller's live sessions: families with a token that is neither revoked nor expired. */
export async function listSessions(
  db: Database,
  userId: string,
  currentSessionId: string,
  now = new Date(),
): Promise<SessionInfo[]> {
  const lastUsed = max(refreshTokens.createdAt);
  const rows = await withDatabase(() =>
    db
      .select({
        id: refreshTokens.familyId,
        // Copied to every token of the family; rows from before that column fall back to the oldest left.
        startedAt: sql<Date>`coalesce(${max(refreshTokens.sessionStartedAt)}, ${min(refreshTokens.createdAt)})`.mapWith(
          refreshTokens.createdAt,
        ),
        lastUsedAt: lastUsed,
        userAgent: max(refreshTokens.userAgent),
        clientPrefix: max(refreshTokens.clientPrefix),
      })
      .from(refreshTokens)
      .where(and(eq(refreshTokens.userId, userId), isNull(refreshTokens.revokedAt), gt(refreshTokens.expiresAt, now)))
      .groupBy(refreshTokens.familyId)
      .orderBy(desc(lastUsed))
      .limit(MAX_LISTED_SESSIONS),
  );
  return rows.map((r) => ({
    id: r.id,
    createdAt: r.startedAt.toISOString(),
    lastUsedAt: (r.lastUsedAt ?? r.startedAt).toISOString(),
    userAgent: r.userAgent,
    clientPrefix: r.clientPrefix,
    current: r.id === currentSessionId,
  }));
}

/**
 * Revokes one of the user's sessions. False when the user has no live session with this id (also
 * when it is someone else's: the answer must not tell which).
 */
export async function revokeOwnSession(
  db: Database,
  userId: string,
  sessionId: string,
  now = new Date(),
): Promise<boolean> {
  const row = await withDatabase(() =>
    db.query.refreshTokens.findFirst({
      where: and(
        eq(refreshTokens.familyId, sessionId),
        eq(refreshTokens.userId, userId),
        isNull(refreshTokens.revokedAt),
        gt(refreshTokens.expiresAt, now),
      ),
      columns: { id: true },
    }),
  );
  if (!row) return false;
  await revokeFamily(db, sessionId, now);
  return true;
}
