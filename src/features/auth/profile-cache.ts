import { z } from "zod";
import type { Config } from "../../core/config.ts";
import type { Deps } from "../../core/deps.ts";
import type { Logger } from "../../core/logger.ts";
import type { PublicUser } from "./users.ts";

/**
 * Profiles (what GET /v1/auth/me answers) cached in Redis, so the hot read costs one Redis round
 * trip instead of a Postgres connection per request. Postgres stays the truth: every change of a
 * profile deletes its entry, and the TTL bounds how long an entry can outlive a change that could
 * not reach Redis (Redis down at that moment).
 */
export const PROFILE_TTL_SECONDS = 300;

const profileSchema = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string().nullable(),
  roles: z.array(z.string()),
  createdAt: z.string(),
  emailVerified: z.boolean(),
});

export const profileKey = (config: Config, userId: string): string =>
  `${config.REDIS_KEY_PREFIX}auth:profile:${userId}`;

/**
 * The cached profile; "miss" (absent or malformed: fill it), or "unavailable" (no cache, or Redis
 * failed: do not try to fill it, which would only wait out a second timeout).
 */
export async function readCachedProfile(
  deps: Deps,
  config: Config,
  log: Logger,
  userId: string,
): Promise<PublicUser | "miss" | "unavailable"> {
  const redis = deps.redis;
  if (!redis) return "unavailable";
  try {
    const parsed = profileSchema.safeParse(await redis.get(profileKey(config, userId)));
    return parsed.success ? parsed.data : "miss";
  } catch (error) {
    log.warn("profile cache read failed; reading Postgres", { error });
    return "unavailable";
  }
}

/** Stores a profile just read from Postgres. Best effort: a failure only costs the next read a query. */
export async function cacheProfile(deps: Deps, config: Config, log: Logger, profile: PublicUser): Promise<void> {
  const redis = deps.redis;
  if (!redis) return;
  try {
    await redis.set(profileKey(config, profile.id), profile, { ex: PROFILE_TTL_SECONDS });
  } catch (error) {
    log.warn("profile cache write failed", { error });
  }
}

/** Drops a profile after it changed in Postgres. */
export async function forgetProfile(deps: Deps, config: Config, log: Logger, userId: string): Promise<void> {
  const redis = deps.redis;
  if (!redis) return;
  try {
    await redis.del(profileKey(config, userId));
  } catch (error) {
    log.error("profile cache invalidation failed; the entry expires within its TTL", {
      userId,
      ttlSeconds: PROFILE_TTL_SECONDS,
      error,
    });
  }
}
