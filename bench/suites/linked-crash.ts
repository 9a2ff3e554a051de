// The crash scenario, side by side: clients spread over three instances, one publisher on the first
// sending numbered messages at a steady rate, the last instance SIGKILLed mid-stream, and its clients
// reconnecting at once to the survivors, each the way its stack resumes:
//   ours      a new WebSocket with ?since=<the last seq it got> (the room's log in Redis replays the gap);
//   socket.io a new socket carrying the old one's session id and offset, exactly the CONNECT packet
//             socket.io-client sends when it reconnects with connection state recovery on (here to
//             another process, as a load balancer would route it once the first is gone).
// Owed to every client: each publish the server acknowledged. Per side: messages lost (owed, never
// received), duplicated, out of order, and the time from the kill to the first message on the new
// connection.
import { io, type Socket } from "socket.io-client";
import type { WebSocket } from "ws";
import { mintSessions } from "../baselines/sessions.ts";
import type { BenchContext } from "../lib/context.ts";
import { createUsers } from "../ours/identity.ts";
import { openOursSocket, sleep } from "./realtime-clients.ts";
import type { FleetMember } from "./linked-fleet.ts";

const OPEN_TIMEOUT_MS = 15_000;
const OPEN_BATCH = 50;
/** A reconnect that fails (the survivor busy) is tried again this many times, 100 ms apart. */
const REOPEN_ATTEMPTS = 20;

export interface DeliveryTally {
  /** Owed messages a client never received, summed over clients. */
  lost: number;
  /** Receptions of a message the client already had. */
  duplicated: number;
  /** First receptions of a message older than one the client already had. */
  outOfOrder: number;
  /** Clients that lost at least one message. */
  clientsWithLoss: number;
}

/** Compares what each client received (publish indices, in arrival order) with what it was owed. */
export function tallyDeliveries(owed: ReadonlySet<number>, received: readonly (readonly number[])[]): DeliveryTally {
  const tally: DeliveryTally = { lost: 0, duplicated: 0, outOfOrder: 0, clientsWithLoss: 0 };
  for (const list of received) {
    const seen = new Set<number>();
    let highest = -1;
    for (const i of list) {
      if (seen.has(i)) {
        tally.duplicated++;
        continue;
      }
      if (i < highest) tally.outOfOrder++;
      seen.add(i);
      highest = Math.max(highest, i);
    }
    let lost = 0;
    for (const i of owed) if (!seen.has(i)) lost++;
    tally.lost += lost;
    if (lost > 0) tally.clientsWithLoss++;
  }
  return tally;
}

export interface CrashResult extends DeliveryTally {
  clients: number;
  movedClients: number;
  published: number;
  acked: number;
  /** Kill → first message on the new connection, per moved client (NaN: none arrived). */
  resumeMs: number[];
  /** socket.io only: moved clients whose session the new process restored. */
  recovered?: number;
  /**
   * socket.io only, the harness' own check: a client whose transport was closed while its process
   * lived (so that process persisted the session) was restored on another process.
   */
  controlRecovered?: boolean;
}

interface CrashClient {
  received: number[];
  /** Index of the instance it is connected to. */
  at: number;
  moved: boolean;
  resumedAt: number;
  /** The control client (socket.io only): left out of the tally, reported on its own. */
  control?: boolean;
}

/** One side of the scenario: opens its clients and publisher, publishes, reports deliveries. */
interface CrashDriver {
  open(deadline: number): Promise<void>;
  publish(i: number): void;
  acked: Set<number>;
  clients: CrashClient[];
  recovered?: () => number;
  controlRecovered?: () => boolean;
  /** Called halfway to the kill, without waiting (the harness' control check); awaited before the tally. */
  midway?: () => Promise<void>;
  close(): void;
}

export interface CrashOptions {
  clients: number;
  ratePerS: number;
  beforeS: number;
  afterS: number;
  drainS: number;
}

/** Runs the scenario on one side: `members[last]` is the one killed. */
async function runCrash(driver: CrashDriver, members: FleetMember[], opts: CrashOptions): Promise<CrashResult> {
  await driver.open(performance.now() + 90_000);
  const victim = members[members.length - 1] as FleetMember;
  const total = Math.round(opts.ratePerS * (opts.beforeS + opts.afterS));
  const killAtIndex = Math.round(opts.ratePerS * opts.beforeS);
  let killedAt = 0;
  let killing: Promise<void> | undefined;
  let checking: Promise<void> | undefined;
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const wait = start + (i * 1000) / opts.ratePerS - performance.now();
    if (wait > 0) await sleep(wait);
    if (i === Math.floor(killAtIndex / 2)) checking = driver.midway?.();
    if (i === killAtIndex) {
      killedAt = performance.now();
      killing = victim.kill();
    }
    driver.publish(i);
  }
  await Promise.all([killing, checking]);
  // Drain: until every client has every acknowledged message, or the window closes.
  const drainUntil = performance.now() + opts.drainS * 1000;
  const complete = () => driver.clients.every((c) => new Set(c.received).size >= driver.acked.size);
  while (!complete() && performance.now() < drainUntil) await sleep(50);
  await sleep(200);
  const counted = driver.clients.filter((c) => !c.control);
  const moved = counted.filter((c) => c.moved);
  const result: CrashResult = {
    ...tallyDeliveries(
      driver.acked,
      counted.map((c) => c.received),
    ),
    clients: counted.length,
    movedClients: moved.length,
    published: total,
    acked: driver.acked.size,
    resumeMs: moved.map((c) => (c.resumedAt ? c.resumedAt - killedAt : Number.NaN)),
    recovered: driver.recovered?.(),
    controlRecovered: driver.controlRecovered?.(),
  };
  driver.close();
  return result;
}

