// One room, N clients, one publisher at a fixed rate: messages delivered per second and
// publish-to-receive latency. Ours: one Durable Object holding every socket (WebSocket
// /v1/rooms/:room/ws, publish frames). Baseline: socket.io with the Redis adapter, clients split
// evenly over the two Node processes, the publisher on the first. Clients, publisher and clock all
// live in this process, so latency is one clock's difference (performance.now() in the payload).
import { createUsers } from "../ours/identity.ts";
import { type BenchContext, BASE, OURS, type Suite, alternate } from "../lib/context.ts";
import { type Better, makeRow, type Row, statusRow } from "../lib/report.ts";
import { cpuMs } from "../lib/proc-cpu.ts";
import { quantile } from "../lib/stats.ts";
import { connectBaseline, connectOurs, openOurs, type Recorder, type Side, sleep } from "./realtime-clients.ts";

const GROUP = "Realtime";
const SIDES: [string, string] = [OURS, `${BASE} (socket.io + Redis adapter, 2 processes)`];

// --- one round --------------------------------------------------------------------------------------

interface RoundResult {
  deliveredPerS: number;
  deliveredPct: number;
  p50Ms: number;
  p99Ms: number;
  sent: number;
  /** Publishes refused by the server in this round, and why. */
  refused: number;
  refusedReason: string;
  /** Server CPU per 1,000 delivered messages, ms. */
  cpuPer1000: number;
}

const totalCpu = async (pids: number[]): Promise<number> =>
  (await Promise.all(pids.map(cpuMs))).reduce((a, b) => a + b, 0);

async function runRound(
  ctx: BenchContext,
  side: Side,
  rec: Recorder,
  clients: number,
  rate: number,
): Promise<RoundResult> {
  const { sendS, drainS } = ctx.profile.realtime;
  const total = Math.round(rate * sendS);
  const expected = total * clients;
  const cpuBefore = await totalCpu(side.pids);
  const refusedBefore = side.refused.count;
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const wait = start + (i * 1000) / rate - performance.now();
    if (wait > 0) await sleep(wait);
    side.publish({ r: rec.round, i, t: performance.now() });
  }
  const drainUntil = performance.now() + drainS * 1000;
  while (rec.latencies.length < expected && performance.now() < drainUntil) await sleep(20);
  const count = rec.latencies.length;
  const cpu = (await totalCpu(side.pids)) - cpuBefore;
  const spanS = ((count ? rec.lastAt : performance.now()) - start) / 1000;
  return {
    deliveredPerS: spanS > 0 ? count / spanS : 0,
    deliveredPct: (count / expected) * 100,
    p50Ms: quantile(rec.latencies, 0.5),
    p99Ms: quantile(rec.latencies, 0.99),
    sent: total,
    refused: side.refused.count - refusedBefore,
    refusedReason: side.refused.last,
    cpuPer1000: count ? (cpu / count) * 1000 : Number.NaN,
  };
}

