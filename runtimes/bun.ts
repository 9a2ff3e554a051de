// Bun entry point: `bun runtimes/bun.ts`. Bun upgrades inside fetch via server.upgrade(); the
// socket's events arrive on the server's websocket handlers, routed here through ws.data.
import type { RoomSocket, SocketEvents, SocketUpgrader } from "./local-rooms.ts";
import { createRuntimeService } from "./service.ts";

interface SocketData {
  onOpen: (socket: RoomSocket) => SocketEvents;
  events?: SocketEvents;
}
interface BunSocket {
  data: SocketData;
  send(text: string): number;
  getBufferedAmount(): number;
  close(code?: number, reason?: string): void;
}
interface BunServer {
  upgrade(request: Request, options: { data: SocketData }): boolean;
  stop(closeActive?: boolean): Promise<void>;
  port: number;
}
// The slice of Bun's API this file uses (the project type-checks with Workers/Node types).
declare const Bun: {
  env: Record<string, string | undefined>;
  serve(options: {
    port: number;
    hostname: string;
    fetch(request: Request, server: BunServer): Response | Promise<Response>;
    websocket: {
      maxPayloadLength?: number;
      open(ws: BunSocket): void;
      message(ws: BunSocket, message: string | Uint8Array): void;
      close(ws: BunSocket, code: number, reason: string): void;
    };
  }): BunServer;
};

// The server exists only after Bun.serve returns; upgrades cannot happen before it does.
const holder: { server?: BunServer } = {};
const upgrader: SocketUpgrader = {
  upgrade(request, onOpen) {
    if (!holder.server?.upgrade(request, { data: { onOpen } })) return null;
    // Ignored by Bun once the request was upgraded.
    return new Response(null);
  },
};

const service = createRuntimeService("bun", Bun.env, upgrader);
// A stray rejection is logged, never fatal: on Workers it would fail one request, not the process.
process.on("unhandledRejection", (error) => service.log.error("unhandled rejection", { error }));
holder.server = Bun.serve({
  port: service.port,
  hostname: service.hostname,
  fetch: (request) => service.fetch(request),
  websocket: {
    maxPayloadLength: 1024 * 1024,
    open(ws) {
      const socket: RoomSocket = {
        send: (text) => void ws.send(text),
        close: (code, reason) => ws.close(code, reason),
        bufferedAmount: () => ws.getBufferedAmount(),
      };
      ws.data.events = ws.data.onOpen(socket);
    },
    message(ws, message) {
      const data = typeof message === "string" ? message : (message.slice().buffer as ArrayBuffer);
      ws.data.events?.message(data);
    },
    close(ws, code) {
      ws.data.events?.closed(code);
    },
  },
});
service.log.info("listening", { port: holder.server.port });

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    service.log.info("shutting down", { signal });
    void Promise.all([holder.server?.stop(true), service.close()]).finally(() => process.exit(0));
  });
}
