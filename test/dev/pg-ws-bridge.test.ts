// The ws-to-TCP bridge with the Neon serverless driver configured as the Worker configures it,
// against the machine's Postgres and against PGlite.
import { mkdtemp, rm } from "node:fs/promises";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { neonConfig, Pool } from "@neondatabase/serverless";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import ws, { WebSocket } from "ws";
import { type PgWsBridge, startPgWsBridge } from "../../dev/pg-ws-bridge.ts";
import { type PgliteServer, startPgliteServer } from "../../dev/pglite-server.ts";

const POSTGRES_URL = process.env.TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

let bridge: PgWsBridge;
let pglite: PgliteServer;
let pgliteDir: string;

// 120 s: a fresh PGlite runs initdb in WASM, seconds alone but much longer on 2 busy cores.
beforeAll(async () => {
  pgliteDir = await mkdtemp(join(tmpdir(), "edge-pglite-"));
  pglite = await startPgliteServer({ dataDir: pgliteDir });
  const pg = new URL(POSTGRES_URL);
  bridge = await startPgWsBridge({ allow: [`${pg.hostname}:${pg.port || 5432}`, `127.0.0.1:${pglite.port}`] });
  // Same settings as src/adapters/postgres.ts; the driver adds the ws:// scheme itself.
  neonConfig.webSocketConstructor = ws;
  neonConfig.wsProxy = (host, port) => `${bridge.url.replace(/^wss?:\/\//, "")}?address=${host}:${port}`;
  neonConfig.useSecureWebSocket = false;
  neonConfig.pipelineTLS = false;
  neonConfig.pipelineConnect = false;
}, 120_000);

afterAll(async () => {
  await bridge?.close();
  await pglite?.close();
  if (pgliteDir) await rm(pgliteDir, { recursive: true, force: true });
});

async function withPool<T>(url: string, fn: (pool: Pool) => Promise<T>): Promise<T> {
  const pool = new Pool({ connectionString: url, connectionTimeoutMillis: 5000 });
  pool.on("error", () => {});
  try {
    return await fn(pool);
  } finally {
    await pool.end();
  }
}

describe("pg ws bridge", () => {
  it("runs queries on the machine Postgres through the Neon driver", async () => {
    await withPool(POSTGRES_URL, async (pool) => {
      expect((await pool.query("select 1 as one")).rows).toEqual([{ one: 1 }]);
      // Concurrent connections each get their own TCP pipe.
      const rows = await Promise.all(
        [1, 2, 3, 4, 5, 6].map(async (i) => (await pool.query("select $1::int as i, pg_sleep(0.05)", [i])).rows[0]),
      );
      expect(rows.map((r) => (r as { i: number }).i)).toEqual([1, 2, 3, 4, 5, 6]);
    });
  });

  it('reaches "localhost" as 127.0.0.1', async () => {
    const url = new URL(POSTGRES_URL);
    if (url.hostname !== "127.0.0.1") return;
    url.hostname = "localhost";
    await withPool(url.toString(), async (pool) => {
      expect((await pool.query("select 2 as two")).rows).toEqual([{ two: 2 }]);
    });
  });

  it("runs queries on PGlite, including concurrent clients (multiplexer on)", async () => {
    await withPool(pglite.databaseUrl, async (pool) => {
      expect((await pool.query("select 1 as one")).rows).toEqual([{ one: 1 }]);
      const version = (await pool.query<{ v: string }>("select version() as v")).rows[0]?.v;
      expect(version).toMatch(/PGlite/);
    });
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        withPool(pglite.databaseUrl, async (pool) => (await pool.query("select $1::int as i", [i])).rows[0]),
      ),
    );
    expect(results).toHaveLength(8);
  });

  it("refuses targets that are not on the allow-list", async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const socket = new WebSocket(`${bridge.url}?address=127.0.0.1:6379`);
      socket.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      socket.on("open", () => reject(new Error("opened a socket to a target not on the allow-list")));
      socket.on("error", () => {});
    });
    expect(status).toBe(403);
    await withPool("postgres://postgres@127.0.0.1:1/test", async (pool) => {
      await expect(pool.query("select 1")).rejects.toBeDefined();
    });
  });

  it("closes the WebSocket when the database side goes away", async () => {
    // A stand-in "database" that hangs up as soon as it gets bytes.
    const upstream = createServer((s) => s.once("data", () => s.destroy()));
    await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", () => r()));
    const { port } = upstream.address() as AddressInfo;
    const own = await startPgWsBridge({ allow: [`127.0.0.1:${port}`] });
    try {
      const socket = new WebSocket(`${own.url}?address=127.0.0.1:${port}`);
      await new Promise<void>((resolve, reject) => {
        socket.once("open", () => resolve());
        socket.once("error", reject);
      });
      const closed = new Promise<number>((resolve) => socket.once("close", (code) => resolve(code)));
      socket.send(Buffer.from("hello"));
      const code = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 5000))]);
      socket.terminate();
      expect(code).toBe(1000);
    } finally {
      await own.close();
      await new Promise<void>((r) => upstream.close(() => r()));
    }
  });

  it("closes the database side when the WebSocket goes away", async () => {
    let upstreamClosed!: () => void;
    const gone = new Promise<void>((r) => {
      upstreamClosed = r;
    });
    const upstream = createServer((s) => {
      s.on("error", () => {});
      s.once("close", () => upstreamClosed());
    });
    await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", () => r()));
    const { port } = upstream.address() as AddressInfo;
    const own = await startPgWsBridge({ allow: [`127.0.0.1:${port}`] });
    try {
      const socket = new WebSocket(`${own.url}?address=127.0.0.1:${port}`);
      await new Promise<void>((resolve, reject) => {
        socket.once("open", () => resolve());
        socket.once("error", reject);
      });
      socket.close();
      const result = await Promise.race([
        gone.then(() => "closed"),
        new Promise<string>((r) => setTimeout(() => r("timeout"), 5000)),
      ]);
      expect(result).toBe("closed");
    } finally {
      await own.close();
      await new Promise<void>((r) => upstream.close(() => r()));
    }
  });
});
