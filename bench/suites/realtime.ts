// One room, N clients, one publisher at a fixed rate: messages delivered per second and
// publish-to-receive latency. Ours: one Durable Object holding every socket (WebSocket
// /v1/rooms/:room/ws, publish frames). Baseline: socket.io with the Redis adapter, clients split
// evenly over the two Node processes, the publisher on the first. Clients, publisher and clock all
// live in this process, so latency is one clock's difference (performance.now() in the payload).
import { createUsers } from "../ours/identity.ts";
import { startNodeRoomFloor, startWorkerdRoomFloor } from "../floor/start.ts";
import {
  alternateAll,
  BASE,
  type BenchContext,
  FLOOR_ROOM_NODE,
  FLOOR_ROOM_WORKERD,
  OURS,
  type Suite,
} from "../lib/context.ts";
import { type Better, comparedRow, makeRow, type Row, statusRow } from "../lib/report.ts";
import { cpuMs } from "../lib/proc-cpu.ts";
import { quantile } from "../lib/stats.ts";
import {
  connectBaseline,
  connectFloor,
  connectOurs,
  openOurs,
  type Recorder,
  type Side,
  type StormResult,
  sleep,
  stormBaseline,
  stormOurs,
  workerdPids,
} from "./realtime-clients.ts";

const GROUP = "Realtime";
const SIDES: [string, string] = [OURS, `${BASE} (socket.io + Redis adapter, 2 processes)`];

// --- one round --------------------------------------------------------------------------------------

export interface RoundResult {
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
  /** Share of the expected deliveries that arrived within 250 ms of their publish, %. */
  within250Pct: number;
}

/** The latency bound of the "highest rate" search. */
const WITHIN_MS = 250;
/**
 * Rates (msg/s into the room) tried in the highest-rate search, until a side stops keeping up. It
 * starts below the suite's own 10 msg/s: on a loaded machine neither side may keep 99 % within 250 ms there.
 */
const RATE_LADDER = [5, 10, 20, 40, 80, 160, 320];
/** Room sizes the highest-rate search runs at (BENCH_REALTIME_SIZES=300:10 gives one below 1,000 on a loaded box). */
const LADDER_MIN_CLIENTS = 300;
/** Budget the floors leave to what follows them (reconnects, the rate search, the storm, later suites), s. */
const FLOORS_SLACK_S = 90;
/** Clients opening one room at the same moment in the storm benchmark. */
const STORM_CLIENTS = 300;

export const totalCpu = async (pids: number[]): Promise<number> =>
  (await Promise.all(pids.map(cpuMs))).reduce((a, b) => a + b, 0);

export async function runRound(
  ctx: BenchContext,
  side: Side,
  rec: Recorder,
  clients: number,
  rate: number,
  sendS = ctx.profile.realtime.sendS,
): Promise<RoundResult> {
  const { drainS } = ctx.profile.realtime;
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
    within250Pct: (rec.latencies.filter((l) => l <= WITHIN_MS).length / expected) * 100,
  };
}

/**
 * The highest rate on the ladder at which ≥ 99 % of deliveries arrive within 250 ms, trying each
 * rate on both sides in turn (alternating who goes first) and dropping a side once it fails one.
 */
async function highestRates(
  ctx: BenchContext,
  sides: { ours: Side; base: Side },
  clients: number,
  setRecorder: (which: "ours" | "base", round: number) => Recorder,
): Promise<{ ours: number; base: number; tried: Record<string, Array<[number, number]>> }> {
  const best = { ours: 0, base: 0 };
  const going = { ours: true, base: true };
  const tried: Record<string, Array<[number, number]>> = { ours: [], base: [] };
  let round = 1000;
  for (const [k, rate] of RATE_LADDER.entries()) {
    if (!going.ours && !going.base) break;
    if (ctx.timeLeftS() < 30) break;
    const order: Array<"ours" | "base"> = k % 2 === 0 ? ["ours", "base"] : ["base", "ours"];
    for (const which of order) {
      if (!going[which]) continue;
      const rec = setRecorder(which, round++);
      const result = await runRound(ctx, sides[which], rec, clients, rate, 3);
      tried[which]?.push([rate, result.within250Pct]);
      if (result.within250Pct >= 99) best[which] = rate;
      else going[which] = false;
      await sleep(500);
    }
  }
  return { ...best, tried };
}

