// The PGlite server behaves like PostgreSQL for each client: connections are released when clients
// close them, transactions and extended-protocol batches of concurrent clients never interleave.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PgliteServer, startPgliteServer } from "../../dev/pglite-server.ts";

let server: PgliteServer;
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "edge-pglite-mux-"));
  server = await startPgliteServer({ dataDir, maxConnections: 12, idleInTransactionMs: 300 });
  await withClient((c) => c.query("create table marks (who int not null, at timestamptz default now())"));
}, 120_000);

afterAll(async () => {
  await server?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function connect(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: server.databaseUrl, connectionTimeoutMillis: 10_000 });
  client.on("error", () => {});
  await client.connect();
  return client;
}

async function withClient<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Resolves once `check` holds; the server updates its counts on socket events, not on a clock. */
async function eventually(check: () => boolean, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setImmediate(r));
  }
  return true;
}

describe("PGlite server", () => {
  it("frees a connection as soon as its client ends it: 3 × maxConnections clients one after another", async () => {
    for (let i = 0; i < 36; i++) {
      const rows = await withClient(async (c) => (await c.query("select $1::int as i", [i])).rows);
      expect(rows).toEqual([{ i }]);
    }
    expect(await eventually(() => server.stats().connections === 0)).toBe(true);
  });

  it("never interleaves transactions of concurrent clients", async () => {
    // In one shared backend, interleaved transactions would share a transaction id.
    const ids = await Promise.all(
      Array.from({ length: 10 }, (_, who) =>
        withClient(async (c) => {
          await c.query("begin");
          const first = (await c.query<{ id: string }>("select txid_current()::text as id")).rows[0]?.id;
          await c.query("insert into marks (who) values ($1)", [who]);
          await new Promise((r) => setTimeout(r, 5));
          const second = (await c.query<{ id: string }>("select txid_current()::text as id")).rows[0]?.id;
          await c.query("commit");
          expect(second).toBe(first);
          return first;
        }),
      ),
    );
    expect(new Set(ids).size).toBe(10);
  });

  it("keeps parameterised (extended-protocol) queries of concurrent clients apart", async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, who) =>
        withClient(async (c) => {
          const seen: number[] = [];
          for (let i = 0; i < 15; i++)
            seen.push((await c.query<{ n: number }>("select $1::int as n", [who * 100 + i])).rows[0]?.n ?? -1);
          return seen;
        }),
      ),
    );
    results.forEach((seen, who) => {
      expect(seen).toEqual(Array.from({ length: 15 }, (_, i) => who * 100 + i));
    });
  });

  it("rolls back what a vanished client left open, and the next client runs", async () => {
    const gone = await connect();
    await gone.query("begin");
    await gone.query("insert into marks (who) values (-1)");
    const waiting = withClient(
      async (c) => (await c.query("select count(*)::int as n from marks where who = -1")).rows,
    );
    // The socket dies without Terminate, as when a Worker request is torn down.
    (gone as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    expect(await waiting).toEqual([{ n: 0 }]);
    expect(await eventually(() => server.stats().connections === 0)).toBe(true);
  });

  it("refuses a client over maxConnections with SQLSTATE 53300, like PostgreSQL", async () => {
    const held = await Promise.all(Array.from({ length: 12 }, () => connect()));
    try {
      await expect(connect()).rejects.toMatchObject({ code: "53300" });
    } finally {
      await Promise.all(held.map((c) => c.end()));
    }
    expect(await eventually(() => server.stats().connections === 0)).toBe(true);
    // And the slots are back.
    expect(await withClient(async (c) => (await c.query("select 1 as one")).rows)).toEqual([{ one: 1 }]);
  });

  it("ends a client idle in a transaction while another waits (SQLSTATE 25P03)", async () => {
    const idle = await connect();
    const ended = new Promise<unknown>((resolve) => idle.once("error", resolve));
    await idle.query("begin");
    await idle.query("insert into marks (who) values (-2)");
    const other = await withClient(
      async (c) => (await c.query("select count(*)::int as n from marks where who = -2")).rows,
    );
    expect(other).toEqual([{ n: 0 }]);
    expect(await ended).toMatchObject({ code: "25P03" });
  });
});
