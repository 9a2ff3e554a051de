// A TCP proxy in front of the Worker, so a test can cut live connections the way a network does
// (no close frame, the socket just dies) and refuse new ones for a while.
import { connect, createServer, type Socket } from "node:net";

export interface TcpProxy {
  /** http://127.0.0.1:<port> */
  url: string;
  /** Destroys every open connection and refuses new ones for `refuseMs`. */
  cut(refuseMs?: number): void;
  /** Connections cut so far. */
  readonly cutCount: number;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, targetHost = "127.0.0.1"): Promise<TcpProxy> {
  const open = new Set<Socket>();
  let refuseUntil = 0;
  let cutCount = 0;
  const server = createServer((downstream) => {
    if (Date.now() < refuseUntil) {
      downstream.destroy();
      return;
    }
    const upstream = connect({ host: targetHost, port: targetPort });
    for (const socket of [downstream, upstream]) {
      open.add(socket);
      socket.on("error", () => {});
      socket.on("close", () => {
        open.delete(socket);
        downstream.destroy();
        upstream.destroy();
      });
    }
    downstream.pipe(upstream);
    upstream.pipe(downstream);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (typeof address !== "object" || address === null) throw new Error("proxy did not bind");
  return {
    url: `http://127.0.0.1:${address.port}`,
    cut(refuseMs = 0) {
      refuseUntil = Date.now() + refuseMs;
      for (const socket of open) {
        cutCount++;
        socket.destroy();
      }
    },
    get cutCount() {
      return cutCount;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
