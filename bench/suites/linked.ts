// `--only=linked`: ours off Workers as linked Node instances (runtimes/node.ts with REDIS_URL) against
// socket.io over the same number of Node processes, side by side in one run:
//   1. one room, clients split evenly over 2 instances a side, one publisher at a steady rate:
//      delivered/s, publish→receive latency, CPU per 1,000 deliveries (the instances', and Redis');
//      ours vs socket.io + @socket.io/redis-adapter (the harness' baseline pair);
//   2. the crash scenario (linked-crash.ts) over 3 instances a side, the last SIGKILLed mid-stream:
//      ours vs socket.io + @socket.io/redis-streams-adapter with connection state recovery.
// The realtime suite's clients and rounds are reused as they are (realtime-clients.ts, runRound).
import { alternate, BASE, type BenchContext, type Suite } from "../lib/context.ts";
import { cpuMs } from "../lib/proc-cpu.ts";
import { type Better, makeRow, type Row, statusRow } from "../lib/report.ts";
import { quantile } from "../lib/stats.ts";
import { type CrashResult, crashBaseline, crashOurs } from "./linked-crash.ts";
import { type FleetMember, startLinkedNodes, startStreamsBaselines } from "./linked-fleet.ts";
import { type RoundResult, runRound } from "./realtime.ts";
import { connectBaseline, connectOurs, type Recorder, type Side, sleep } from "./realtime-clients.ts";

const GROUP = "Linked instances";
const FANOUT_SIDES: [string, string] = [
  "ours (2 linked Node instances)",
  `${BASE} (socket.io + Redis adapter, 2 processes)`,
];
const CRASH_SIDES: [string, string] = [
  "ours (3 linked Node instances)",
  `${BASE} (socket.io + redis-streams-adapter, state recovery, 3 processes)`,
];

interface FanoutRound extends RoundResult {
  /** Redis CPU per 1,000 deliveries, ms (NaN when the Redis is shared and its CPU is not ours to read). */
  redisCpuPer1000: number;
}

/** One round of the realtime suite, plus the Redis server's CPU over it. */
async function fanoutRound(
  ctx: BenchContext,
  side: Side,
  rec: Recorder,
  clients: number,
  rate: number,
): Promise<FanoutRound> {
  const pid = ctx.redisServer.pid;
  const before = pid === null ? Number.NaN : await cpuMs(pid);
  const result = await runRound(ctx, side, rec, clients, rate);
  const delivered = rec.latencies.length;
  const after = pid === null ? Number.NaN : await cpuMs(pid);
  return { ...result, redisCpuPer1000: delivered ? ((after - before) / delivered) * 1000 : Number.NaN };
}

async function fanoutRows(ctx: BenchContext, ours: FleetMember[]): Promise<Row[]> {
  const { clients, ratePerS } = ctx.profile.linked;
  const benchmark = `1 room, ${clients.toLocaleString("en-US")} clients over 2 instances, ${ratePerS} msg/s`;
  const room = `bench-${ctx.runId}-linked`;
  let oursRec: Recorder = { round: -1, latencies: [], lastAt: 0 };
  let baseRec: Recorder = { round: -1, latencies: [], lastAt: 0 };
  const deadline = performance.now() + 120_000;
  const target = { urls: ours.map((m) => m.url), pids: ours.map((m) => m.proc.pid), tag: `${ctx.runId}-linked` };
  const oursSide = await connectOurs(ctx, room, clients, () => oursRec, deadline, target);
  let baseSide: Side | undefined;
  try {
    baseSide = await connectBaseline(ctx, `${room}-base`, clients, () => baseRec, deadline);
    const base = baseSide;
    await sleep(1000);
    const { a, b } = await alternate(
      ctx,
      ctx.profile.rounds,
      (i) => {
        oursRec = { round: i, latencies: [], lastAt: 0 };
        return fanoutRound(ctx, oursSide, oursRec, clients, ratePerS);
      },
      (i) => {
        baseRec = { round: i, latencies: [], lastAt: 0 };
        return fanoutRound(ctx, base, baseRec, clients, ratePerS);
      },
    );
    ctx.extra["linked fan-out"] = { ours: a, baseline: b };
    ctx.log(
      `  ${benchmark}: ours p99 ${a.map((r) => r.p99Ms.toFixed(0)).join("/")} ms, baseline p99 ${b.map((r) => r.p99Ms.toFixed(0)).join("/")} ms`,
    );
    const note = `${ctx.profile.realtime.sendS} s of publishing per round; clients alternate between the two instances, the publisher on the first`;
    const redisNote = ctx.redisServer.private ? undefined : "the shared Redis: its CPU is not this run's to read";
    const metrics: Array<[string, string, Better, (r: FanoutRound) => number, string?]> = [
      ["delivered messages/s", "", "higher", (r) => r.deliveredPerS],
      ["publish→receive p50", "ms", "lower", (r) => r.p50Ms],
      ["publish→receive p99", "ms", "lower", (r) => r.p99Ms],
      ["delivered within the drain window", "%", "higher", (r) => r.deliveredPct],
      ["instances' CPU per 1,000 deliveries", "ms", "lower", (r) => r.cpuPer1000],
      [
        "Redis CPU per 1,000 deliveries",
        "ms",
        "none",
        (r) => r.redisCpuPer1000,
        redisNote ?? "CPU is read in 10 ms clock ticks: 0 is under one tick in the round",
      ],
      [
        "instances' + Redis CPU per 1,000 deliveries",
        "ms",
        "lower",
        (r) => r.cpuPer1000 + r.redisCpuPer1000,
        redisNote,
      ],
    ];
    return [
      ...metrics.map(([metric, unit, better, f, extraNote]) =>
        makeRow({
          group: GROUP,
          benchmark,
          sides: FANOUT_SIDES,
          metric,
          unit,
          better,
          a: a.map(f),
          b: b.map(f),
          note: extraNote ?? note,
        }),
      ),
      makeRow({
        group: GROUP,
        benchmark,
        sides: FANOUT_SIDES,
        metric: "publishes refused by the server",
        unit: "",
        better: "none",
        a: a.map((r) => r.refused),
        b: b.map((r) => r.refused),
        note: [...a, ...b].find((r) => r.refused > 0)?.refusedReason,
      }),
    ];
  } finally {
    oursSide.close();
    baseSide?.close();
  }
}

