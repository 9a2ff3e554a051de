// Embedded Postgres for newcomers: PGlite (Postgres compiled to WASM) persisted in a directory and
// served over the Postgres wire protocol on 127.0.0.1, so every tool (the ws bridge, migrations,
// psql) talks to it as to a real server. PGlite is single-connection underneath; the socket server's
// multiplexer (maxConnections > 1) queues queries from many clients onto it (see shared/FACTS.md:
// without it, all but one concurrent client are terminated). Transactions therefore serialize.
import { mkdir } from "node:fs/promises";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";

export interface PgliteServerOptions {
  /** 0 or absent: a free port. */
  port?: number;
  /** Where PGlite keeps its files, e.g. .data/pglite; created if missing. */
  dataDir: string;
  /** Concurrent client connections accepted by the multiplexer. Default 100. */
  maxConnections?: number;
}

export interface PgliteServer {
  /** postgres://postgres@127.0.0.1:PORT/postgres */
  databaseUrl: string;
  host: string;
  port: number;
  close(): Promise<void>;
}

export async function startPgliteServer(opts: PgliteServerOptions): Promise<PgliteServer> {
  await mkdir(opts.dataDir, { recursive: true });
  const db = await PGlite.create({ dataDir: opts.dataDir });
  const server = new PGLiteSocketServer({
    db,
    host: "127.0.0.1",
    port: opts.port ?? 0,
    maxConnections: opts.maxConnections ?? 100,
  });
  try {
    await server.start();
  } catch (err) {
    await db.close();
    throw err;
  }
  // getServerConn() reports the bound port after start(), also when we asked for port 0.
  const conn = server.getServerConn();
  const port = Number(conn.slice(conn.lastIndexOf(":") + 1));

  let closing: Promise<void> | null = null;
  return {
    databaseUrl: `postgres://postgres@127.0.0.1:${port}/postgres`,
    host: "127.0.0.1",
    port,
    close: () => {
      // Stop accepting and drop clients first, then close PGlite so it flushes its files.
      closing ??= server.stop().then(() => db.close());
      return closing;
    },
  };
}
