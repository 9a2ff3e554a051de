// Settings reads in the service itself: served from the Redis cache (steady state) against a
// second Worker with no cache configured (every read goes to Postgres, what a cold or failed cache
// costs), plus single-request latency with the cache emptied before each read (a true miss: Redis
// miss + Postgres + refill). Reports Postgres queries per 1,000 reads, which at steady state should
// be close to zero.
import { type BenchContext, type Suite, alternate, deletePrefix } from "../lib/context.ts";
import { warmUp } from "../lib/http-load.ts";
import { makeRow, type Row, statusRow } from "../lib/report.ts";
import { quantile } from "../lib/stats.ts";
import { loadRows, measured, postgresPer1000, postgresRows, probe } from "./http.ts";

const GROUP = "Settings";

/** Latency of `count` sequential GETs; `before` runs (unmeasured) ahead of each one. */
async function sequentialLatency(
  url: string,
  headers: Record<string, string>,
  count: number,
  before?: () => Promise<unknown>,
): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    if (before) await before();
    const started = performance.now();
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`GET ${url} answered ${res.status}`);
    samples.push(performance.now() - started);
  }
  return samples;
}

export const settingsSuite: Suite = {
  name: "settings",
  async run(ctx: BenchContext) {
    const headers = { authorization: `Bearer ${ctx.oursIdentity.user.token}` };
    const hitUrl = `${ctx.ours.url}/v1/settings`;
    const missing = await probe(hitUrl, headers);
    if (missing)
      return [statusRow(GROUP, "GET /v1/settings", ["cache hit", "no cache"], "not available", `ours ${missing}`)];

    const rows: Row[] = [];
    let sequential: { hits: number[][]; misses: number[][] } = { hits: [], misses: [] };
    const noCache = await ctx.startOursVariant({
      UPSTASH_REDIS_REST_URL: undefined,
      UPSTASH_REDIS_REST_TOKEN: undefined,
    });
    // The same Worker with the isolate's local copy off: every read makes its Redis round trip.
    const redisOnly = await ctx.startOursVariant({ SETTINGS_LOCAL_TTL_MS: "0" });
    const redisOnlyUrl = `${redisOnly.url}/v1/settings`;
    try {
      const missUrl = `${noCache.url}/v1/settings`;
      const noCacheMissing = await probe(missUrl, headers);
      if (noCacheMissing) {
        rows.push(
          statusRow(GROUP, "GET /v1/settings", ["cache hit", "no cache"], "error", `no-cache Worker ${noCacheMissing}`),
        );
      } else {
        await warmUp(hitUrl, headers, ctx.profile.http.warmUpS, ctx.profile.http.connections);
        await warmUp(missUrl, headers, ctx.profile.http.warmUpS, ctx.profile.http.connections);
        await warmUp(redisOnlyUrl, headers, ctx.profile.http.warmUpS, ctx.profile.http.connections);
        const { a, b } = await alternate(
          ctx,
          ctx.profile.rounds,
          () => measured(ctx, hitUrl, headers, ctx.ours.proc.pid),
          () => measured(ctx, missUrl, headers, noCache.proc.pid),
        );
        const viaRedis: Awaited<ReturnType<typeof measured>>[] = [];
        for (let i = 0; i < a.length; i++)
          viaRedis.push(await measured(ctx, redisOnlyUrl, headers, redisOnly.proc.pid));
        ctx.extra["settings hit vs no cache"] = { hit: a, noCache: b, redisOnly: viaRedis };
        const local = "local copy (default)";
        rows.push(
          ...loadRows(
            GROUP,
            "GET /v1/settings at steady state",
            [local, "no cache (Postgres)"],
            a,
            b,
            `${ctx.profile.http.connections} connections`,
          ),
          ...loadRows(
            GROUP,
            "GET /v1/settings at steady state",
            [local, "Redis only (SETTINGS_LOCAL_TTL_MS=0)"],
            a.slice(0, viaRedis.length),
            viaRedis,
            "the Redis-only rounds ran after the others",
          ),
          // At steady state a hot read should read Postgres close to never.
          ...postgresRows(
            GROUP,
            "GET /v1/settings at steady state",
            [local, "no cache (Postgres)"],
            await postgresPer1000(ctx, hitUrl, headers),
            await postgresPer1000(ctx, missUrl, headers),
          ),
        );
      }
      // One request at a time: a hit (from memory), and a true miss (every cached key of this run
      // deleted first, on the Worker without a local copy, so the read goes to Redis, then Postgres).
      const n = ctx.profile.settings.sequentialReads;
      const { a: hits, b: misses } = await alternate(
        ctx,
        ctx.profile.rounds,
        () => sequentialLatency(hitUrl, headers, n),
        () => sequentialLatency(redisOnlyUrl, headers, n, () => deletePrefix(ctx.redis, ctx.oursKeyPrefix)),
      );
      sequential = { hits, misses };
    } finally {
      await noCache.stop();
      await redisOnly.stop();
    }
    const { hits, misses } = sequential;
    ctx.extra["settings sequential latency"] = { hits, misses };
    for (const [metric, q] of [
      ["single read p50", 0.5],
      ["single read p99", 0.99],
    ] as const) {
      rows.push(
        makeRow({
          group: GROUP,
          benchmark: "GET /v1/settings, one at a time",
          sides: ["hot read (memory)", "cache miss (Redis, then Postgres)"],
          metric,
          unit: "ms",
          better: "lower",
          a: hits.map((s) => quantile(s, q)),
          b: misses.map((s) => quantile(s, q)),
        }),
      );
    }
    return rows;
  },
};
