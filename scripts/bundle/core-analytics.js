// "@upstash/core-analytics" for the deploy bundle (wrangler.toml [alias], mirrored in vitest.config.ts).
// @upstash/ratelimit constructs its Analytics only when a limiter is created with `analytics: true`;
// the service creates every limiter with `analytics: false` (src/features/auth/rate-limit.ts, checked
// by test/node/bundle-aliases.test.ts), so the analytics client (about 2 KiB gzip) is not shipped.
export class Analytics {
  constructor() {
    throw new Error("@upstash/core-analytics is not in the Worker bundle (scripts/bundle/core-analytics.js)");
  }
}
