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
    const noCache = await ctx.startOursVariant({
      UPSTASH_REDIS_REST_URL: undefined,
      UPSTASH_REDIS_REST_TOKEN: undefined,
    });
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
        const { a, b } = await alternate(
          ctx,
          ctx.profile.rounds,
          () => measured(ctx, hitUrl, headers, ctx.ours.proc.pid),
          () => measured(ctx, missUrl, headers, noCache.proc.pid),
        );
        ctx.extra["settings hit vs no cache"] = { hit: a, noCache: b };
        rows.push(
          ...loadRows(
            GROUP,
            "GET /v1/settings at steady state",
            ["cache hit", "no cache (Postgres)"],
            a,
            b,
            `${ctx.profile.http.connections} connections`,
          ),
          // At steady state a cache hit should read Postgres close to never.
          ...postgresRows(
            GROUP,
            "GET /v1/settings at steady state",
            ["cache hit", "no cache (Postgres)"],
            await postgresPer1000(ctx, hitUrl, headers),
            await postgresPer1000(ctx, missUrl, headers),
          ),
        );
      }
    } finally {
      await noCache.stop();
    }

    // One request at a time: a hit, and a true miss (every cached key of this run deleted first).
    const n = ctx.profile.settings.sequentialReads;
    const { a: hits, b: misses } = await alternate(
      ctx,
      ctx.profile.rounds,
      () => sequentialLatency(hitUrl, headers, n),
      () => sequentialLatency(hitUrl, headers, n, () => deletePrefix(ctx.redis, ctx.oursKeyPrefix)),
    );
    ctx.extra["settings sequential latency"] = { hits, misses };
    for (const [metric, q] of [
      ["single read p50", 0.5],
      ["single read p99", 0.99],
    ] as const) {
      rows.push(
        makeRow({
          group: GROUP,
          benchmark: "GET /v1/settings, one at a time",
          sides: ["cache hit", "cache miss"],
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
