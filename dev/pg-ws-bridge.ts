// WebSocket-to-TCP bridge so @neondatabase/serverless (which only speaks Postgres over WebSockets)
// can reach a plain Postgres or PGlite. It mimics Neon's wsproxy: the driver, configured with
//   neonConfig.wsProxy = (host, port) => `${DATABASE_WS_PROXY}?address=${host}:${port}`
//   useSecureWebSocket = false, pipelineTLS = false, pipelineConnect = false
// opens ws://127.0.0.1:PORT/v1?address=host:port and we pipe raw bytes both ways (binary frames).
// Targets are limited to an allow-list: this is an open relay otherwise, even on loopback.
import { createServer, type IncomingMessage } from "node:http";
import { connect, type Socket } from "node:net";
import { type RawData, WebSocket, WebSocketServer } from "ws";
import { listenOnLoopback } from "./free-port.ts";

export interface PgWsBridgeOptions {
  /** 0 or absent: a free port. */
  port?: number;
  /** Allowed targets as "host:port", e.g. ["127.0.0.1:5432"]. "localhost" and "127.0.0.1" are treated as equal. */
  allow: string[];
}

export interface PgWsBridge {
  /** ws://127.0.0.1:PORT/v1, the value for DATABASE_WS_PROXY. */
  url: string;
  close(): Promise<void>;
}

function normalize(address: string): string {
  const trimmed = address.trim().toLowerCase();
  const idx = trimmed.lastIndexOf(":");
  if (idx <= 0) return trimmed;
  let host = trimmed.slice(0, idx).replace(/^\[|\]$/g, "");
  if (host === "localhost" || host === "::1") host = "127.0.0.1";
  return `${host}:${trimmed.slice(idx + 1)}`;
}

function targetOf(req: IncomingMessage): string | null {
  const url = new URL(req.url ?? "/", "http://localhost");
  const address = url.searchParams.get("address");
  if (url.pathname !== "/v1" || !address) return null;
  return address;
}

export async function startPgWsBridge(opts: PgWsBridgeOptions): Promise<PgWsBridge> {
  const allowed = new Set(opts.allow.map(normalize));
  const server = createServer((_req, res) => {
    res.writeHead(426, { "content-type": "text/plain" }).end("WebSocket upgrade required\n");
  });
  const wss = new WebSocketServer({ noServer: true });
  const sockets = new Set<Socket>();

  server.on("upgrade", (req, socket, head) => {
    const target = targetOf(req);
    const key = target ? normalize(target) : null;
    if (!key || !allowed.has(key)) {
      // Refuse before the handshake so the client sees a clean HTTP 403, not an open-then-closed socket.
      socket.end(`HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => pipe(ws, key));
  });

  const pipe = (ws: WebSocket, target: string): void => {
    const idx = target.lastIndexOf(":");
    const tcp = connect({ host: target.slice(0, idx), port: Number(target.slice(idx + 1)) });
    tcp.setNoDelay(true);
    sockets.add(tcp);
    // Bytes that arrive before the TCP connect completes are buffered by the socket itself.
    ws.on("message", (data: RawData) => {
      const chunks = Buffer.isBuffer(data) ? [data] : Array.isArray(data) ? data : [Buffer.from(data)];
      for (const chunk of chunks) tcp.write(chunk);
    });
    tcp.on("data", (chunk) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(chunk, { binary: true });
    });
    // Whichever side goes away first takes the other with it.
    const closeWs = (code: number, reason: string): void => {
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(code, reason);
    };
    tcp.on("error", (err) => closeWs(1011, `upstream error: ${err.message}`.slice(0, 120)));
    tcp.on("close", () => {
      sockets.delete(tcp);
      closeWs(1000, "upstream closed");
    });
    ws.on("close", () => tcp.destroy());
    ws.on("error", () => tcp.destroy());
  };

  const port = await listenOnLoopback(server, opts.port);

  let closing: Promise<void> | null = null;
  return {
    url: `ws://127.0.0.1:${port}/v1`,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        for (const s of sockets) s.destroy();
        wss.close();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
