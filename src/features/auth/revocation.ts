import { and, eq, isNotNull } from "drizzle-orm";
import { isUuid } from "../../../common/encoding.ts";
import type { Config } from "../../core/config.ts";
import type { Deps } from "../../core/deps.ts";
import type { Logger } from "../../../common/logger.ts";
import { dependencyUnavailable } from "../../core/problem.ts";
import { withTimeout } from "../../../common/timeout.ts";
import { refreshTokens } from "../../db/schema.ts";
import { CLOCK_SKEW_SECONDS } from "./access-token.ts";
import type { Session } from "./sessions.ts";

/**
 * How long one attempt at closing a revoked session's sockets may take (it runs after the
 * response). An outer bound: the rooms adapter bounds its own calls more tightly.
 */
export const DISCONNECT_TIMEOUT_MS = 15_000;
/** Attempts at closing them; a second one covers a room object that was briefly unreachable. */
const DISCONNECT_ATTEMPTS = 2;

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
  if (!isUuid(sessionId)) return true;
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
export async function announceRevokedSessions(
  deps: Deps,
  config: Config,
  log: Logger,
  sessions: Session[],
): Promise<void> {
  if (sessions.length === 0) return;
  // One pass for all of them: on Durable Objects each pass asks every registry shard once.
  deps.background.waitUntil(disconnect(deps, log, sessions));
  const redis = deps.redis;
  if (!redis) return;
  try {
    const pipeline = redis.pipeline();
    for (const session of sessions) {
      pipeline.set(revokedSessionKey(config, session.sessionId), "1", { ex: revocationTtlSeconds(config) });
    }
    await pipeline.exec();
  } catch (error) {
    // Postgres holds the revocation, but while Redis answers without this entry, sensitive routes
    // accept these sessions' access tokens until they expire (docs/auth.md).
    log.error("listing revoked sessions in Redis failed", {
      sessions: sessions.length,
      error,
    });
  }
}

/** Asks realtime to close the sessions' sockets. Never rejects: the logout already succeeded. */
async function disconnect(deps: Deps, log: Logger, sessions: Session[]): Promise<void> {
  for (let attempt = 1; attempt <= DISCONNECT_ATTEMPTS; attempt++) {
    try {
      await withTimeout(
        "rooms",
        DISCONNECT_TIMEOUT_MS,
        deps.rooms.disconnectSessions(sessions.map(({ userId, sessionId }) => ({ userId, sessionId }))),
      );
      return;
    } catch (error) {
      if (attempt === DISCONNECT_ATTEMPTS) {
        log.warn("closing revoked sessions' sockets failed", {
          sessionIds: sessions.map((s) => s.sessionId),
          error,
        });
      }
    }
  }
}
