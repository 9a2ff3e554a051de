// The two kinds of realtime client the room benchmark drives, behind one small interface: plain
// WebSockets to ours (the room's Durable Object) and socket.io clients to the baseline's two
// processes. Each receiver records publish-to-receive latency into the current round's recorder.
import { io, type Socket } from "socket.io-client";
import { WebSocket } from "ws";
import { mintSessions } from "../baselines/sessions.ts";
import type { BenchContext } from "../lib/context.ts";
import { createUsers } from "../ours/identity.ts";

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
  /** Sends one message into the room. */
  publish(data: Payload): void;
  /** Publishes the server refused so far (error frames / error acks), with the last reason. */
  refused: { count: number; last: string };
  close(): void;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

export function openOurs(
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

export async function connectOurs(
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
