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

/**
 * Every auth limit, in one place. Sliding windows, per client address and per account. The
 * per-account login limit also lets anyone slow down one account's sign-ins: that is the price of
 * stopping password guessing spread over many addresses.
 */
export const AUTH_RATE_LIMITS = {
  registerPerClient: { name: "register-ip", tokens: 10, window: "1 h" },
  registerPerAccount: { name: "register-account", tokens: 5, window: "1 h" },
  loginPerClient: { name: "login-ip", tokens: 30, window: "5 m" },
  loginPerAccount: { name: "login-account", tokens: 10, window: "15 m" },
  refreshPerClient: { name: "refresh-ip", tokens: 120, window: "1 m" },
  refreshPerAccount: { name: "refresh-account", tokens: 30, window: "1 m" },
  // Mail-sending routes: per address too, so nobody can flood one inbox (counted whether or not
  // an account exists, so a 429 says nothing about the address).
  passwordForgotPerClient: { name: "pw-forgot-ip", tokens: 10, window: "1 h" },
  passwordForgotPerAccount: { name: "pw-forgot-account", tokens: 3, window: "1 h" },
  verificationPerClient: { name: "verify-mail-ip", tokens: 10, window: "1 h" },
  verificationPerAccount: { name: "verify-mail-account", tokens: 3, window: "1 h" },
  /** Spending a mailed token (reset, verify): 256-bit tokens, so this only bounds the work. */
  mailTokenPerClient: { name: "mail-token-ip", tokens: 30, window: "15 m" },
  /** Password change guesses the current password: the login limit, per account id. */
  passwordChangePerAccount: { name: "pw-change-account", tokens: 10, window: "15 m" },
} as const satisfies Record<string, RateRule>;

/**
 * What to do when Redis is configured but does not answer: refuse (503) or let the request through.
 * Chosen per route; see docs/auth.md "Rate limits when Redis is down".
 */
export type WhenLimiterDown = "refuse" | "allow";

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
  deps: Pick<Deps, "redis" | "background">,
  config: Config,
  log: Logger,
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