export const realtimeSuite: Suite = {
  name: "realtime",
  async run(ctx) {
    const rows: Row[] = [];
    // Availability: one socket into a probe room.
    try {
      const [probeUser] = await createUsers(ctx.services.databaseUrl, ctx.workerVars, `${ctx.runId}-probe`, 1);
      const ws = await openOurs(
        `${ctx.ours.url.replace(/^http/, "ws")}/v1/rooms/bench-${ctx.runId}-probe/ws`,
        probeUser?.token ?? "",
        () => {},
      );
      ws.terminate();
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      return [statusRow(GROUP, "one room, WebSocket fan-out", SIDES, "not available", `ours ${reason}`)];
    }

    for (const { clients, ratePerS } of ctx.profile.realtime.sizes) {
      const benchmark = `1 room, ${clients.toLocaleString("en-US")} clients, ${ratePerS} msg/s`;
      if (ctx.timeLeftS() < 40) {
        rows.push(statusRow(GROUP, benchmark, SIDES, "skipped", "time budget used up"));
        continue;
      }
      const room = `bench-${ctx.runId}-${clients}`;
      let oursRec: Recorder = { round: -1, latencies: [], lastAt: 0 };
      let baseRec: Recorder = { round: -1, latencies: [], lastAt: 0 };
      let ours: Side | undefined;
      let base: Side | undefined;
      try {
        // Connecting may take long (ours does per-connection work, see BENCHMARKS.md); keep a minute for the rounds.
        const connectS = Math.max(10, Math.min(ctx.profile.realtime.connectTimeoutS, (ctx.timeLeftS() - 60) / 2));
        const deadline = () => performance.now() + connectS * 1000;
        let t = performance.now();
        // If ours cannot connect every client in time, the baseline is still measured and the rows say why.
        let oursFailure: string | undefined;
        ours = await connectOurs(ctx, room, clients, () => oursRec, deadline()).catch((error: unknown) => {
          oursFailure = `ours: ${error instanceof Error ? error.message : String(error)}`;
          return undefined;
        });
        const oursConnectS = (performance.now() - t) / 1000;
        t = performance.now();
        base = await connectBaseline(ctx, room, clients, () => baseRec, deadline());
        const baseConnectS = (performance.now() - t) / 1000;
        ctx.log(
          `  ${benchmark}: connected in ${oursConnectS.toFixed(1)} s (ours${oursFailure ? `, failed: ${oursFailure}` : ""}) / ${baseConnectS.toFixed(1)} s (baseline)`,
        );
        await sleep(500);
        const oursSide = ours;
        const baseSide = base;
        const baseRound = (i: number) => {
          baseRec = { round: i, latencies: [], lastAt: 0 };
          return runRound(ctx, baseSide, baseRec, clients, ratePerS);
        };
        let a: RoundResult[] = [];
        let b: RoundResult[] = [];
        if (oursSide) {
          ({ a, b } = await alternate(
            ctx,
            ctx.profile.rounds,
            (i) => {
              oursRec = { round: i, latencies: [], lastAt: 0 };
              return runRound(ctx, oursSide, oursRec, clients, ratePerS);
            },
            baseRound,
          ));
        } else {
          for (let i = 0; i < ctx.profile.rounds; i++) b.push(await baseRound(i));
        }
        ctx.extra[`realtime ${clients}`] = {
          ours: a,
          baseline: b,
          connectS: { ours: oursConnectS, baseline: baseConnectS },
        };
        ctx.log(
          `  ${benchmark}: ours p99 ${a.map((r) => r.p99Ms.toFixed(0)).join("/")} ms, baseline p99 ${b.map((r) => r.p99Ms.toFixed(0)).join("/")} ms`,
        );
        const note = oursFailure ?? `${ctx.profile.realtime.sendS} s of publishing per round`;
        const metrics: Array<[string, string, Better, (r: RoundResult) => number]> = [
          ["delivered messages/s", "", "higher", (r) => r.deliveredPerS],
          ["publish→receive p50", "ms", "lower", (r) => r.p50Ms],
          ["publish→receive p99", "ms", "lower", (r) => r.p99Ms],
          ["delivered within the drain window", "%", "higher", (r) => r.deliveredPct],
          ["server CPU per 1,000 deliveries", "ms", "lower", (r) => r.cpuPer1000],
        ];
        const common = { group: GROUP, benchmark, sides: SIDES, note };
        rows.push(
          ...metrics.map(([metric, unit, better, f]) =>
            makeRow({ ...common, metric, unit, better, a: a.map(f), b: b.map(f) }),
          ),
          makeRow({
            ...common,
            metric: "time to connect every client",
            unit: "s",
            better: "lower",
            a: oursSide ? [oursConnectS] : [],
            b: [baseConnectS],
          }),
          makeRow({
            ...common,
            metric: "publishes refused by the server",
            unit: "",
            better: "none",
            a: a.map((r) => r.refused),
            b: b.map((r) => r.refused),
            note: [...a, ...b].find((r) => r.refused > 0)?.refusedReason,
          }),
        );
      } catch (error) {
        rows.push(statusRow(GROUP, benchmark, SIDES, "error", error instanceof Error ? error.message : String(error)));
      } finally {
        ours?.close();
        base?.close();
        await sleep(500);
      }
    }
    return rows;
  },
};
