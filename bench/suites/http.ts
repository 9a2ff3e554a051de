// Authenticated reads at fixed concurrency: GET /v1/auth/me and GET /v1/settings (cache hit).
// Ours verifies an access token (no I/O) and reads what the route reads; the baseline loads the
// express-session from Redis on every request (plus connect-redis' rolling-expiry touch).
import { BASE, type BenchContext, FLOOR_NODE, FLOOR_WORKERD, OURS, OURS_NODE, type Suite } from "../lib/context.ts";
import { type LoadResult, runLoad, warmUp } from "../lib/http-load.ts";
import { settle } from "../lib/pg-counter.ts";
import { cpuMs, processTree } from "../lib/proc-cpu.ts";
import { type Better, makeRow, type Row, statusRow } from "../lib/report.ts";

const GROUP = "HTTP";
const SIDES: [string, string] = [OURS, BASE];

export interface Measured extends LoadResult {
  /** CPU of the server's process tree per request, µs (workerd itself, not its wrapper). */
  serverCpuUs: number;
  /** CPU of the local stand-ins (bridges, S3 server) per request, µs. */
  standInCpuUs: number;
  /** CPU of the run's own redis-server per request, µs (NaN on a shared Redis). */
  redisCpuUs: number;
  /** CPU of the Postgres backends connected to the benchmark database per request, µs. */
  postgresCpuUs: number;
  /** All of the above: what one request costs the machine, wherever the work lands. */
  allCpuUs: number;
  /** Redis commands (INFO stats total_commands_processed) per request. */
  redisCommandsPerRequest: number;
}

/** The processes whose CPU a load run is charged: the server's tree, the stand-ins, Redis, Postgres. */
async function chargedProcesses(ctx: BenchContext, serverPid: number) {
  const [server, standIns, postgres] = await Promise.all([
    processTree(serverPid),
    processTree(ctx.services.proc.pid),
    ctx.pg.backendPids().catch(() => [] as number[]),
  ]);
  return { server, standIns, redis: ctx.redisServer.pid === null ? [] : [ctx.redisServer.pid], postgres };
}

type Reading = Record<"server" | "standIns" | "redis" | "postgres", Map<number, number>>;

async function cpuReading(pids: Awaited<ReturnType<typeof chargedProcesses>>): Promise<Reading> {
  const read = async (list: number[]) =>
    new Map(await Promise.all(list.map(async (pid) => [pid, await cpuMs(pid)] as const)));
  const [server, standIns, redis, postgres] = await Promise.all([
    read(pids.server),
    read(pids.standIns),
    read(pids.redis),
    read(pids.postgres),
  ]);
  return { server, standIns, redis, postgres };
}

/**
 * CPU ms a group used between two readings, over the processes readable both times (a Postgres
 * backend may exit meanwhile); NaN when none was. `noneIsZero`: an empty group (no backend
 * connected) used nothing.
 */
function used(before: Map<number, number>, after: Map<number, number>, noneIsZero = false): number {
  if (before.size === 0) return noneIsZero ? 0 : Number.NaN;
  let total = 0;
  let counted = 0;
  for (const [pid, start] of before) {
    const end = after.get(pid);
    if (end === undefined || !Number.isFinite(start) || !Number.isFinite(end)) continue;
    total += end - start;
    counted++;
  }
  return counted ? total : noneIsZero ? 0 : Number.NaN;
}

