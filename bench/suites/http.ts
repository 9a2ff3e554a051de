// Authenticated reads at fixed concurrency: GET /v1/auth/me and GET /v1/settings (cache hit).
// Ours verifies an access token (no I/O) and reads what the route reads; the baseline loads the
// express-session from Redis on every request (plus connect-redis' rolling-expiry touch).
import { type BenchContext, BASE, OURS, type Suite, alternate } from "../lib/context.ts";
import { type LoadResult, runLoad, warmUp } from "../lib/http-load.ts";
import { settle } from "../lib/pg-counter.ts";
import { cpuMs } from "../lib/proc-cpu.ts";
import { type Better, makeRow, type Row, statusRow } from "../lib/report.ts";

const GROUP = "HTTP";
const SIDES: [string, string] = [OURS, BASE];

export interface Measured extends LoadResult {
  /** CPU of the server process per request, µs. */
  serverCpuUs: number;
  /** CPU of the local stand-ins (bridges, S3 server) per request, µs. */
  standInCpuUs: number;
}

export async function measured(
  ctx: BenchContext,
  url: string,
  headers: Record<string, string>,
  serverPid: number,
): Promise<Measured> {
  const cpuBefore = await Promise.all([cpuMs(serverPid), cpuMs(ctx.services.proc.pid)]);
  const load = await runLoad({
    url,
    headers,
    connections: ctx.profile.http.connections,
    durationS: ctx.profile.http.durationS,
  });
  const cpuAfter = await Promise.all([cpuMs(serverPid), cpuMs(ctx.services.proc.pid)]);
  const perRequestUs = (ms: number) => (load.requests ? (ms * 1000) / load.requests : Number.NaN);
  return {
    ...load,
    serverCpuUs: perRequestUs((cpuAfter[0] as number) - (cpuBefore[0] as number)),
    standInCpuUs: perRequestUs((cpuAfter[1] as number) - (cpuBefore[1] as number)),
  };
}

export interface PostgresCost {
  /** Table reads (sequential + index scans) per 1,000 requests. */
  readsPer1000: number;
  /** Connections opened per 1,000 requests. */
  connectionsPer1000: number;
}

/**
 * Postgres work per 1,000 requests, counted over exactly `count` requests that all finish before
 * the second reading (a timed load run leaves requests in flight when it stops, which would
 * inflate the ratio). Ten at a time; run after the load rounds, so caches are at steady state.
 */
export async function postgresPer1000(
  ctx: BenchContext,
  url: string,
  headers: Record<string, string>,
  count = 200,
): Promise<PostgresCost> {
  await settle();
  const before = await ctx.pg.read();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      next++;
      const res = await fetch(url, { headers, signal: AbortSignal.timeout(15_000) });
      await res.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: 10 }, worker));
  await settle();
  const after = await ctx.pg.read();
  return {
    readsPer1000: ((after.tableReads - before.tableReads) / count) * 1000,
    connectionsPer1000: ((after.sessions - before.sessions) / count) * 1000,
  };
}

export function postgresRows(
  group: string,
  benchmark: string,
  sides: [string, string],
  a: PostgresCost,
  b: PostgresCost,
): Row[] {
  const common = { group, benchmark, sides, unit: "", better: "none" as const };
  return [
    makeRow({
      ...common,
      metric: "Postgres table reads / 1,000 requests",
      a: [a.readsPer1000],
      b: [b.readsPer1000],
    }),
    makeRow({
      ...common,
      metric: "Postgres connections opened / 1,000 requests",
      a: [a.connectionsPer1000],
      b: [b.connectionsPer1000],
    }),
  ];
}

/** 200 from both sides, or the reason the benchmark cannot run. */
export async function probe(url: string, headers: Record<string, string>): Promise<string | null> {
  try {
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    if (res.status === 200) return null;
    return `answered ${res.status}${res.status === 404 ? " (route not there yet)" : `: ${text.slice(0, 120)}`}`;
  } catch (error) {
    return `failed: ${error instanceof Error ? error.message : String(error)}`;
  }
}