function stormRows(ours: StormResult | undefined, base: StormResult, benchmark: string, note: string): Row[] {
  const common = { group: GROUP, benchmark, sides: SIDES, note };
  const reasons = (r: StormResult | undefined) =>
    r && r.refused > 0
      ? Object.entries(r.reasons)
          .map(([k, v]) => `${v}× ${k}`)
          .join("; ")
      : undefined;
  return [
    makeRow({
      ...common,
      metric: "clients welcomed",
      unit: "",
      better: "none",
      a: ours ? [ours.welcomed] : [],
      b: [base.welcomed],
      note: [
        note,
        reasons(ours) && `ours refused: ${reasons(ours)}`,
        reasons(base) && `baseline refused: ${reasons(base)}`,
      ]
        .filter(Boolean)
        .join("; "),
    }),
    makeRow({
      ...common,
      metric: "time until the last was welcomed",
      unit: "s",
      better: "lower",
      a: ours ? [ours.spanS] : [],
      b: [base.spanS],
    }),
  ];
}

// --- the runtime floors ------------------------------------------------------------------------------

/** A floor server for this suite, or why there is none (its rows then say "not measured"). */
interface Floor {
  url: string;
  /** The processes whose CPU the floor's deliveries cost (workerd: the real binary, not the wrapper). */
  pids: number[];
  stop(): Promise<void>;
}
type FloorSlot = { floor: Floor; why?: undefined } | { floor?: undefined; why: string };

async function startFloor(label: string, start: () => Promise<Floor>): Promise<FloorSlot> {
  try {
    return { floor: await start() };
  } catch (error) {
    const why = `${label} did not start: ${error instanceof Error ? (error.message.split("\n")[0] ?? "") : String(error)}`;
    return { why };
  }
}

/** Both floors, started for this suite alone and stopped at its end. */
async function startRoomFloors(ctx: BenchContext): Promise<{ workerd: FloorSlot; node: FloorSlot }> {
  const workerd = await startFloor(FLOOR_ROOM_WORKERD, async () => {
    const server = await startWorkerdRoomFloor(ctx.root, ctx.bundle, ctx.workDir);
    return { url: server.url, pids: await workerdPids(server.proc.pid), stop: server.stop };
  });
  const node = await startFloor(FLOOR_ROOM_NODE, async () => {
    const server = await startNodeRoomFloor(ctx.root);
    return { url: server.url, pids: [server.proc.pid], stop: server.stop };
  });
  return { workerd, node };
}

/** One side of a floor comparison: its rounds and connect figures, or why it has none. */
interface Measured {
  label: string;
  rounds: RoundResult[];
  connectS?: number;
  connectCpuMs?: number;
  why?: string;
}

