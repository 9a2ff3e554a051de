// One room, N clients, one publisher at a fixed rate: messages delivered per second and
// publish-to-receive latency. Ours: one Durable Object holding every socket (WebSocket
// /v1/rooms/:room/ws, publish frames). Baseline: socket.io with the Redis adapter, clients split
// evenly over the two Node processes, the publisher on the first. Clients, publisher and clock all
// live in this process, so latency is one clock's difference (performance.now() in the payload).
import { io, type Socket } from "socket.io-client";
import { WebSocket } from "ws";
import { createUsers } from "../ours/identity.ts";
import { mintSessions } from "../baselines/sessions.ts";
import { type BenchContext, BASE, OURS, type Suite, alternate } from "../lib/context.ts";
import { makeRow, type Row, statusRow } from "../lib/report.ts";
import { cpuMs } from "../lib/proc-cpu.ts";
import { quantile } from "../lib/stats.ts";

const GROUP = "Realtime";
const SIDES: [string, string] = [OURS, `${BASE} (socket.io + Redis adapter, 2 processes)`];
const CONNECT_BATCH = 50;
const CONNECT_TIMEOUT_MS = 15_000;

/** What the receivers of one round write into. */
interface Recorder {
  round: number;
  latencies: number[];
  lastAt: number;
}

interface Payload {
  r: number;
  i: number;
  t: number;
}

const isPayload = (v: unknown): v is Payload =>
  typeof v === "object" && v !== null && typeof (v as Payload).t === "number" && typeof (v as Payload).r === "number";

function record(rec: Recorder, data: unknown): void {
  if (!isPayload(data) || data.r !== rec.round) return;
  const now = performance.now();
  rec.latencies.push(now - data.t);
  rec.lastAt = now;
}

interface Side {
  /** The server processes whose CPU this side's deliveries cost. */
  pids: number[];
  /** Sends one message into the room. */
  publish(data: Payload): void;
  /** Publishes the server refused so far (error frames / error acks), with the last reason. */
  refused: { count: number; last: string };
  close(): void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Opens `count` clients, CONNECT_BATCH at a time; on any failure closes those already open. */
async function inBatches<T>(
  count: number,
  deadline: number,
  open: (i: number) => Promise<T>,
  close: (client: T) => void,
): Promise<T[]> {
  const out: T[] = [];
  try {
    for (let start = 0; start < count; start += CONNECT_BATCH) {
      if (performance.now() > deadline) throw new Error(`only ${out.length} of ${count} clients connected in time`);
      const settled = await Promise.allSettled(
        Array.from({ length: Math.min(CONNECT_BATCH, count - start) }, (_, k) => open(start + k)),
      );
      for (const s of settled) if (s.status === "fulfilled") out.push(s.value);
      const failed = settled.find((s) => s.status === "rejected");
      if (failed)
        throw new Error(
          `client ${out.length + 1} of ${count} failed to connect: ${String(failed.reason instanceof Error ? failed.reason.message : failed.reason)}`,
        );
    }
    return out;
  } catch (error) {
    for (const client of out) close(client);
    throw error;
  }
}

// --- ours: plain WebSockets to the room's Durable Object -----------------------------------------

function openOurs(
  url: string,
  token: string,
  onFrame: (frame: { type?: string; data?: unknown }) => void,
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, {
      headers: { authorization: `Bearer ${token}` },
      perMessageDeflate: false,
      handshakeTimeout: CONNECT_TIMEOUT_MS,
    });
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error("no welcome frame in time"));
    }, CONNECT_TIMEOUT_MS);
    ws.on("unexpected-response", (_req, res) => {
      clearTimeout(timer);
      ws.terminate();
      reject(new Error(`upgrade answered ${res.statusCode}${res.statusCode === 404 ? " (route not there yet)" : ""}`));
    });
    ws.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    ws.on("message", (raw) => {
      const text = raw.toString();
      // Presence frames (one per join, to every socket) are not measured: skip parsing them so the
      // client side costs the same per measured message as socket.io's.
      if (text.startsWith('{"type":"presence"')) return;
      let frame: { type?: string; data?: unknown };
      try {
        frame = JSON.parse(text) as { type?: string; data?: unknown };
      } catch {
        return;
      }
      if (frame.type === "welcome") {
        clearTimeout(timer);
        resolve(ws);
      }
      onFrame(frame);
    });
  });
}