export function loadRows(
  group: string,
  benchmark: string,
  sides: [string, string],
  a: Measured[],
  b: Measured[],
  note?: string,
): Row[] {
  const metrics: Array<[string, string, Better, (m: Measured) => number]> = [
    ["requests/s", "", "higher", (m) => m.requestsPerSec],
    ["latency p50", "ms", "lower", (m) => m.p50Ms],
    ["latency p99", "ms", "lower", (m) => m.p99Ms],
    ["server process CPU per request", "µs", "lower", (m) => m.serverCpuUs],
    ["local stand-ins' CPU per request (bridges, S3)", "µs", "none", (m) => m.standInCpuUs],
    ["errors + wrong status", "", "none", (m) => m.errors + m.badStatus],
  ];
  return metrics.map(([metric, unit, better, f], i) =>
    makeRow({
      group,
      benchmark,
      sides,
      metric,
      unit,
      better,
      a: a.map(f),
      b: b.map(f),
      note: i === 0 ? note : undefined,
    }),
  );
}

export const httpSuite: Suite = {
  name: "http",
  async run(ctx) {
    const rows: Row[] = [];
    const endpoints = [
      // Calibration: no auth and no I/O on either side, so this row is the runtime plus framework alone.
      { benchmark: "GET /healthz (no I/O, calibration)", path: "/healthz", auth: false, countPostgres: false },
      { benchmark: "GET /v1/auth/me", path: "/v1/auth/me", auth: true, countPostgres: true },
      { benchmark: "GET /v1/settings (cache hit)", path: "/v1/settings", auth: true, countPostgres: true },
    ];
    for (const ep of endpoints) {
      const oursHeaders: Record<string, string> = ep.auth
        ? { authorization: `Bearer ${ctx.oursIdentity.user.token}` }
        : {};
      const baseHeaders: Record<string, string> = ep.auth ? { cookie: ctx.baseline.user.cookie } : {};
      const oursUrl = `${ctx.ours.url}${ep.path}`;
      const baseUrl = `${ctx.baseline.a.url}${ep.path}`;
      const missing = await probe(oursUrl, oursHeaders);
      if (missing) {
        rows.push(statusRow(GROUP, ep.benchmark, SIDES, "not available", `ours ${missing}`));
        continue;
      }
      const baseMissing = await probe(baseUrl, baseHeaders);
      if (baseMissing) {
        rows.push(statusRow(GROUP, ep.benchmark, SIDES, "error", `baseline ${baseMissing}`));
        continue;
      }
      ctx.log(`  ${ep.benchmark}: warm-up`);
      await warmUp(oursUrl, oursHeaders, ctx.profile.http.warmUpS, ctx.profile.http.connections);
      await warmUp(baseUrl, baseHeaders, ctx.profile.http.warmUpS, ctx.profile.http.connections);
      const { a, b } = await alternate(
        ctx,
        ctx.profile.rounds,
        async (i) => {
          const m = await measured(ctx, oursUrl, oursHeaders, ctx.ours.proc.pid);
          ctx.log(`  ${ep.benchmark} round ${i + 1} ours: ${Math.round(m.requestsPerSec)} req/s p99 ${m.p99Ms} ms`);
          return m;
        },
        async (i) => {
          const m = await measured(ctx, baseUrl, baseHeaders, ctx.baseline.a.proc.pid);
          ctx.log(`  ${ep.benchmark} round ${i + 1} baseline: ${Math.round(m.requestsPerSec)} req/s p99 ${m.p99Ms} ms`);
          return m;
        },
      );
      ctx.extra[`http ${ep.benchmark}`] = { ours: a, baseline: b };
      rows.push(
        ...loadRows(
          GROUP,
          ep.benchmark,
          SIDES,
          a,
          b,
          `${ctx.profile.http.connections} connections, ${ctx.profile.http.durationS} s per round`,
        ),
      );
      if (ep.countPostgres) {
        rows.push(
          ...postgresRows(
            GROUP,
            ep.benchmark,
            SIDES,
            await postgresPer1000(ctx, oursUrl, oursHeaders),
            await postgresPer1000(ctx, baseUrl, baseHeaders),
          ),
        );
      }
    }
    return rows;
  },
};
