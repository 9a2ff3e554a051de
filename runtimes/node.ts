// Node entry point: `node runtimes/node.ts` (Node 24 strips the types). HTTP through
// @hono/node-server; WebSocket upgrades through `ws`, handed to the in-process rooms.
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { serve } from "@hono/node-server";
import { neonConfig } from "@neondatabase/serverless";
import { WebSocket, WebSocketServer } from "ws";
import type { RoomSocket, SocketUpgrader } from "./local-rooms.ts";
import { ProblemError, problemResponse } from "../src/core/problem.ts";
import { createRuntimeService } from "./service.ts";

// The Neon driver needs a WebSocket constructor outside browsers and Workers.
neonConfig.webSocketConstructor = WebSocket;

interface PendingUpgrade {
  incoming: IncomingMessage;
  socket: Duplex;
  head: Buffer;
  upgraded: boolean;
}

const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });
// Upgrade requests the app is routing right now, by the Request object the app sees as c.req.raw.
const pendingUpgrades = new WeakMap<Request, PendingUpgrade>();

const upgrader: SocketUpgrader = {
  upgrade(request, onOpen) {
    const pending = pendingUpgrades.get(request);
    if (!pending || pending.upgraded) return null;
    pending.upgraded = true;
    wss.handleUpgrade(pending.incoming, pending.socket, pending.head, (ws) => {
      const socket: RoomSocket = {
        send: (text) => ws.send(text),
        close: (code, reason) => ws.close(code, reason),
        bufferedAmount: () => ws.bufferedAmount,
      };
      const events = onOpen(socket);
      ws.on("message", (data, isBinary) => {
        const buffer = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
        events.message(
          isBinary
            ? buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength)
            : buffer.toString("utf8"),
        );
      });
      ws.on("close", (code) => events.closed(code));
      ws.on("error", () => ws.terminate());
    });
    // Ignored: the socket already switched protocols.
    return new Response(null);
  },
};

const service = createRuntimeService("node", process.env, upgrader);
// A stray rejection is logged, never fatal: on Workers it would fail one request, not the process.
process.on("unhandledRejection", (error) => service.log.error("unhandled rejection", { error }));

const server = serve({ fetch: service.fetch, port: service.port, hostname: service.hostname }, (info) =>
  service.log.info("listening", { port: info.port }),
);

function requestOf(incoming: IncomingMessage): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(incoming.headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  return new Request(`http://${incoming.headers.host ?? "localhost"}${incoming.url ?? "/"}`, { headers });
}

/** Writes a refusal (the app's problem response) on the raw socket and closes it. */
async function refuseOnSocket(socket: Duplex, response: Response): Promise<void> {
  const body = Buffer.from(await response.arrayBuffer());
  const head = [`HTTP/1.1 ${response.status} ${response.statusText || "Error"}`];
  for (const [name, value] of response.headers) head.push(`${name}: ${value}`);
  head.push(`content-length: ${body.byteLength}`, "connection: close", "", "");
  socket.end(Buffer.concat([Buffer.from(head.join("\r\n")), body]));
}

server.on("upgrade", (incoming: IncomingMessage, socket: Duplex, head: Buffer) => {
  socket.on("error", () => socket.destroy());
  const request = requestOf(incoming);
  const pending: PendingUpgrade = { incoming, socket, head, upgraded: false };
  pendingUpgrades.set(request, pending);
  Promise.resolve()
    .then(() => service.fetch(request))
    .then((response) => (pending.upgraded ? undefined : refuseOnSocket(socket, response)))
    .catch((error: unknown) => {
      service.log.error("upgrade failed", { error });
      socket.destroy();
    });
});

// Requests node:http refuses before the app sees them (a request line or headers over its 16 KiB
// limit, a malformed request) get the same problem+json as every other refusal, not Node's bare reply.
server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => {
  if (error.code === "ECONNRESET" || !socket.writable) {
    socket.destroy();
    return;
  }
  const tooLarge = error.code === "HPE_HEADER_OVERFLOW";
  const problem = new ProblemError({
    status: tooLarge ? 431 : 400,
    detail: tooLarge
      ? "The request line and headers are over the server's 16 KiB limit."
      : "The request could not be parsed as HTTP/1.1.",
  });
  refuseOnSocket(socket, problemResponse(problem, crypto.randomUUID())).catch(() => socket.destroy());
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    service.log.info("shutting down", { signal });
    server.close();
    wss.close();
    void service.close().finally(() => process.exit(0));
  });
}
