// Finds a free TCP port on 127.0.0.1 by letting the OS pick one, then releasing it.
// Only for tools that cannot bind port 0 themselves (redis-server, wrangler): there is a small
// window in which another process could take the port, which is acceptable for local tooling.
import { connect, createServer } from "node:net";

export async function freePort(host = "127.0.0.1"): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close((err) => (err || port === 0 ? reject(err ?? new Error("no port assigned")) : resolve(port)));
    });
  });
}

/** Resolves true when something accepts TCP connections at host:port within timeoutMs. */
export async function canConnect(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return await new Promise<boolean>((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean): void => {
      socket.removeAllListeners();
      socket.on("error", () => {});
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** Starts `server` on 127.0.0.1 (port 0: the OS picks one) and resolves the port it got. */
export async function listenOnLoopback(server: import("node:net").Server, port = 0): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address !== "object") throw new Error("the server has no TCP address");
  return address.port;
}

/** Resolves true when nothing listens on 127.0.0.1:port (we could bind it). */
export async function canListen(port: number, host = "127.0.0.1"): Promise<boolean> {
  return await new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}
