// Deno entry point: `deno run --allow-net --allow-env --allow-read --allow-sys=osRelease runtimes/deno.ts`
// (the AWS SDK reads the OS release for its user agent; without it storage calls fail). Deno 2 reads
// the npm packages from node_modules through package.json. Deno Deploy: deploy this file.
import type { RoomSocket, SocketUpgrader } from "./local-rooms.ts";
import { createRuntimeService } from "./service.ts";

// The slice of the Deno namespace this file uses (the project type-checks with Workers/Node types).
declare const Deno: {
  env: { toObject(): Record<string, string> };
  serve(
    options: { port: number; hostname: string; onListen?: (addr: { port: number }) => void },
    handler: (request: Request) => Response | Promise<Response>,
  ): { shutdown(): Promise<void>; finished: Promise<void> };
  upgradeWebSocket(request: Request): { socket: WebSocket; response: Response };
  addSignalListener(signal: "SIGINT" | "SIGTERM", handler: () => void): void;
  exit(code: number): never;
};

const upgrader: SocketUpgrader = {
  upgrade(request, onOpen) {
    let upgraded: { socket: WebSocket; response: Response };
    try {
      upgraded = Deno.upgradeWebSocket(request);
    } catch {
      return null;
    }
    const ws = upgraded.socket;
    // Deno's socket is open only after the 101 went out: the room greets it then.
    ws.addEventListener("open", () => {
      const socket: RoomSocket = {
        send: (text) => ws.send(text),
        close: (code, reason) => ws.close(code, reason),
        // Deno's WebSocket has the standard bufferedAmount; the Workers types in scope do not.
        bufferedAmount: () => (ws as unknown as { bufferedAmount: number }).bufferedAmount,
      };
      const events = onOpen(socket);
      ws.addEventListener("message", (e) => events.message(e.data as string | ArrayBuffer));
      ws.addEventListener("close", (e) => events.closed(e.code));
    });
    return upgraded.response;
  },
};

const service = createRuntimeService("deno", Deno.env.toObject(), upgrader);
// A stray rejection is logged, never fatal: on Workers it would fail one request, not the process.
globalThis.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  service.log.error("unhandled rejection", { error: event.reason });
});
const server = Deno.serve(
  {
    port: service.port,
    hostname: service.hostname,
    onListen: ({ port }) => service.log.info("listening", { port }),
  },
  (request) => service.fetch(request),
);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => {
    service.log.info("shutting down", { signal });
    void Promise.all([server.shutdown(), service.close()]).finally(() => Deno.exit(0));
  });
}
