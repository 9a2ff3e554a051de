// The two kinds of realtime client the room benchmark drives, behind one small interface: plain
// WebSockets to ours (the room's Durable Object) and socket.io clients to the baseline's two
// processes. Each receiver records publish-to-receive latency into the current round's recorder.
import { io, type Socket } from "socket.io-client";
import { readFile } from "node:fs/promises";
import { WebSocket } from "ws";
import { mintSessions } from "../baselines/sessions.ts";
import { floorMessageFrame } from "../floor/room-frames.ts";
import type { BenchContext } from "../lib/context.ts";
import { createUsers } from "../ours/identity.ts";
import { processTree } from "../ours/workerd.ts";

const CONNECT_BATCH = 50;
const CONNECT_TIMEOUT_MS = 15_000;

/** What the receivers of one round write into. */
export interface Recorder {
  round: number;
  latencies: number[];
  lastAt: number;
}

export interface Payload {
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

export interface Side {
  /** The server processes whose CPU this side's deliveries cost. */
  pids: number[];
  /** Frames each client has received so far (ours only: socket.io's packets are not counted). */
  framesPerClient?: () => number[];
  /**
   * performance.now() once this side's users existed and before its first socket opened: connect time
   * is counted from here, so neither side's fixture making (Postgres rows and JWTs for ours, Redis
   * sessions for socket.io) is timed as connecting.
   */
  usersReadyAt?: number;
  /** Closes every receiving client and opens it again (same users), as after a deploy; resolves when all are back. */
  reconnectAll(deadline: number): Promise<void>;
  /** Sends one message into the room. */
  publish(data: Payload): void;
  /** Publishes the server refused so far (error frames / error acks), with the last reason. */
  refused: { count: number; last: string };
  close(): void;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The real workerd binary under `pid`: node_modules/.bin/workerd is a Node wrapper that spawns
 * @cloudflare/workerd-linux-64/bin/workerd, and the CPU that serves the room is that child's.
 */
export async function workerdPids(pid: number): Promise<number[]> {
  const tree = await processTree(pid);
  const named = await Promise.all(
    tree.map(async (p) => ((await readFile(`/proc/${p}/comm`, "utf8").catch(() => "")).trim() === "workerd" ? p : 0)),
  );
  const found = named.filter((p) => p > 0);
  return found.length > 0 ? found : [pid];
}

/** Opens `count` clients, CONNECT_BATCH at a time; on any failure closes those already open. */
async function inBatches<T>(
  count: number,
  deadline: number,
  open: (i: number) => Promise<T>,
  close: (client: T) => void,
  attempts = 1,
): Promise<T[]> {
  const out: T[] = [];
  // A reconnecting client retries a refused open after a jittered pause, as the SDK does.
  const openWithRetry = async (i: number): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await open(i);
      } catch (error) {
        if (attempt >= attempts || performance.now() > deadline) throw error;
        await sleep(500 * (0.5 + Math.random()) * attempt);
      }
    }
  };
  try {
    for (let start = 0; start < count; start += CONNECT_BATCH) {
      if (performance.now() > deadline) throw new Error(`only ${out.length} of ${count} clients connected in time`);
      const settled = await Promise.allSettled(
        Array.from({ length: Math.min(CONNECT_BATCH, count - start) }, (_, k) => openWithRetry(start + k)),
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

/** A socket to ours and how many frames it has received (welcome, presence, messages, batches, acks). */
export interface OursSocket {
  ws: WebSocket;
  frames: number;
}

export function openOurs(
  url: string,
  token: string,
  onFrame: (frame: { type?: string; data?: unknown }) => void,
): Promise<WebSocket> {
  return openOursCounted(url, token, onFrame).then((s) => s.ws);
}

/**
 * Opens one socket to ours and turns every way a connect can fail into `reject`: no welcome within
 * `timeoutMs`, an upgrade answered with a status (e.g. "upgrade answered 503"), a socket error. The
 * caller calls `welcomed()` on the welcome frame to stop the clock.
 */
export function openOursSocket(
  url: string,
  token: string,
  timeoutMs: number,
  reject: (error: Error) => void,
): { ws: WebSocket; welcomed: () => void } {
  const ws = new WebSocket(url, {
    headers: { authorization: `Bearer ${token}` },
    perMessageDeflate: false,
    handshakeTimeout: timeoutMs,
  });
  const timer = setTimeout(() => {
    ws.terminate();
    reject(new Error("no welcome frame in time"));
  }, timeoutMs);
  ws.on("unexpected-response", (_req, res) => {
    clearTimeout(timer);
    ws.terminate();
    reject(new Error(`upgrade answered ${res.statusCode}${res.statusCode === 404 ? " (route not there yet)" : ""}`));
  });
  ws.on("error", (error) => {
    clearTimeout(timer);
    reject(error);
  });
  return { ws, welcomed: () => clearTimeout(timer) };
}

/** Opens one socket to ours; rejects with the upgrade's status (e.g. "upgrade answered 503") when refused. */
export function openOursCounted(
  url: string,
  token: string,
  onFrame: (frame: { type?: string; data?: unknown }) => void,
): Promise<OursSocket> {
  return new Promise((resolve, reject) => {
    const { ws, welcomed } = openOursSocket(url, token, CONNECT_TIMEOUT_MS, reject);
    const counted: OursSocket = { ws, frames: 0 };
    ws.on("message", (raw) => {
      counted.frames++;
      const text = raw.toString();
      // Presence frames are not measured: skip parsing them so the client side costs the same per
      // measured message as socket.io's.
      if (text.startsWith('{"type":"presence"')) return;
      let frame: { type?: string; data?: unknown; messages?: Array<{ type?: string; data?: unknown }> };
      try {
        frame = JSON.parse(text) as typeof frame;
      } catch {
        return;
      }
      if (frame.type === "welcome") {
        welcomed();
        resolve(counted);
      }
      // A batch carries several messages stored in one tick: each is delivered (and timed) on its own.
      if (frame.type === "batch" && Array.isArray(frame.messages)) for (const m of frame.messages) onFrame(m);
      else onFrame(frame);
    });
  });
}

/** Where ours' clients connect: by default the one workerd; the linked suite passes its Node instances. */
export interface OursTarget {
  /** Server base URLs; client i connects to urls[i % urls.length], the publisher to urls[0]. */
  urls: string[];
  pids: number[];
  /** Distinguishes this side's users from the realtime suite's (emails are unique). */
  tag: string;
}

export async function connectOurs(
  ctx: BenchContext,
  room: string,
  clients: number,
  recorder: () => Recorder,
  deadline: number,
  target?: OursTarget,
): Promise<Side> {
  const tag = target?.tag ?? `${ctx.runId}-rt${clients}`;
  const users = await createUsers(ctx.services.databaseUrl, ctx.workerVars, tag, clients + 1);
  const usersReadyAt = performance.now();
  const urls = (target?.urls ?? [ctx.ours.url]).map((u) => `${u.replace(/^http/, "ws")}/v1/rooms/${room}/ws`);
  const url = urls[0] as string;
  const publisherUser = users.pop();
  if (!publisherUser) throw new Error("no publisher user");
  const openAll = (until: number, attempts = 1) =>
    inBatches(
      clients,
      until,
      (i) =>
        openOursCounted(urls[i % urls.length] as string, (users[i] as { token: string }).token, (frame) => {
          if (frame.type === "message") record(recorder(), frame.data);
        }),
      (s) => s.ws.terminate(),
      attempts,
    );
  let counted = await openAll(deadline);
  let sockets = counted.map((s) => s.ws);
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
    usersReadyAt,
    pids: target?.pids ?? (await workerdPids(ctx.ours.proc.pid)),
    framesPerClient: () => counted.map((s) => s.frames),
    async reconnectAll(until) {
      for (const ws of sockets) ws.terminate();
      counted = await openAll(until, 5);
      sockets = counted.map((s) => s.ws);
    },
    refused,
    publish: (data) => publisher.send(JSON.stringify({ type: "publish", data, id: String(data.i) })),
    close: () => {
      for (const ws of [...sockets, publisher]) ws.terminate();
    },
  };
}

// --- runtime floors: the same clients against a bare broadcast room (bench/floor/room-*.ts) -------

/**
 * `clients` receivers and one publisher on a runtime floor, with the very code that opens ours'
 * (openOursCounted: the welcome frame ends the connect; `message` frames are timed), so a floor row
 * differs from ours' by the server alone. No users: a floor checks nothing. The publisher sends
 * message-shaped frames (room-frames.ts) that the floor forwards as they are.
 */
export async function connectFloor(
  baseUrl: string,
  pids: number[],
  room: string,
  clients: number,
  recorder: () => Recorder,
  deadline: number,
): Promise<Side> {
  const url = `${baseUrl.replace(/^http/, "ws")}/v1/rooms/${room}/ws`;
  const openAll = (until: number, attempts = 1) =>
    inBatches(
      clients,
      until,
      () =>
        openOursCounted(url, "floor", (frame) => {
          if (frame.type === "message") record(recorder(), frame.data);
        }),
      (s) => s.ws.terminate(),
      attempts,
    );
  let counted = await openAll(deadline);
  let sockets = counted.map((s) => s.ws);
  const publisher = await openOurs(url, "floor", () => {}).catch((error: unknown) => {
    for (const ws of sockets) ws.terminate();
    throw error;
  });
  return {
    pids,
    framesPerClient: () => counted.map((s) => s.frames),
    async reconnectAll(until) {
      for (const ws of sockets) ws.terminate();
      counted = await openAll(until, 5);
      sockets = counted.map((s) => s.ws);
    },
    // A floor refuses nothing.
    refused: { count: 0, last: "" },
    publish: (data) => publisher.send(floorMessageFrame(data, data.i)),
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

export async function connectBaseline(
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
  const usersReadyAt = performance.now();
  const publisherUser = users.pop();
  if (!publisherUser) throw new Error("no publisher user");
  const urls = [ctx.baseline.a.url, ctx.baseline.b.url];
  const openAll = (until: number, attempts = 1) =>
    inBatches(
      clients,
      until,
      (i) =>
        openBaseline(urls[i % 2] as string, (users[i] as { cookie: string }).cookie, room, (m) =>
          record(recorder(), m.data),
        ),
      (s) => s.close(),
      attempts,
    );
  let sockets = await openAll(deadline);
  const publisher = await openBaseline(ctx.baseline.a.url, publisherUser.cookie, room, () => {}).catch(
    (error: unknown) => {
      for (const s of sockets) s.close();
      throw error;
    },
  );
  const refused = { count: 0, last: "" };
  return {
    usersReadyAt,
    pids: [ctx.baseline.a.proc.pid, ctx.baseline.b.proc.pid],
    async reconnectAll(until) {
      for (const s of sockets) s.close();
      sockets = await openAll(until, 5);
    },
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

// --- reconnect storm: every client at the same moment -------------------------------------------

export interface StormResult {
  welcomed: number;
  refused: number;
  /** Refusal reasons and how often each was seen, e.g. { "upgrade answered 503": 12 }. */
  reasons: Record<string, number>;
  /** From the first open to the last welcome (or the last failure), s. */
  spanS: number;
}

async function storm<T>(count: number, open: (i: number) => Promise<T>, close: (c: T) => void): Promise<StormResult> {
  const start = performance.now();
  const settled = await Promise.allSettled(Array.from({ length: count }, (_, i) => open(i)));
  const spanS = (performance.now() - start) / 1000;
  const reasons: Record<string, number> = {};
  let welcomed = 0;
  for (const s of settled) {
    if (s.status === "fulfilled") {
      welcomed++;
      close(s.value);
    } else {
      const reason = s.reason instanceof Error ? s.reason.message : String(s.reason);
      reasons[reason] = (reasons[reason] ?? 0) + 1;
    }
  }
  return { welcomed, refused: count - welcomed, reasons, spanS };
}

/**
 * `count` distinct users open one room of ours at once, twice: the first time is each user's first
 * connect ever, the second is the same users coming back together (as after a deploy).
 */
export async function stormOurs(ctx: BenchContext, room: string, count: number): Promise<StormResult[]> {
  const users = await createUsers(ctx.services.databaseUrl, ctx.workerVars, `${ctx.runId}-storm${count}`, count);
  const url = `${ctx.ours.url.replace(/^http/, "ws")}/v1/rooms/${room}/ws`;
  const results: StormResult[] = [];
  for (let round = 0; round < 2; round++) {
    results.push(
      await storm(
        count,
        (i) => openOurs(url, (users[i] as { token: string }).token, () => {}),
        (ws) => ws.terminate(),
      ),
    );
    await sleep(1000);
  }
  return results;
}

/** The same storms against the baseline, clients split over its two processes. */
export async function stormBaseline(ctx: BenchContext, room: string, count: number): Promise<StormResult[]> {
  const users = await mintSessions(ctx.redis, {
    keyPrefix: ctx.baseline.keyPrefix,
    secret: ctx.baseline.sessionSecret,
    count,
    tag: `${ctx.runId}-storm${count}`,
  });
  const urls = [ctx.baseline.a.url, ctx.baseline.b.url];
  const results: StormResult[] = [];
  for (let round = 0; round < 2; round++) {
    results.push(
      await storm(
        count,
        (i) => openBaseline(urls[i % 2] as string, (users[i] as { cookie: string }).cookie, room, () => {}),
        (s) => s.close(),
      ),
    );
    await sleep(1000);
  }
  return results;
}
