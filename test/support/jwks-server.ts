// A stand-in for outside OIDC issuers' JWKS endpoints, for the external-issuer tests. Each issuer is
// a path prefix: `PUT /<name>/jwks.json` sets its key set, `GET /<name>/jwks.json` serves it (and
// counts the request), `GET /<name>/hits` says how many times it was fetched.
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

export interface JwksServer {
  url: string;
  /** Registers a key set for `name` from Node (global setup). */
  set(name: string, jwks: unknown): void;
  close(): Promise<void>;
}

const ROUTE = /^\/([A-Za-z0-9_-]{1,64})\/(jwks\.json|hits)$/;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

export async function startJwksServer(): Promise<JwksServer> {
  const sets = new Map<string, string>();
  const hits = new Map<string, number>();
  const server = createServer((req, res) => {
    const match = ROUTE.exec(new URL(req.url ?? "/", "http://jwks.local").pathname);
    const send = (status: number, body: string) => {
      res.writeHead(status, { "Content-Type": "application/json" });
      res.end(body);
    };
    if (!match) return send(404, "{}");
    const [, name = "", what] = match;
    if (what === "hits") return send(200, JSON.stringify({ hits: hits.get(name) ?? 0 }));
    if (req.method === "PUT") {
      readBody(req).then(
        (body) => {
          sets.set(name, body);
          send(204, "");
        },
        () => send(400, "{}"),
      );
      return;
    }
    hits.set(name, (hits.get(name) ?? 0) + 1);
    const set = sets.get(name);
    return set ? send(200, set) : send(404, "{}");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    set: (name, jwks) => void sets.set(name, JSON.stringify(jwks)),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
