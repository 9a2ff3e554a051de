import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createAuthUser, withTestDatabase } from "../../../test/workers/support/auth.ts";
import { authMailTokens, refreshTokens } from "../../db/schema.ts";
import { issueMailTokenForUser } from "./mail-tokens.ts";
import {
  MAIL_TOKEN_RETENTION_MS,
  pruneExpiredMailTokens,
  pruneExpiredRefreshTokens,
  REFRESH_TOKEN_RETENTION_MS,
} from "./prune.ts";

describe("pruning refresh tokens", () => {
  it("deletes tokens expired past the retention and keeps live and recently expired ones", async () => {
    const live = await createAuthUser({ loginable: false });
    const stale = await createAuthUser({ loginable: false });
    const recent = await createAuthUser({ loginable: false });
    const now = new Date();
    await withTestDatabase(async (db) => {
      await db
        .update(refreshTokens)
        .set({ expiresAt: new Date(now.getTime() - REFRESH_TOKEN_RETENTION_MS - 60_000) })
        .where(eq(refreshTokens.familyId, stale.sessionId));
      await db
        .update(refreshTokens)
        .set({ expiresAt: new Date(now.getTime() - 60_000) })
        .where(eq(refreshTokens.familyId, recent.sessionId));

      const removed = await pruneExpiredRefreshTokens(db, now);
      expect(removed).toBeGreaterThanOrEqual(1);
      const left = async (sid: string) =>
        (await db.select({ id: refreshTokens.id }).from(refreshTokens).where(eq(refreshTokens.familyId, sid))).length;
      expect(await left(stale.sessionId)).toBe(0);
      expect(await left(recent.sessionId)).toBe(1);
      expect(await left(live.sessionId)).toBe(1);
    });
  });
});

describe("pruning mailed tokens", () => {
  it("deletes reset and verification tokens expired past the retention and keeps the others", async () => {
    const stale = await createAuthUser({ loginable: false });
    const live = await createAuthUser({ loginable: false });
    const now = new Date();
    await withTestDatabase(async (db) => {
      await issueMailTokenForUser(
        db,
        "password-reset",
        stale,
        new Date(now.getTime() - MAIL_TOKEN_RETENTION_MS - 3_600_000),
      );
      await issueMailTokenForUser(db, "email-verification", live, now);
      expect(await pruneExpiredMailTokens(db, now)).toBeGreaterThanOrEqual(1);
      const left = async (userId: string) =>
        (await db.select({ id: authMailTokens.id }).from(authMailTokens).where(eq(authMailTokens.userId, userId)))
          .length;
      expect(await left(stale.id)).toBe(0);
      expect(await left(live.id)).toBe(1);
    });
  });
});