async function inBatches(count: number, open: (i: number) => Promise<void>, deadline: number): Promise<void> {
  for (let start = 0; start < count; start += OPEN_BATCH) {
    if (performance.now() > deadline) throw new Error(`only ${start} of ${count} clients connected in time`);
    await Promise.all(Array.from({ length: Math.min(OPEN_BATCH, count - start) }, (_, k) => open(start + k)));
  }
}

/** Tries `open` until it succeeds (a survivor may refuse while it takes the moved clients). */
async function reopen(open: () => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await open();
    } catch (error) {
      if (attempt >= REOPEN_ATTEMPTS) throw error;
      await sleep(100);
    }
  }
}

// --- ours ---------------------------------------------------------------------------------------

interface OursClient extends CrashClient {
  token: string;
  lastSeq: number | undefined;
  ws?: WebSocket;
}

function oursDriver(ctx: BenchContext, members: FleetMember[], room: string, count: number): CrashDriver {
  const urls = members.map((m) => `${m.url.replace(/^http/, "ws")}/v1/rooms/${room}/ws`);
  const clients: OursClient[] = [];
  const acked = new Set<number>();
  const victim = members.length - 1;
  let publisher: WebSocket | undefined;
  let closing = false;

  const openClient = (client: OursClient, at: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const since = client.lastSeq === undefined ? "" : `?since=${client.lastSeq}`;
      const { ws, welcomed } = openOursSocket(`${urls[at]}${since}`, client.token, OPEN_TIMEOUT_MS, reject);
      const deliver = (m: { seq?: number; data?: unknown }) => {
        const i = (m.data as { i?: unknown } | undefined)?.i;
        if (typeof i !== "number") return;
        client.received.push(i);
        if (typeof m.seq === "number") client.lastSeq = Math.max(client.lastSeq ?? 0, m.seq);
        if (client.moved && !client.resumedAt) client.resumedAt = performance.now();
      };
      ws.on("message", (raw) => {
        const text = raw.toString();
        if (text.startsWith('{"type":"presence"')) return;
        const frame = JSON.parse(text) as { type: string; seq?: number; messages?: Array<{ seq: number }> };
        if (frame.type === "welcome") {
          client.lastSeq ??= frame.seq ?? 0;
          welcomed();
          client.ws = ws;
          client.at = at;
          resolve();
        } else if (frame.type === "message") deliver(frame);
        else if (frame.type === "batch") for (const m of frame.messages ?? []) deliver(m);
      });
      ws.on("close", () => {
        if (closing || client.ws !== ws || at !== victim) return;
        // Its instance died: resume at once on a survivor, from the last seq received.
        client.moved = true;
        void reopen(() => openClient(client, clients.indexOf(client) % victim)).catch(() => {});
      });
    });

  return {
    clients,
    acked,
    async open(deadline) {
      const users = await createUsers(ctx.services.databaseUrl, ctx.workerVars, `${ctx.runId}-crash`, count + 1);
      const publisherUser = users.pop();
      for (const u of users)
        clients.push({ token: u.token, lastSeq: undefined, received: [], at: 0, moved: false, resumedAt: 0 });
      await inBatches(count, (i) => openClient(clients[i] as OursClient, i % members.length), deadline);
      const pub: OursClient = {
        token: publisherUser?.token ?? "",
        lastSeq: undefined,
        received: [],
        at: 0,
        moved: false,
        resumedAt: 0,
      };
      await openClient(pub, 0);
      publisher = pub.ws;
      publisher?.on("message", (raw) => {
        const frame = JSON.parse(raw.toString()) as { type: string; id?: string };
        if (frame.type === "ack" && frame.id !== undefined) acked.add(Number(frame.id));
      });
    },
    publish(i) {
      publisher?.send(JSON.stringify({ type: "publish", id: String(i), data: { i, t: performance.now() } }));
    },
    close() {
      closing = true;
      for (const c of clients) c.ws?.terminate();
      publisher?.terminate();
    },
  };
}

// --- socket.io with the streams adapter --------------------------------------------------------

