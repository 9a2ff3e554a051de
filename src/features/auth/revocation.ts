import { and, eq, isNotNull } from "drizzle-orm";
import type { Config } from "../../core/config.ts";
import type { Deps } from "../../core/deps.ts";
import type { Logger } from "../../core/logger.ts";
import { dependencyUnavailable } from "../../core/problem.ts";
import { withTimeout } from "../../core/timeout.ts";
import { refreshTokens } from "../../db/schema.ts";
import { CLOCK_SKEW_SECONDS } from "./access-token.ts";
import type { Session } from "./sessions.ts";

/** How long closing a revoked session's sockets may take (it runs after the response). */
export const DISCONNECT_TIMEOUT_MS = 5_000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const revokedSessionKey = (config: Config, sessionId: string): string =>
  `${config.REDIS_KEY_PREFIX}auth:revoked-sid:${sessionId}`;

/**
 * An access token is accepted until `exp` plus the clock skew, and `exp` is at most the configured
 * lifetime after issue, so a revoked sid needs to be remembered for exactly that long.
 */
export const revocationTtlSeconds = (config: Config): number => config.ACCESS_TOKEN_TTL_SECONDS + CLOCK_SKEW_SECONDS;

/**
 * Whether a session (refresh-token family, the `sid` claim) was revoked. Sensitive routes and
 * WebSocket connects call this; ordinary reads stay I/O-free. Redis answers normally (one GET); when
 * Redis is not configured or unreachable, Postgres (where the family's revocation is the truth)
 * answers instead; when neither can, this throws a 503 problem: a sensitive route fails closed.
 */
export async function isSessionRevoked(deps: Deps, config: Config, sessionId: string): Promise<boolean> {
  // Every sid we issue is a UUID; anything else cannot be checked, so it is not trusted.
  if (!UUID.test(sessionId)) return true;
  const redis = deps.redis;
  if (redis) {
    try {
      return (await redis.get(revokedSessionKey(config, sessionId))) !== null;
    } catch {
      // Fall through to the source of truth.
    }
  }
  try {
    const row = await deps.db.query.refreshTokens.findFirst({
      where: and(eq(refreshTokens.familyId, sessionId), isNotNull(refreshTokens.revokedAt)),
      columns: { id: true },
    });
    return row !== undefined;
  } catch (error) {
    throw dependencyUnavailable("session store", { name: error instanceof Error ? error.name : "unknown" });
  }
}

/**
 * After families were revoked in Postgres: lists their sids in Redis so sensitive routes refuse
 * their access tokens at once, and asks realtime to close their sockets. Never fails the caller:
 * the revocation itself is already committed (see docs/auth.md for what a Redis outage here means).
 */
export async function announceRevokedSessions(deps: Deps, config: Config, log: Logger, sessions: Session[]): Promise<void> {
  if (sessions.length === 0) return;
  for (const session of sessions) {
    deps.background.waitUntil(
      withTimeout("rooms", DISCONNECT_TIMEOUT_MS, deps.rooms.disconnectSession(session.userId, session.sessionId)).catch(
        (error: unknown) => log.warn("closing a revoked session's sockets failed", { sessionId: session.sessionId, error }),
      ),
    );
  }
  const redis = deps.redis;
  if (!redis) return;
  try {
    const pipeline = redis.pipeline();
    for (const session of sessions) {
      pipeline.set(revokedSessionKey(config, session.sessionId), "1", { ex: revocationTtlSeconds(config) });
    }
    await pipeline.exec();
  } catch (error) {
    log.error("listing revoked sessions in Redis failed; sensitive routes fall back only when Redis is down", {
      sessions: sessions.length,
      error,
    });
  }
}
