/**
 * A token bucket: `burst` tokens, refilled at `ratePerSecond`. Plain data so it can live in a Map
 * keyed by connection (in memory). A bucket lost to hibernation or eviction restarts full, which
 * is what a socket idle long enough to hibernate would have anyway.
 */
export interface TokenBucket {
  tokens: number;
  updatedAt: number;
}

export interface RateLimit {
  ratePerSecond: number;
  burst: number;
}

export type TakeResult = { ok: true } | { ok: false; retryAfterMs: number };

/** Takes one token from `bucket` (created full when absent), mutating it. */
export function takeToken(bucket: TokenBucket, limit: RateLimit, now: number): TakeResult {
  const elapsed = Math.max(0, now - bucket.updatedAt);
  bucket.tokens = Math.min(limit.burst, bucket.tokens + (elapsed * limit.ratePerSecond) / 1000);
  bucket.updatedAt = now;
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    return { ok: true };
  }
  return { ok: false, retryAfterMs: Math.ceil(((1 - bucket.tokens) * 1000) / limit.ratePerSecond) };
}

export const fullBucket = (limit: RateLimit, now: number): TokenBucket => ({ tokens: limit.burst, updatedAt: now });
