import { inArray, lt } from "drizzle-orm";
import type { Database } from "../../adapters/postgres.ts";
import { authMailTokens, refreshTokens } from "../../db/schema.ts";

/**
 * Expired refresh tokens are kept this long past expiry before they are deleted. Any access token
 * of theirs expired long before (access tokens live minutes), so the revocation fallback that reads
 * families from Postgres loses nothing it still needs.
 */
export const REFRESH_TOKEN_RETENTION_MS = 24 * 3600 * 1000;
/** Mailed tokens (reset, verification) are dead 30 min after issue; kept a day for support questions. */
export const MAIL_TOKEN_RETENTION_MS = 24 * 3600 * 1000;
/** Rows deleted per statement, so one run never holds a long lock. */
export const PRUNE_BATCH = 1_000;
const MAX_BATCHES = 20;

/** Runs one batch delete until a batch comes back short (or MAX_BATCHES). Returns the total. */
async function inBatches(deleteBatch: () => Promise<number>): Promise<number> {
  let removed = 0;
  for (let batch = 0; batch < MAX_BATCHES; batch++) {
    const deleted = await deleteBatch();
    removed += deleted;
    if (deleted < PRUNE_BATCH) break;
  }
  return removed;
}

/** A table whose rows die at `expires_at`. */
type Expiring = typeof refreshTokens | typeof authMailTokens;

/** Deletes the rows of `table` that expired before `cutoff`, a batch at a time. Returns how many went. */
function deleteExpired(db: Database, table: Expiring, cutoff: Date): Promise<number> {
  return inBatches(async () => {
    const expired = db.select({ id: table.id }).from(table).where(lt(table.expiresAt, cutoff)).limit(PRUNE_BATCH);
    const deleted = await db.delete(table).where(inArray(table.id, expired)).returning({ id: table.id });
    return deleted.length;
  });
}

/** Deletes refresh-token rows expired for longer than the retention. Returns how many went. */
export function pruneExpiredRefreshTokens(db: Database, now: Date): Promise<number> {
  return deleteExpired(db, refreshTokens, new Date(now.getTime() - REFRESH_TOKEN_RETENTION_MS));
}

/** Deletes password-reset and verification tokens expired for longer than the retention. */
export function pruneExpiredMailTokens(db: Database, now: Date): Promise<number> {
  return deleteExpired(db, authMailTokens, new Date(now.getTime() - MAIL_TOKEN_RETENTION_MS));
}