interface BaseClient extends CrashClient {
  cookie: string;
  socket?: Socket;
  /** The session id and last offset socket.io-client keeps for connection state recovery. */
  pid?: string;
  offset?: string;
  recovered: boolean;
  /** The last connect restored a session. */
  wasRecovered?: boolean;
}

/** socket.io-client's private recovery state (it sends these two in its CONNECT packet when set). */
type RecoveryState = { _pid?: string; _lastOffset?: string };

function baselineDriver(ctx: BenchContext, members: FleetMember[], room: string, count: number): CrashDriver {
  const clients: BaseClient[] = [];
  const acked = new Set<number>();
  const victim = members.length - 1;
  let publisher: Socket | undefined;
  let closing = false;
  let controlRestored = false;

  const openClient = (client: BaseClient, at: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const socket = io(members[at]?.url as string, {
        transports: ["websocket"],
        extraHeaders: { cookie: client.cookie },
        reconnection: false,
        forceNew: true,
        autoConnect: false,
        timeout: OPEN_TIMEOUT_MS,
      });
      // Resuming: what socket.io-client itself would send on reconnecting (pid + offset).
      const state = socket as unknown as RecoveryState;
      if (client.pid) {
        state._pid = client.pid;
        state._lastOffset = client.offset;
      }
      socket.once("connect_error", (error) => {
        socket.close();
        reject(error);
      });
      socket.once("connect", () => {
        client.socket = socket;
        client.at = at;
        if (client.moved && socket.recovered) client.recovered = true;
        client.wasRecovered = socket.recovered;
        // A restored session is already in its rooms; a new one joins.
        if (socket.recovered) return resolve();
        socket
          .timeout(OPEN_TIMEOUT_MS)
          .emitWithAck("join", room)
          .then((reply: { ok?: boolean; error?: string }) =>
            reply.ok ? resolve() : reject(new Error(`join refused: ${reply.error}`)),
          )
          .catch(reject);
      });
      socket.on("message", (m: { data?: { i?: unknown } }) => {
        if (typeof m?.data?.i !== "number") return;
        client.received.push(m.data.i);
        if (client.moved && !client.resumedAt) client.resumedAt = performance.now();
      });
      socket.on("disconnect", () => {
        client.pid = state._pid;
        client.offset = state._lastOffset;
        if (closing || client.socket !== socket || at !== victim) return;
        client.moved = true;
        void reopen(() => openClient(client, clients.indexOf(client) % victim)).catch(() => {});
      });
      socket.connect();
    });

  return {
    clients,
    acked,
    recovered: () => clients.filter((c) => c.recovered).length,
    // Restored, and it missed nothing of what was acknowledged.
    controlRecovered: () => controlRestored && tallyDeliveries(acked, [(clients[0] as BaseClient).received]).lost === 0,
    async open(deadline) {
      const users = await mintSessions(ctx.redis, {
        keyPrefix: ctx.baseline.keyPrefix,
        secret: ctx.baseline.sessionSecret,
        count: count + 1,
        tag: `${ctx.runId}-crash`,
      });
      const publisherUser = users.pop();
      for (const u of users)
        clients.push({ cookie: u.cookie, received: [], at: 0, moved: false, resumedAt: 0, recovered: false });
      await inBatches(count, (i) => openClient(clients[i] as BaseClient, i % members.length), deadline);
      const pub: BaseClient = {
        cookie: publisherUser?.cookie ?? "",
        received: [],
        at: 0,
        moved: false,
        resumedAt: 0,
        recovered: false,
      };
      await openClient(pub, 0);
      publisher = pub.socket;
    },
    // The control: the first client's transport closes while its process lives (socket.io then
    // persists the session), and it reconnects to the second process the same way the moved ones
    // do. It must then be restored and miss nothing, or the harness' resume path is what fails.
    async midway() {
      const control = clients[0] as BaseClient;
      control.control = true;
      const old = control.socket as Socket;
      const gone = new Promise<void>((resolve) => old.once("disconnect", () => resolve()));
      old.io.engine.close();
      await gone;
      await sleep(200);
      await reopen(() => openClient(control, 1));
      controlRestored = control.wasRecovered === true;
    },
    publish(i) {
      publisher?.emit("publish", { room, data: { i, t: performance.now() }, id: i }, (reply: { id?: unknown }) => {
        if (typeof reply?.id === "number") acked.add(reply.id);
      });
    },
    close() {
      closing = true;
      for (const c of clients) c.socket?.close();
      publisher?.close();
    },
  };
}

export const crashOurs = (ctx: BenchContext, members: FleetMember[], room: string, opts: CrashOptions) =>
  runCrash(oursDriver(ctx, members, room, opts.clients), members, opts);

export const crashBaseline = (ctx: BenchContext, members: FleetMember[], room: string, opts: CrashOptions) =>
  runCrash(baselineDriver(ctx, members, room, opts.clients), members, opts);
