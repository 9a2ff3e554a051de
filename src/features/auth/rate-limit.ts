import { digestHex } from "../../../common/encoding.ts";

import { Ratelimit } from "@upstash/ratelimit";
import type { Config } from "../../core/config.ts";
import type { Deps } from "../../core/deps.ts";
import type { Logger } from "../../../common/logger.ts";
import { dependencyUnavailable } from "../../core/problem.ts";
import { rateLimited } from "./problems.ts";

type Window = `${number} ${"s" | "m" | "h"}`;

export interface RateRule {
  /** Part of the Redis key. */
  name: string;
  tokens: number;
  window: Window;
}

/** `tokens` attempts per sliding `window`, counted under `name`. */
const limit = (name: string, tokens: number, window: Window): RateRule => ({ name, tokens, window });

/**
 * Every auth limit, in one place, by route. Sliding windows, per client address and per account. The
 * per-account login limit also lets anyone slow down one account's sign-ins: that is the price of
 * stopping password guessing spread over many addresses.
 */
export const AUTH_RATE_LIMITS = {
  register: { perClient: limit("register-ip", 10, "1 h"), perAccount: limit("register-account", 5, "1 h") },
  login: { perClient: limit("login-ip", 30, "5 m"), perAccount: limit("login-account", 10, "15 m") },
  refresh: { perClient: limit("refresh-ip", 120, "1 m"), perAccount: limit("refresh-account", 30, "1 m") },
  // Mail-sending routes: per address too, so nobody can flood one inbox (counted whether or not
  // an account exists, so a 429 says nothing about the address).
  passwordForgot: { perClient: limit("pw-forgot-ip", 10, "1 h"), perAccount: limit("pw-forgot-account", 3, "1 h") },
  verification: { perClient: limit("verify-mail-ip", 10, "1 h"), perAccount: limit("verify-mail-account", 3, "1 h") },
  /** Spending a mailed token (reset, verify): 256-bit tokens, so this only bounds the work. */
  mailToken: { perClient: limit("mail-token-ip", 30, "15 m") },
  /** Password change guesses the current password: the login limit, per account id. */
  passwordChange: { perAccount: limit("pw-change-account", 10, "15 m") },
} as const satisfies Record<string, { perClient?: RateRule; perAccount?: RateRule }>;

/**
 * What to do when Redis is configured but does not answer: refuse (503) or let the request through.
 * Chosen per route; see docs/auth.md "Rate limits when Redis is down".
 */
export type WhenLimiterDown = "refuse" | "allow";

/** What the limits are counted with: the request's clients, config and logger (an AuthContext fits). */
export interface RateLimitScope {
  deps: Pick<Deps, "redis" | "background">;
  config: Config;
  log: Logger;
}

export interface RateCheck {
  rule: RateRule;
  /** Who is counted: a client bucket or an account hash. Never a raw email or token. */
  identifier: string;
}

/** SHA-256 of the normalised email, so no address sits in Redis as a key. */
export async function accountIdentifier(normalisedEmail: string): Promise<string> {
  return digestHex(normalisedEmail, { bytes: 16 });
}

/**
 * Counts one attempt against every check; throws 429 (Retry-After: the latest reset among the
 * exceeded limits) or, when Redis fails and `whenDown` is "refuse", 503. Without Redis configured
 * limits are off (a deployment choice that docs/auth.md warns about).
 */
export async function enforceRateLimits(
  { deps, config, log }: RateLimitScope,
  checks: RateCheck[],
  whenDown: WhenLimiterDown,
): Promise<void> {
  const redis = deps.redis;
  if (!redis) return;
  const results = await Promise.allSettled(
    checks.map(({ rule, identifier }) =>
      new Ratelimit({
        redis,
        limiter: Ratelimit.slidingWindow(rule.tokens * config.AUTH_RATE_LIMIT_FACTOR, rule.window),
        prefix: `${config.REDIS_KEY_PREFIX}auth:rl:${rule.name}`,
        // No in-isolate cache (it would be state shared across requests) and no library timeout
        // (it lets requests pass silently); the Redis client's own timeout bounds each call.
        ephemeralCache: false,
        timeout: 0,
        analytics: false,
      }).limit(identifier),
    ),
  );
  const now = Date.now();
  let retryAfter = 0;
  for (const [i, result] of results.entries()) {
    if (result.status === "rejected") {
      log.warn("rate limiter unavailable", { rule: checks[i]?.rule.name, whenDown, error: result.reason });
      if (whenDown === "refuse") throw dependencyUnavailable("rate limiter", result.reason);
      continue;
    }
    deps.background.waitUntil(result.value.pending);
    if (!result.value.success) retryAfter = Math.max(retryAfter, Math.ceil((result.value.reset - now) / 1000), 1);
  }
  if (retryAfter > 0) throw rateLimited(retryAfter);
}