export async function measured(
  ctx: BenchContext,
  url: string,
  headers: Record<string, string>,
  serverPid: number,
): Promise<Measured> {
  const pids = await chargedProcesses(ctx, serverPid);
  const [cpuBefore, commandsBefore] = await Promise.all([cpuReading(pids), ctx.redisServer.commands()]);
  const load = await runLoad({
    url,
    headers,
    connections: ctx.profile.http.connections,
    durationS: ctx.profile.http.durationS,
  });
  const [cpuAfter, commandsAfter] = await Promise.all([cpuReading(pids), ctx.redisServer.commands()]);
  const perRequestUs = (ms: number) => (load.requests ? (ms * 1000) / load.requests : Number.NaN);
  const serverCpuUs = perRequestUs(used(cpuBefore.server, cpuAfter.server));
  const standInCpuUs = perRequestUs(used(cpuBefore.standIns, cpuAfter.standIns));
  const redisCpuUs = perRequestUs(used(cpuBefore.redis, cpuAfter.redis));
  const postgresCpuUs = perRequestUs(used(cpuBefore.postgres, cpuAfter.postgres, true));
  return {
    ...load,
    // A server that used no CPU over thousands of requests was not the one measured: NaN, "not measured".
    serverCpuUs: serverCpuUs > 0 ? serverCpuUs : Number.NaN,
    standInCpuUs,
    redisCpuUs,
    postgresCpuUs,
    allCpuUs: serverCpuUs > 0 ? serverCpuUs + standInCpuUs + redisCpuUs + postgresCpuUs : Number.NaN,
    // The reading INFO of the first call is counted by the second.
    redisCommandsPerRequest: load.requests ? (commandsAfter - commandsBefore - 1) / load.requests : Number.NaN,
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

/** One GET: its body when it answered 200, else why the benchmark cannot run on it. */
async function fetched(
  url: string,
  headers: Record<string, string>,
): Promise<{ problem: string | null; body: string }> {
  try {
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
    const body = await res.text();
    if (res.status === 200) return { problem: null, body };
    const problem = `answered ${res.status}${res.status === 404 ? " (route not there yet)" : `: ${body.slice(0, 120)}`}`;
    return { problem, body };
  } catch (error) {
    return { problem: `failed: ${error instanceof Error ? error.message : String(error)}`, body: "" };
  }
}

/** 200 from both sides, or the reason the benchmark cannot run. */
export const probe = async (url: string, headers: Record<string, string>): Promise<string | null> =>
  (await fetched(url, headers)).problem;

/** The body a 200 answer carries, or undefined (no 200: the probe reports why). */
async function bodyOf(url: string, headers: Record<string, string>): Promise<string | undefined> {
  const { problem, body } = await fetched(url, headers);
  return problem === null ? body : undefined;
}

/** Gives a floor the body to answer on `path` (bench/floor/app.ts). */
async function handFloorBody(floorUrl: string, path: string, body: string): Promise<void> {
  const res = await fetch(`${floorUrl}/__floor/body?path=${encodeURIComponent(path)}`, {
    method: "PUT",
    body,
    signal: AbortSignal.timeout(10_000),
  });
  await res.arrayBuffer();
  if (res.status !== 204) throw new Error(`the floor at ${floorUrl} refused the body for ${path}: ${res.status}`);
}

export function loadRows(
  group: string,
  benchmark: string,
  sides: [string, string],
  a: Measured[],
  b: Measured[],
  note?: string,
): Row[] {
  // autocannon reports whole milliseconds: a latency of 0 is "under 1 ms", a measured figure.
  const subMs = (v: number) => (v === 0 ? 0.5 : v);
  const metrics: Array<[string, string, Better, (m: Measured) => number]> = [
    ["requests/s", "", "higher", (m) => m.requestsPerSec],
    ["latency p50 (0.5 = under 1 ms)", "ms", "lower", (m) => subMs(m.p50Ms)],
    ["latency p99 (0.5 = under 1 ms)", "ms", "lower", (m) => subMs(m.p99Ms)],
    ["server process CPU per request", "µs", "lower", (m) => m.serverCpuUs],
    ["CPU per request, all processes (service, stand-ins, Redis, Postgres)", "µs", "lower", (m) => m.allCpuUs],
    ["local stand-ins' CPU per request (bridges, S3)", "µs", "none", (m) => m.standInCpuUs],
    ["Redis commands per request", "", "none", (m) => m.redisCommandsPerRequest],
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

interface Side {
  label: string;
  url: string;
  pid: number;
  headers: Record<string, string>;
}

/** The comparisons each endpoint gets; both sides of a pair are measured in the same rounds. */
const PAIRS: Array<[string, string]> = [
  [OURS, BASE],
  [OURS_NODE, BASE],
  [OURS, FLOOR_WORKERD],
  [OURS_NODE, FLOOR_NODE],
];

export const httpSuite: Suite = {
  name: "http",
  async run(ctx) {
    const rows: Row[] = [];
    const endpoints = [
      // Calibration: no auth and no I/O on either side, so this row is the runtime plus framework alone.
      { benchmark: "GET /healthz (no I/O, calibration)", path: "/healthz", auth: false, countPostgres: false },
      { benchmark: "GET /v1/auth/me", path: "/v1/auth/me", auth: true, countPostgres: true },
      { benchmark: "GET /v1/settings (hot read)", path: "/v1/settings", auth: true, countPostgres: true },
    ];
    for (const ep of endpoints) {
      const bearer: Record<string, string> = ep.auth ? { authorization: `Bearer ${ctx.oursIdentity.user.token}` } : {};
      const candidates: Array<Side | null> = [
        { label: OURS, url: `${ctx.ours.url}${ep.path}`, pid: ctx.ours.proc.pid, headers: bearer },
        ctx.oursNode && {
          label: OURS_NODE,
          url: `${ctx.oursNode.url}${ep.path}`,
          pid: ctx.oursNode.proc.pid,
          headers: bearer,
        },
        {
          label: BASE,
          url: `${ctx.baseline.a.url}${ep.path}`,
          pid: ctx.baseline.a.proc.pid,
          headers: ep.auth ? { cookie: ctx.baseline.user.cookie } : {},
        },
        // The floors answer every path with the same bare JSON: what the runtime itself allows. They
        // get ours' request byte for byte (the bearer header included: 555 bytes the runtime parses
        // and hands over whoever reads them), so the pair differs only in what the app does with it.
        ctx.floors.workerd && {
          label: FLOOR_WORKERD,
          url: `${ctx.floors.workerd.url}${ep.path}`,
          pid: ctx.floors.workerd.proc.pid,
          headers: bearer,
        },
        ctx.floors.node && {
          label: FLOOR_NODE,
          url: `${ctx.floors.node.url}${ep.path}`,
          pid: ctx.floors.node.proc.pid,
          headers: bearer,
        },
      ];
      // The floors answer ours' body on this path (bench/floor/app.ts): the same bytes out on both sides.
      const oursBody = await bodyOf(`${ctx.ours.url}${ep.path}`, bearer);
      if (oursBody !== undefined) {
        for (const floor of [ctx.floors.workerd, ctx.floors.node]) {
          if (floor) await handFloorBody(floor.url, ep.path, oursBody);
        }
      }
      const sides: Side[] = [];
      const unavailable = new Map<string, string>();
      for (const side of candidates) {
        if (!side) continue;
        const missing = await probe(side.url, side.headers);
        if (missing) unavailable.set(side.label, missing);
        else sides.push(side);
      }
      for (const side of sides) {
        ctx.log(`  ${ep.benchmark}: warm-up ${side.label}`);
        await warmUp(side.url, side.headers, ctx.profile.http.warmUpS, ctx.profile.http.connections);
      }
      // Every side once per round, the order rotated round by round so none always runs first.
      const results = new Map<string, Measured[]>(sides.map((side) => [side.label, []]));
      let roundS = 0;
      for (let round = 0; round < ctx.profile.rounds; round++) {
        if (round > 0 && ctx.timeLeftS() < roundS * 1.2 + 5) {
          ctx.log(`  budget: stopping after ${round} round(s)`);
          break;
        }
        const started = performance.now();
        for (let i = 0; i < sides.length; i++) {
          const side = sides[(i + round) % sides.length] as Side;
          const m = await measured(ctx, side.url, side.headers, side.pid);
          ctx.log(
            `  ${ep.benchmark} round ${round + 1} ${side.label}: ${Math.round(m.requestsPerSec)} req/s p99 ${m.p99Ms} ms, ${m.allCpuUs.toFixed(0)} µs CPU all processes, ${m.redisCommandsPerRequest.toFixed(3)} Redis cmds/req`,
          );
          results.get(side.label)?.push(m);
        }
        roundS = (performance.now() - started) / 1000;
      }
      ctx.extra[`http ${ep.benchmark}`] = Object.fromEntries(results);
      const note = `${ctx.profile.http.connections} connections, ${ctx.profile.http.durationS} s per round; every side measured in each round`;
      for (const pair of PAIRS) {
        const [a, b] = pair.map((label) => results.get(label));
        const reason = pair
          .map((label) => unavailable.get(label) && `${label} ${unavailable.get(label)}`)
          .find(Boolean);
        if (!a || !b) {
          const missingSide = pair.find((label) => !results.has(label)) ?? pair[0];
          rows.push(
            statusRow(
              GROUP,
              ep.benchmark,
              pair,
              "not available",
              reason ?? `${missingSide} did not start (see the notes): not measured`,
            ),
          );
          continue;
        }
        rows.push(...loadRows(GROUP, ep.benchmark, pair, a, b, note));
      }
      if (ep.countPostgres && results.has(OURS) && results.has(BASE)) {
        const ours = sides.find((side) => side.label === OURS) as Side;
        const base = sides.find((side) => side.label === BASE) as Side;
        rows.push(
          ...postgresRows(
            GROUP,
            ep.benchmark,
            SIDES,
            await postgresPer1000(ctx, ours.url, ours.headers),
            await postgresPer1000(ctx, base.url, base.headers),
          ),
        );
      }
    }
    return rows;
  },
};
