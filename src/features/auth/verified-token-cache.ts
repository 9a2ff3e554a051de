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

/**
 * Entries are found by the token's last characters (its signature's, uniformly random for every
 * token we sign), and a hit is then the whole string compared: a Map keyed by the whole token hashes
 * every one of its characters on each lookup (a few hundred, the request's header is a new string
 * each time), this hashes 32 and compares the rest once. Two tokens sharing a tail only share a slot.
 */
const KEY_CHARS = 32;
const keyOf = (token: string): string => (token.length > KEY_CHARS ? token.slice(-KEY_CHARS) : token);

interface Entry {
  /** The whole token: a hit is this exact string. */
  token: string;
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
    const key = keyOf(token);
    const entry = this.#entries.get(key);
    if (!entry || entry.token !== token) return undefined;
    if (now >= entry.expires) {
      this.#entries.delete(key);
      return undefined;
    }
    if (now < entry.notBefore) return undefined;
    // Map keeps insertion order: re-inserting marks the entry most recently used. An entry in the
    // younger half is far from eviction (that takes maxEntries newer insertions), so it stays put.
    if (this.#seq - entry.seq >= this.maxEntries >> 1) {
      this.#entries.delete(key);
      entry.seq = this.#seq++;
      this.#entries.set(key, entry);
    }
    return entry.principal;
  }

  set(token: string, principal: Principal, notBefore: number, now: number): void {
    const expires = principal.expiresAt * 1000;
    if (now >= expires) return;
    const key = keyOf(token);
    this.#entries.delete(key);
    this.#entries.set(key, { token, principal, notBefore, expires, seq: this.#seq++ });
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
