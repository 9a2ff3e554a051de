// `npm run bench -- --soak`: one room of ours held for a few minutes (bounded, ≤ 5 min) with 1,000
// sockets, a steady publisher and reconnect churn (a few sockets dropped and resumed with ?since=
// every second). Each client is a plain WebSocket keeping its own last seq, so the room's guarantees
// are measured as sent, not as an SDK smooths them: a message a client never got is lost, a seq it
// got twice is duplicated. The room's memory (the real workerd process) is sampled over time.
import type { WebSocket } from "ws";
import { type BenchContext, OURS, type Suite } from "../lib/context.ts";
import { readMemory } from "../lib/proc-memory.ts";
import { makeRow, type Row, statusRow } from "../lib/report.ts";
import { createUsers } from "../ours/identity.ts";
import { openOursSocket, sleep, workerdPids } from "./realtime-clients.ts";

const GROUP = "Realtime soak";
const SIDES: [string, string] = [OURS, "—"];

interface SoakClient {
  token: string;
  ws: WebSocket | undefined;
  /** The last seq delivered (from the first welcome on); what a reconnect resumes after. */
  lastSeq: number | undefined;
  firstSeq: number | undefined;
  seen: Set<number>;
  duplicates: number;
  /** Seqs that arrived past a hole (seq > lastSeq + 1): a gap the room should never leave. */
  gaps: number;
  reconnects: number;
}

const newClient = (token: string): SoakClient => ({
  token,
  ws: undefined,
  lastSeq: undefined,
  firstSeq: undefined,
  seen: new Set(),
  duplicates: 0,
  gaps: 0,
  reconnects: 0,
});

/** Opens (or re-opens, resuming) one client's socket; resolves on its welcome. */
function connect(url: string, client: SoakClient): Promise<void> {
  return new Promise((resolve, reject) => {
    const since = client.lastSeq === undefined ? "" : `?since=${client.lastSeq}`;
    const { ws, welcomed } = openOursSocket(`${url}${since}`, client.token, 20_000, reject);
    const deliver = (seq: number) => {
      if (client.seen.has(seq)) {
        client.duplicates++;
        return;
      }
      if (client.lastSeq !== undefined && seq > client.lastSeq + 1) client.gaps++;
      client.seen.add(seq);
      client.lastSeq = Math.max(client.lastSeq ?? 0, seq);
    };
    ws.on("message", (raw) => {
      const text = raw.toString();
      if (text.startsWith('{"type":"presence"')) return;
      const frame = JSON.parse(text) as { type: string; seq?: number; messages?: Array<{ seq: number }> };
      if (frame.type === "welcome") {
        if (client.lastSeq === undefined) {
          client.lastSeq = frame.seq ?? 0;
          client.firstSeq = client.lastSeq;
        }
        client.ws = ws;
        welcomed();
        resolve();
      } else if (frame.type === "message" && frame.seq !== undefined) deliver(frame.seq);
      else if (frame.type === "batch") for (const m of frame.messages ?? []) deliver(m.seq);
    });
  });
}

