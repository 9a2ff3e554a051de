import type { Config } from "../../core/config.ts";
import type { Principal } from "../../core/principal.ts";

/**
 * Access tokens that passed every check, remembered per isolate so a client presenting the same
 * token again (every request of a session does) costs a map lookup, not base64/JSON parsing and a
 * signature check. Safe because the key is the whole token string: a hit is byte-for-byte a token
 * that already verified, under the same config (so the same keys, issuer and audience: a config with
 * a rotated key set has a cache of its own). Entries leave at the token's `exp` (before the 30 s
 * skew a cold check would still grant) and, past the bound, least-recently-used first (to within
 * half the bound: a hit moves its entry to the young end only once it is in the older half, so the
 * hot path, one session's token again and again, is a single map lookup, not a delete and a set).
 *
 * Revocation is not this cache's business: verification never consulted it, and the sensitive routes
 * check it after verification on every request (requireActiveSession).
 */
export const VERIFIED_TOKEN_CACHE_ENTRIES = 4096;

interface Entry {
  principal: Principal;
  /** Epoch ms from which the token passes the time checks, and at which it stops. */
  notBefore: number;
  expires: number;
  /** The insertion count when this entry was (re)inserted. */
  seq: number;
}

export class VerifiedTokenCache {
  readonly #entries = new Map<string, Entry>();
  /** Insertions so far (sets and moves to the young end). */
  #seq = 0;
  readonly maxEntries: number;
  constructor(maxEntries = VERIFIED_TOKEN_CACHE_ENTRIES) {
    this.maxEntries = maxEntries;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(token: string, now: number): Principal | undefined {
    const entry = this.#entries.get(token);
    if (!entry) return undefined;
    if (now >= entry.expires) {
      this.#entries.delete(token);
      return undefined;
    }
    if (now < entry.notBefore) return undefined;
    // Map keeps insertion order: re-inserting marks the entry most recently used. An entry in the
    // younger half is far from eviction (that takes maxEntries newer insertions), so it stays put.
    if (this.#seq - entry.seq >= this.maxEntries >> 1) {
      this.#entries.delete(token);
      entry.seq = this.#seq++;
      this.#entries.set(token, entry);
    }
    return entry.principal;
  }

  set(token: string, principal: Principal, notBefore: number, now: number): void {
    const expires = principal.expiresAt * 1000;
    if (now >= expires) return;
    this.#entries.delete(token);
    this.#entries.set(token, { principal, notBefore, expires, seq: this.#seq++ });
    if (this.#entries.size > this.maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
  }
}

// One cache per (immutable, memoised) Config, like the imported keys in key-set.ts.
const caches = new WeakMap<Config, VerifiedTokenCache>();

export function verifiedTokenCacheFor(config: Config): VerifiedTokenCache {
  let cache = caches.get(config);
  if (!cache) {
    cache = new VerifiedTokenCache();
    caches.set(config, cache);
  }
  return cache;
}
