// The port `npm run dev` prints, in front of `wrangler dev` on an internal port. It passes requests
// and WebSocket upgrades through unchanged, except where wrangler's own proxy would answer with a
// plain-text 500 and a stack trace of its files instead of the API's RFC 9457 problems:
// - a request body that breaks off (the client closed or half-closed before Content-Length bytes):
//   400 `incomplete-body`, as the Worker answers it in production; the Worker's request is aborted;
// - wrangler dev not answering at all (restarting, crashed): 502 naming it.
import { Agent, createServer, type IncomingMessage, request, type ServerResponse } from "node:http";
import { connect, type Socket } from "node:net";
import { listenOnLoopback } from "./free-port.ts";

export interface FrontProxyOptions {
  /** 0 or absent: a free port. */
  port?: number;
  /** Where wrangler dev listens. */
  targetPort: number;
}

export interface FrontProxy {
  port: number;
  close(): Promise<void>;
}

function problem(res: ServerResponse, status: number, type: string, title: string, detail: string): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const requestId = crypto.randomUUID();
  const body = JSON.stringify({ type: `/problems/${type}`, title, status, detail, requestId });
  res
    .writeHead(status, {
      "content-type": "application/problem+json; charset=utf-8",
      "cache-control": "no-store",
      "x-request-id": requestId,
      connection: "close",
    })
    .end(body);
}

/** Headers as Node received them (duplicates kept), for passing on. */
const rawHeaders = (req: IncomingMessage): string[] => req.rawHeaders;

export async function startFrontProxy(opts: FrontProxyOptions): Promise<FrontProxy> {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const upgrades = new Set<Socket>();

  const server = createServer((req, res) => {
    const declared = Number(req.headers["content-length"] ?? Number.NaN);
    let received = 0;
    let finished = false;
    req.on("data", (chunk: Buffer) => {
      received += chunk.length;
    });
    req.once("end", () => {
      finished = true;
    });
    const upstream = request({
      host: "127.0.0.1",
      port: opts.targetPort,
      method: req.method,
      path: req.url,
      headers: rawHeaders(req),
      agent,
    });
    upstream.on("response", (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
      answer.pipe(res);
      answer.on("error", () => res.destroy());
    });
    const cutShort = (): void => {
      if (finished && (Number.isNaN(declared) || received >= declared)) return;
      upstream.destroy();
      problem(
        res,
        400,
        "incomplete-body",
        "Incomplete request body",
        "The request body ended before it was complete (the connection closed or broke); nothing was stored.",
      );
    };
    req.once("aborted", cutShort);
    req.once("error", cutShort);
    req.once("close", cutShort);
    upstream.on("error", () => {
      if (!finished && !Number.isNaN(declared) && received < declared) return cutShort();
      problem(res, 502, "dev-server-unavailable", "Bad Gateway", "wrangler dev (the Worker) is not answering.");
    });
    req.pipe(upstream);
  });

  // Node's HTTP parser fails the connection itself when the bytes stop short of Content-Length (and on
  // malformed HTTP); its default answer is a bare 400 without a body. Answer the API's problem instead.
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable || socket.writableEnded) {
      socket.destroy();
      return;
    }
    const cut = err.code === "HPE_INVALID_EOF_STATE" || err.code === "ECONNRESET";
    const body = JSON.stringify({
      type: cut ? "/problems/incomplete-body" : "/problems/bad-request",
      title: cut ? "Incomplete request body" : "Bad Request",
      status: 400,
      detail: cut
        ? "The request body ended before it was complete (the connection closed or broke); nothing was stored."
        : "The request is not valid HTTP.",
      requestId: crypto.randomUUID(),
    });
    socket.end(
      `HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });

  server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const upstream = connect({ host: "127.0.0.1", port: opts.targetPort });
    upgrades.add(socket);
    const headers = rawHeaders(req);
    const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
    for (let i = 0; i < headers.length; i += 2) lines.push(`${headers[i]}: ${headers[i + 1]}`);
    upstream.write(`${lines.join("\r\n")}\r\n\r\n`);
    if (head.length > 0) upstream.write(head);
    socket.pipe(upstream).pipe(socket);
    const end = (): void => {
      upgrades.delete(socket);
      socket.destroy();
      upstream.destroy();
    };
    socket.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
  });

  const port = await listenOnLoopback(server, opts.port);
  let closing: Promise<void> | null = null;
  return {
    port,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        for (const s of upgrades) s.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      });
      return closing;
    },
  };
}