async function connectOurs(
  ctx: BenchContext,
  room: string,
  clients: number,
  recorder: () => Recorder,
  deadline: number,
): Promise<Side> {
  const users = await createUsers(ctx.services.databaseUrl, ctx.workerVars, `${ctx.runId}-rt${clients}`, clients + 1);
  const url = `${ctx.ours.url.replace(/^http/, "ws")}/v1/rooms/${room}/ws`;
  const publisherUser = users.pop();
  if (!publisherUser) throw new Error("no publisher user");
  const sockets = await inBatches(
    clients,
    deadline,
    (i) =>
      openOurs(url, (users[i] as { token: string }).token, (frame) => {
        if (frame.type === "message") record(recorder(), frame.data);
      }),
    (ws) => ws.terminate(),
  );
  const refused = { count: 0, last: "" };
  const publisher = await openOurs(url, publisherUser.token, (frame) => {
    if (frame.type === "error") {
      refused.count++;
      refused.last = String((frame as { code?: unknown }).code ?? "error");
    }
  }).catch((error: unknown) => {
    for (const ws of sockets) ws.terminate();
    throw error;
  });
  return {
    pids: [ctx.ours.proc.pid],
    refused,
    publish: (data) => publisher.send(JSON.stringify({ type: "publish", data, id: String(data.i) })),
    close: () => {
      for (const ws of [...sockets, publisher]) ws.terminate();
    },
  };
}

// --- baseline: socket.io clients over the two processes -------------------------------------------

function openBaseline(
  url: string,
  cookie: string,
  room: string,
  onMessage: (m: { data?: unknown }) => void,
): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = io(url, {
      transports: ["websocket"],
      extraHeaders: { cookie },
      reconnection: false,
      forceNew: true,
      timeout: CONNECT_TIMEOUT_MS,
    });
    socket.once("connect_error", (error) => {
      socket.close();
      reject(error);
    });
    socket.once("connect", () => {
      socket
        .timeout(CONNECT_TIMEOUT_MS)
        .emitWithAck("join", room)
        .then((reply: { ok?: boolean; error?: string }) =>
          reply.ok ? resolve(socket) : reject(new Error(`join refused: ${reply.error}`)),
        )
        .catch(reject);
    });
    socket.on("message", onMessage);
  });
}

async function connectBaseline(
  ctx: BenchContext,
  room: string,
  clients: number,
  recorder: () => Recorder,
  deadline: number,
): Promise<Side> {
  const users = await mintSessions(ctx.redis, {
    keyPrefix: ctx.baseline.keyPrefix,
    secret: ctx.baseline.sessionSecret,
    count: clients + 1,
    tag: `${ctx.runId}-rt${clients}`,
  });
  const publisherUser = users.pop();
  if (!publisherUser) throw new Error("no publisher user");
  const urls = [ctx.baseline.a.url, ctx.baseline.b.url];
  const sockets = await inBatches(
    clients,
    deadline,
    (i) =>
      openBaseline(urls[i % 2] as string, (users[i] as { cookie: string }).cookie, room, (m) =>
        record(recorder(), m.data),
      ),
    (s) => s.close(),
  );
  const publisher = await openBaseline(ctx.baseline.a.url, publisherUser.cookie, room, () => {}).catch(
    (error: unknown) => {
      for (const s of sockets) s.close();
      throw error;
    },
  );
  const refused = { count: 0, last: "" };
  return {
    pids: [ctx.baseline.a.proc.pid, ctx.baseline.b.proc.pid],
    refused,
    publish: (data) => {
      publisher.emit("publish", { room, data, id: data.i }, (reply: { error?: string }) => {
        if (reply?.error) {
          refused.count++;
          refused.last = reply.error;
        }
      });
    },
    close: () => {
      for (const s of [...sockets, publisher]) s.close();
    },
  };
}

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
        rows.push(
          makeRow({
            group: GROUP,
            benchmark,
            sides: SIDES,
            metric: "delivered messages/s",
            unit: "",
            better: "higher",
            a: a.map((r) => r.deliveredPerS),
            b: b.map((r) => r.deliveredPerS),
            note,
          }),
          makeRow({
            group: GROUP,
            benchmark,
            sides: SIDES,
            metric: "publish→receive p50",
            unit: "ms",
            better: "lower",
            a: a.map((r) => r.p50Ms),
            b: b.map((r) => r.p50Ms),
            note,
          }),
          makeRow({
            group: GROUP,
            benchmark,
            sides: SIDES,
            metric: "publish→receive p99",
            unit: "ms",
            better: "lower",
            a: a.map((r) => r.p99Ms),
            b: b.map((r) => r.p99Ms),
            note,
          }),
          makeRow({
            group: GROUP,
            benchmark,
            sides: SIDES,
            metric: "delivered within the drain window",
            unit: "%",
            better: "higher",
            a: a.map((r) => r.deliveredPct),
            b: b.map((r) => r.deliveredPct),
            note,
          }),
          makeRow({
            group: GROUP,
            benchmark,
            sides: SIDES,
            metric: "server CPU per 1,000 deliveries",
            unit: "ms",
            better: "lower",
            a: a.map((r) => r.cpuPer1000),
            b: b.map((r) => r.cpuPer1000),
            note,
          }),
          makeRow({
            group: GROUP,
            benchmark,
            sides: SIDES,
            metric: "time to connect every client",
            unit: "s",
            better: "lower",
            a: oursSide ? [oursConnectS] : [],
            b: [baseConnectS],
            note,
          }),
          makeRow({
            group: GROUP,
            benchmark,
            sides: SIDES,
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