/** The crash rows from one run of the scenario on each side. */
export function crashRows(benchmark: string, ours: CrashResult, base: CrashResult): Row[] {
  const common = { group: GROUP, benchmark, sides: CRASH_SIDES };
  const count = (metric: string, f: (r: CrashResult) => number, note?: string) =>
    makeRow({ ...common, metric, unit: "", better: "lower", a: [f(ours)], b: [f(base)], counts: true, note });
  const resumed = (r: CrashResult) => r.resumeMs.filter(Number.isFinite);
  const never = (r: CrashResult) => r.resumeMs.length - resumed(r).length;
  const resume = (metric: string, q: number) =>
    makeRow({
      ...common,
      metric,
      unit: "ms",
      better: "lower",
      a: [quantile(resumed(ours), q)],
      b: [quantile(resumed(base), q)],
      note: `from the SIGKILL to the first message on the new connection, over the killed instance's clients (never resumed: ${never(ours)} / ${never(base)})`,
    });
  return [
    count(
      "messages lost (acknowledged, never received), all clients",
      (r) => r.lost,
      "owed: every acknowledged publish, to every client",
    ),
    count("clients that lost a message", (r) => r.clientsWithLoss),
    count("messages duplicated", (r) => r.duplicated),
    count("messages out of order", (r) => r.outOfOrder),
    resume("time to resume, p50", 0.5),
    resume("time to resume, max", 1),
    makeRow({
      ...common,
      metric: "publishes acknowledged / sent",
      unit: "",
      better: "none",
      a: [ours.acked],
      b: [base.acked],
      note: `sent ${ours.published} / ${base.published}; ${ours.movedClients} / ${base.movedClients} clients moved off the killed instance${
        base.recovered === undefined ? "" : `; socket.io restored ${base.recovered} of their sessions`
      }${
        base.controlRecovered === undefined
          ? ""
          : `; control (a client whose transport closed while its process lived, resumed on another): ${
              base.controlRecovered ? "restored, missed nothing" : "NOT restored: the harness' resume path failed"
            }`
      }`,
    }),
  ];
}

export const linkedSuite: Suite = {
  name: "linked",
  async run(ctx) {
    const rows: Row[] = [];
    const fanoutName = `1 room, ${ctx.profile.linked.clients.toLocaleString("en-US")} clients over 2 instances`;
    let ours: FleetMember[] = [];
    try {
      // Three instances up front: the fan-out uses the first two, the crash kills the third.
      ours = await startLinkedNodes(ctx, 3, `${ctx.oursKeyPrefix}linked:`);
      ctx.log(`  linked instances up at ${ours.map((m) => m.url).join(", ")}`);
    } catch (error) {
      const reason = error instanceof Error ? (error.message.split("\n")[0] ?? "") : String(error);
      return [statusRow(GROUP, fanoutName, FANOUT_SIDES, "not available", `ours: ${reason}`)];
    }
    try {
      if (ctx.timeLeftS() < 60) rows.push(statusRow(GROUP, fanoutName, FANOUT_SIDES, "skipped", "time budget used up"));
      else {
        rows.push(
          ...(await fanoutRows(ctx, ours.slice(0, 2)).catch((error: unknown) => [
            statusRow(GROUP, fanoutName, FANOUT_SIDES, "error", error instanceof Error ? error.message : String(error)),
          ])),
        );
      }
      const { crashClients, crashRatePerS, crashBeforeS, crashAfterS } = ctx.profile.linked;
      const crashName = `1 of 3 instances SIGKILLed mid-stream, ${crashClients} clients, ${crashRatePerS} msg/s`;
      if (ctx.timeLeftS() < 45) {
        rows.push(statusRow(GROUP, crashName, CRASH_SIDES, "skipped", "time budget used up"));
        return rows;
      }
      let base: FleetMember[] = [];
      try {
        base = await startStreamsBaselines(ctx, 3);
        const opts = {
          clients: crashClients,
          ratePerS: crashRatePerS,
          beforeS: crashBeforeS,
          afterS: crashAfterS,
          drainS: 5,
        };
        const oursCrash = await crashOurs(ctx, ours, `bench-${ctx.runId}-crash`, opts);
        await sleep(500);
        const baseCrash = await crashBaseline(ctx, base, `bench-${ctx.runId}-crash`, opts);
        ctx.extra["linked crash"] = { ours: oursCrash, baseline: baseCrash };
        const brief = (r: CrashResult) =>
          `lost ${r.lost}, dup ${r.duplicated}, out of order ${r.outOfOrder}, resume p50 ${quantile(r.resumeMs, 0.5).toFixed(0)} ms`;
        ctx.log(`  crash: ours ${brief(oursCrash)}; socket.io ${brief(baseCrash)}`);
        rows.push(...crashRows(crashName, oursCrash, baseCrash));
      } catch (error) {
        rows.push(
          statusRow(GROUP, crashName, CRASH_SIDES, "error", error instanceof Error ? error.message : String(error)),
        );
      } finally {
        await Promise.all(base.map((m) => m.stop()));
      }
    } finally {
      await Promise.all(ours.map((m) => m.stop()));
    }
    return rows;
  },
};