export const realtimeSoakSuite: Suite = {
  name: "soak",
  async run(ctx: BenchContext): Promise<Row[]> {
    const { clients: count, ratePerS, churnPerS, durationS } = ctx.profile.soak;
    const benchmark = `1 room, ${count.toLocaleString("en-US")} sockets, ${ratePerS} msg/s, ${churnPerS} reconnects/s, ${durationS} s`;
    const room = `bench-${ctx.runId}-soak`;
    const url = `${ctx.ours.url.replace(/^http/, "ws")}/v1/rooms/${room}/ws`;
    const users = await createUsers(ctx.services.databaseUrl, ctx.workerVars, `${ctx.runId}-soak`, count + 1);
    const publisherUser = users.pop();
    if (!publisherUser) throw new Error("no publisher user");
    const clients = users.map((u) => newClient(u.token));
    const pids = await workerdPids(ctx.ours.proc.pid);
    const memory: Array<{ atS: number; rssMiB: number }> = [];
    const sampleMemory = async (atS: number) => {
      const readings = await Promise.all(pids.map((p) => readMemory(p).catch(() => ({ rssKiB: Number.NaN }))));
      memory.push({ atS, rssMiB: readings.reduce((a, r) => a + r.rssKiB, 0) / 1024 });
    };
    try {
      for (let i = 0; i < clients.length; i += 50) {
        await Promise.all(clients.slice(i, i + 50).map((c) => connect(url, c)));
      }
      ctx.log(`  soak: ${count} sockets connected`);
      const publisher = newClient(publisherUser.token);
      await connect(url, publisher);
      const acked: number[] = [];
      let refused = 0;
      publisher.ws?.on("message", (raw) => {
        const frame = JSON.parse(raw.toString()) as { type: string; seq?: number };
        if (frame.type === "ack" && frame.seq !== undefined) acked.push(frame.seq);
        else if (frame.type === "error") refused++;
      });

      const start = performance.now();
      const elapsedS = () => (performance.now() - start) / 1000;
      await sampleMemory(0);
      let nextSample = 10;
      let sent = 0;
      let churned = 0;
      const reconnecting = new Set<Promise<void>>();
      let failedReconnects = 0;
      while (elapsedS() < durationS) {
        // Publishes on schedule.
        const due = Math.floor(elapsedS() * ratePerS);
        for (; sent < due; sent++) {
          publisher.ws?.send(JSON.stringify({ type: "publish", data: { n: sent }, id: String(sent) }));
        }
        // Churn on schedule: drop a random open socket and resume it after a short pause.
        const churnDue = Math.floor(elapsedS() * churnPerS);
        for (; churned < churnDue; churned++) {
          const victim = clients[Math.floor(Math.random() * clients.length)] as SoakClient;
          if (!victim.ws) continue;
          victim.ws.terminate();
          victim.ws = undefined;
          victim.reconnects++;
          const again = sleep(50 + Math.random() * 450)
            .then(() => connect(url, victim))
            .catch(() => {
              failedReconnects++;
            });
          reconnecting.add(again);
          void again.finally(() => reconnecting.delete(again));
        }
        if (elapsedS() >= nextSample) {
          await sampleMemory(Math.round(elapsedS()));
          nextSample += 10;
        }
        await sleep(20);
      }
      // Every dropped socket comes back and catches up; then the stream drains.
      await Promise.all([...reconnecting]);
      for (const c of clients) if (!c.ws) await connect(url, c).catch(() => failedReconnects++);
      const lastAck = () => (acked.length ? Math.max(...acked) : 0);
      const drainUntil = performance.now() + 20_000;
      while (acked.length + refused < sent && performance.now() < drainUntil) await sleep(50);
      const finalSeq = lastAck();
      while (clients.some((c) => (c.lastSeq ?? 0) < finalSeq) && performance.now() < drainUntil) await sleep(50);
      await sampleMemory(Math.round(elapsedS()));

      let lost = 0;
      let duplicates = 0;
      let gaps = 0;
      for (const c of clients) {
        duplicates += c.duplicates;
        gaps += c.gaps;
        for (let seq = (c.firstSeq ?? 0) + 1; seq <= finalSeq; seq++) if (!c.seen.has(seq)) lost++;
      }
      const reconnects = clients.reduce((a, c) => a + c.reconnects, 0);
      const firstThird = memory.slice(0, Math.max(1, Math.floor(memory.length / 3)));
      const lastThird = memory.slice(-Math.max(1, Math.floor(memory.length / 3)));
      const avg = (xs: typeof memory) => xs.reduce((a, m) => a + m.rssMiB, 0) / xs.length;
      const growthPct = ((avg(lastThird) - avg(firstThird)) / avg(firstThird)) * 100;
      ctx.extra.soak = {
        sent,
        acked: acked.length,
        refused,
        reconnects,
        failedReconnects,
        lost,
        duplicates,
        gaps,
        memory,
      };
      ctx.log(
        `  soak: ${sent} published, ${acked.length} acked, ${reconnects} reconnects (${failedReconnects} failed), lost ${lost}, duplicated ${duplicates}, gaps ${gaps}; workerd RSS ${memory.map((m) => `${m.atS}s:${m.rssMiB.toFixed(0)}`).join(" ")} MiB`,
      );
      const common = { group: GROUP, benchmark, sides: SIDES, b: [] as number[], better: "none" as const };
      const note = `${sent} published, ${clients.length} clients, ${reconnects} reconnects (${failedReconnects} failed)`;
      return [
        makeRow({ ...common, metric: "messages lost (summed over clients)", unit: "", a: [lost], note }),
        makeRow({ ...common, metric: "messages delivered twice", unit: "", a: [duplicates] }),
        makeRow({ ...common, metric: "deliveries past a hole", unit: "", a: [gaps] }),
        makeRow({ ...common, metric: "workerd RSS, first third of the run", unit: "MiB", a: [avg(firstThird)] }),
        makeRow({
          ...common,
          metric: "workerd RSS, last third of the run",
          unit: "MiB",
          a: [avg(lastThird)],
          note: `${growthPct >= 0 ? "+" : ""}${growthPct.toFixed(1)} % over the run; samples every 10 s: ${memory.map((m) => m.rssMiB.toFixed(0)).join(", ")}`,
        }),
      ];
    } catch (error) {
      return [statusRow(GROUP, benchmark, SIDES, "error", error instanceof Error ? error.message : String(error))];
    } finally {
      for (const c of clients) c.ws?.terminate();
    }
  },
};