/** The realtime metrics of one pair of sides (ours vs its floor, socket.io vs its floor, floor vs floor). */
function pairRows(
  benchmark: string,
  metrics: Array<[string, string, Better, (r: RoundResult) => number]>,
  a: Measured,
  b: Measured,
  note: string,
): Row[] {
  const sides: [string, string] = [a.label, b.label];
  const why = (a.rounds.length ? b.why : a.why) ?? "could not be measured";
  const common = { group: GROUP, benchmark, sides, note };
  const one = (v: number | undefined) => (v === undefined ? [] : [v]);
  return [
    ...metrics.map(([metric, unit, better, f]) =>
      comparedRow({ ...common, metric, unit, better, a: a.rounds.map(f), b: b.rounds.map(f) }, why),
    ),
    comparedRow(
      {
        ...common,
        metric: "time to connect every client",
        unit: "s",
        better: "lower",
        a: one(a.connectS),
        b: one(b.connectS),
      },
      (a.connectS === undefined ? a.why : b.why) ?? "could not be measured",
    ),
    comparedRow(
      {
        ...common,
        metric: "server CPU per connect (first connect of each user)",
        unit: "ms",
        better: "lower",
        a: one(a.connectCpuMs),
        b: one(b.connectCpuMs),
      },
      (a.connectCpuMs === undefined ? a.why : b.why) ?? "could not be measured",
    ),
  ];
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

    // The runtime floors, started for the room rounds below and stopped after them. Their rounds run
    // at the largest room only (1,000 × 10 in the full profile), to keep within the budget.
    const off: FloorSlot = { why: "turned off (BENCH_REALTIME_FLOORS=0)" };
    const floors = ctx.profile.realtime.floors ? await startRoomFloors(ctx) : { workerd: off, node: off };
    ctx.log(
      `  realtime floors: ${floors.workerd.floor?.url ?? floors.workerd.why} · ${floors.node.floor?.url ?? floors.node.why}`,
    );
    // With the floors off, no size has floor rounds (nor floor rows).
    const floorClients = ctx.profile.realtime.floors
      ? Math.max(...ctx.profile.realtime.sizes.map((s) => s.clients))
      : Number.NaN;

    for (const { clients, ratePerS } of ctx.profile.realtime.sizes) {
      const benchmark = `1 room, ${clients.toLocaleString("en-US")} clients, ${ratePerS} msg/s`;
      if (ctx.timeLeftS() < 40) {
        rows.push(statusRow(GROUP, benchmark, SIDES, "skipped", "time budget used up"));
        continue;
      }
      const room = `bench-${ctx.runId}-${clients}`;
      let oursRec: Recorder = { round: -1, latencies: [], lastAt: 0 };
      let baseRec: Recorder = { round: -1, latencies: [], lastAt: 0 };
      let floorWRec: Recorder = { round: -1, latencies: [], lastAt: 0 };
      let floorNRec: Recorder = { round: -1, latencies: [], lastAt: 0 };
      let ours: Side | undefined;
      let base: Side | undefined;
      let floorW: Side | undefined;
      let floorN: Side | undefined;
      try {
        // Connecting may take long (ours does per-connection work, see BENCHMARKS.md); keep a minute for the rounds.
        const connectS = Math.max(10, Math.min(ctx.profile.realtime.connectTimeoutS, (ctx.timeLeftS() - 60) / 2));
        const deadline = () => performance.now() + connectS * 1000;
        const oursPids = await workerdPids(ctx.ours.proc.pid);
        const basePids = [ctx.baseline.a.proc.pid, ctx.baseline.b.proc.pid];
        let cpu0 = await totalCpu(oursPids);
        let t = performance.now();
        // If ours cannot connect every client in time, the baseline is still measured and the rows say why.
        let oursFailure: string | undefined;
        ours = await connectOurs(ctx, room, clients, () => oursRec, deadline()).catch((error: unknown) => {
          oursFailure = `ours: ${error instanceof Error ? error.message : String(error)}`;
          return undefined;
        });
        const oursConnectS = (performance.now() - (ours?.usersReadyAt ?? t)) / 1000;
        const oursConnectCpuMs = ((await totalCpu(oursPids)) - cpu0) / clients;
        // Frames per client while the room filled: everything up to the last welcome, plus the
        // trailing presence diff (the longest presence interval is 5 s).
        await sleep(5500);
        const oursFrames = ours?.framesPerClient?.() ?? [];
        cpu0 = await totalCpu(basePids);
        t = performance.now();
        base = await connectBaseline(ctx, room, clients, () => baseRec, deadline());
        const baseConnectS = (performance.now() - (base?.usersReadyAt ?? t)) / 1000;
        const baseConnectCpuMs = ((await totalCpu(basePids)) - cpu0) / clients;
        ctx.log(
          `  ${benchmark}: connected in ${oursConnectS.toFixed(1)} s (ours${oursFailure ? `, failed: ${oursFailure}` : ""}) / ${baseConnectS.toFixed(1)} s (baseline)`,
        );
        // The floors, with the same client (connectFloor): no users, no auth, nothing but the runtime.
        // The floors are extra: they run only when the budget holds their rounds and FLOORS_SLACK_S more,
        // so on a slow run they give way to ours' and socket.io's own rows (and the suites after this one).
        const floorsNeedS =
          2 * ctx.profile.rounds * (ctx.profile.realtime.sendS + ctx.profile.realtime.drainS) + 20 + FLOORS_SLACK_S;
        const floorsSkipped = clients === floorClients && ctx.timeLeftS() < floorsNeedS;
        const withFloors = clients === floorClients && !floorsSkipped;
        if (floorsSkipped)
          rows.push(
            statusRow(
              GROUP,
              benchmark,
              [OURS, FLOOR_ROOM_WORKERD],
              "skipped",
              `runtime floors: ${Math.round(ctx.timeLeftS())} s of the budget left, they need ${Math.round(floorsNeedS)}`,
            ),
          );
        const floorMeasured: Record<"workerd" | "node", Measured> = {
          workerd: { label: FLOOR_ROOM_WORKERD, rounds: [], why: floors.workerd.why },
          node: { label: FLOOR_ROOM_NODE, rounds: [], why: floors.node.why },
        };
        if (withFloors) {
          const recorders = { workerd: () => floorWRec, node: () => floorNRec };
          for (const key of ["workerd", "node"] as const) {
            const floor = floors[key].floor;
            const m = floorMeasured[key];
            if (!floor) continue;
            await sleep(500);
            const c0 = await totalCpu(floor.pids);
            const t0 = performance.now();
            const side = await connectFloor(floor.url, floor.pids, room, clients, recorders[key], deadline()).catch(
              (error: unknown) => {
                m.why = `${m.label}: ${error instanceof Error ? error.message : String(error)}`;
                return undefined;
              },
            );
            if (!side) continue;
            m.connectS = (performance.now() - t0) / 1000;
            m.connectCpuMs = ((await totalCpu(floor.pids)) - c0) / clients;
            if (key === "workerd") floorW = side;
            else floorN = side;
          }
          ctx.log(
            `  ${benchmark}: floors connected in ${floorMeasured.workerd.connectS?.toFixed(1) ?? "-"} s (DO, workerd) / ${floorMeasured.node.connectS?.toFixed(1) ?? "-"} s (ws, Node)`,
          );
        }
        await sleep(500);
        const oursSide = ours;
        const baseSide = base;
        const floorWSide = floorW;
        const floorNSide = floorN;
        const baseRound = (i: number) => {
          baseRec = { round: i, latencies: [], lastAt: 0 };
          return runRound(ctx, baseSide, baseRec, clients, ratePerS);
        };
        // Sides compared with each other are neighbours in the round order (roundOrder): the workerd
        // floor next to ours, ours next to the baseline, the baseline next to the Node floor. With no
        // floor this is `alternate` of ours and the baseline, as before.
        const runs: Array<["ours" | "base" | "workerd" | "node", (i: number) => Promise<RoundResult>]> = [];
        if (floorWSide)
          runs.push([
            "workerd",
            (i) => {
              floorWRec = { round: i, latencies: [], lastAt: 0 };
              return runRound(ctx, floorWSide, floorWRec, clients, ratePerS);
            },
          ]);
        if (oursSide)
          runs.push([
            "ours",
            (i) => {
              oursRec = { round: i, latencies: [], lastAt: 0 };
              return runRound(ctx, oursSide, oursRec, clients, ratePerS);
            },
          ]);
        runs.push(["base", baseRound]);
        if (floorNSide)
          runs.push([
            "node",
            (i) => {
              floorNRec = { round: i, latencies: [], lastAt: 0 };
              return runRound(ctx, floorNSide, floorNRec, clients, ratePerS);
            },
          ]);
        const results = await alternateAll(
          ctx,
          ctx.profile.rounds,
          runs.map(([, run]) => run),
        );
        const roundsOf = (key: (typeof runs)[number][0]) => results[runs.findIndex(([k]) => k === key)] ?? [];
        const a = roundsOf("ours");
        const b = roundsOf("base");
        floorMeasured.workerd.rounds = roundsOf("workerd");
        floorMeasured.node.rounds = roundsOf("node");
        // The floors' sockets are closed before the reconnect and rate rounds, which are ours' and the baseline's alone.
        floorW?.close();
        floorN?.close();
        // Reconnecting the same users (as after a deploy): their registry objects exist by now.
        const reconnect = async (side: Side, pids: number[]) => {
          const c = await totalCpu(pids);
          const started = performance.now();
          await side.reconnectAll(performance.now() + connectS * 1000);
          return { s: (performance.now() - started) / 1000, cpuMs: ((await totalCpu(pids)) - c) / clients };
        };
        const oursAgain = oursSide
          ? await reconnect(oursSide, oursPids).catch((error: unknown) => {
              ctx.log(`  reconnect (ours) failed: ${error instanceof Error ? error.message : String(error)}`);
              return undefined;
            })
          : undefined;
        await sleep(500);
        const baseAgain = await reconnect(baseSide, basePids);
        await sleep(500);
        let rates: Awaited<ReturnType<typeof highestRates>> | undefined;
        if (oursSide && oursAgain && clients >= LADDER_MIN_CLIENTS && ctx.profile.name === "full") {
          rates = await highestRates(ctx, { ours: oursSide, base: baseSide }, clients, (which, round) => {
            const rec: Recorder = { round, latencies: [], lastAt: 0 };
            if (which === "ours") oursRec = rec;
            else baseRec = rec;
            return rec;
          });
          ctx.log(`  ${benchmark}: highest rate with 99 % within 250 ms: ${JSON.stringify(rates.tried)}`);
        }
        ctx.extra[`realtime ${clients}`] = {
          ours: a,
          baseline: b,
          connectS: { ours: oursConnectS, baseline: baseConnectS },
          connectCpuMs: { ours: oursConnectCpuMs, baseline: baseConnectCpuMs },
          reconnect: { ours: oursAgain, baseline: baseAgain },
          framesPerClient: oursFrames.length ? { mean: mean(oursFrames), max: Math.max(...oursFrames) } : null,
          rates,
          floors: withFloors ? floorMeasured : null,
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
          [`delivered within ${WITHIN_MS} ms`, "%", "higher", (r) => r.within250Pct],
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
            metric: "server CPU per connect (first connect of each user)",
            unit: "ms",
            better: "lower",
            a: oursSide ? [oursConnectCpuMs] : [],
            b: [baseConnectCpuMs],
            note: "ours: the real workerd process (not the Upstash/Postgres stand-ins); baseline: both Node processes (not Redis)",
          }),
          makeRow({
            ...common,
            metric: "time to reconnect every client (same users)",
            unit: "s",
            better: "lower",
            a: oursAgain ? [oursAgain.s] : [],
            b: [baseAgain.s],
          }),
          makeRow({
            ...common,
            metric: "server CPU per reconnect (same users)",
            unit: "ms",
            better: "lower",
            a: oursAgain ? [oursAgain.cpuMs] : [],
            b: [baseAgain.cpuMs],
          }),
          ...(oursFrames.length
            ? [
                makeRow({
                  ...common,
                  metric: "frames per client while the room fills, mean",
                  unit: "",
                  better: "none",
                  a: [mean(oursFrames)],
                  b: [],
                  note: `max ${Math.max(...oursFrames)}; welcome + presence sync + presence diffs (socket.io sends no presence)`,
                }),
              ]
            : []),
          ...(rates
            ? [
                makeRow({
                  ...common,
                  metric: `highest rate with 99 % within ${WITHIN_MS} ms (of ${RATE_LADDER.join(", ")})`,
                  unit: "msg/s",
                  better: "higher",
                  a: [rates.ours],
                  b: [rates.base],
                  note: "3 s per rate; 0: not even the lowest",
                }),
              ]
            : []),
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
        if (withFloors) {
          const oursM: Measured = {
            label: OURS,
            rounds: a,
            connectS: oursSide ? oursConnectS : undefined,
            connectCpuMs: oursSide ? oursConnectCpuMs : undefined,
            why: oursFailure,
          };
          const baseM: Measured = {
            label: SIDES[1],
            rounds: b,
            connectS: baseConnectS,
            connectCpuMs: baseConnectCpuMs,
          };
          const floorNote = `runtime floor: the same client and rounds against a bare broadcast room (bench/floor/); ${note}`;
          rows.push(
            ...pairRows(benchmark, metrics, oursM, floorMeasured.workerd, floorNote),
            ...pairRows(benchmark, metrics, baseM, floorMeasured.node, floorNote),
            ...pairRows(benchmark, metrics, floorMeasured.workerd, floorMeasured.node, floorNote),
            // The targets are set against socket.io: can anything on one object reach them here?
            ...pairRows(benchmark, metrics, floorMeasured.workerd, baseM, floorNote),
          );
          const p99 = (m: Measured) =>
            m.rounds.length
              ? quantile(
                  m.rounds.map((r) => r.p99Ms),
                  0.5,
                )
              : Number.NaN;
          ctx.log(
            `  ${benchmark}: p99 ours ${p99(oursM).toFixed(0)} / DO floor ${p99(floorMeasured.workerd).toFixed(0)} / socket.io ${p99(baseM).toFixed(0)} / ws floor ${p99(floorMeasured.node).toFixed(0)} ms`,
          );
        }
      } catch (error) {
        rows.push(statusRow(GROUP, benchmark, SIDES, "error", error instanceof Error ? error.message : String(error)));
      } finally {
        ours?.close();
        base?.close();
        floorW?.close();
        floorN?.close();
        await sleep(500);
      }
    }
    await Promise.all([floors.workerd.floor?.stop(), floors.node.floor?.stop()]);
    if (ctx.timeLeftS() < 40) {
      rows.push(
        statusRow(GROUP, `${STORM_CLIENTS} clients open one room at once`, SIDES, "skipped", "time budget used up"),
      );
      return rows;
    }
    try {
      const oursStorm = await stormOurs(ctx, `bench-${ctx.runId}-storm`, STORM_CLIENTS).catch((error: unknown) => {
        ctx.log(`  storm (ours) failed: ${error instanceof Error ? error.message : String(error)}`);
        return undefined;
      });
      await sleep(1000);
      const baseStorm = await stormBaseline(ctx, `bench-${ctx.runId}-storm`, STORM_CLIENTS);
      ctx.extra.storm = { ours: oursStorm, baseline: baseStorm };
      ctx.log(`  storm: ours ${JSON.stringify(oursStorm)}, baseline ${JSON.stringify(baseStorm)}`);
      const note = "distinct users, every socket opened in the same instant";
      const [first, again] = [
        `${STORM_CLIENTS} new users open one room at once`,
        `the same ${STORM_CLIENTS} reconnect at once`,
      ];
      rows.push(...stormRows(oursStorm?.[0], baseStorm[0] as StormResult, first, `${note}; each user's first connect`));
      rows.push(...stormRows(oursStorm?.[1], baseStorm[1] as StormResult, again, `${note}; as after a deploy`));
    } catch (error) {
      rows.push(statusRow(GROUP, `${STORM_CLIENTS} clients open one room at once`, SIDES, "error", String(error)));
    }
    return rows;
  },
};

const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;
