import pg from "pg";
import { describe, expect, it } from "vitest";
import { createTestDatabase } from "../../dev/test-database.ts";

const ADMIN_URL = process.env.TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

async function databaseExists(name: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: ADMIN_URL });
  await c.connect();
  try {
    return (await c.query("select 1 from pg_database where datname = $1", [name])).rowCount === 1;
  } finally {
    await c.end();
  }
}

describe("createTestDatabase", () => {
  it("creates a fresh database and drops it even with connections still open", async () => {
    const db = await createTestDatabase(ADMIN_URL);
    expect(db.name).toMatch(/^edge_test_\d+_[0-9a-f]{8}$/);
    expect(new URL(db.url).pathname).toBe(`/${db.name}`);
    expect(await databaseExists(db.name)).toBe(true);

    const open = new pg.Client({ connectionString: db.url });
    open.on("error", () => {}); // it will be terminated by drop()
    await open.connect();
    await open.query("create table t (id int)");
    expect((await open.query("select count(*)::int as n from t")).rows).toEqual([{ n: 0 }]);

    await db.drop();
    expect(await databaseExists(db.name)).toBe(false);
    await db.drop(); // idempotent
    await open.end().catch(() => {});
  });

  it("gives each call its own database", async () => {
    const [a, b] = await Promise.all([createTestDatabase(ADMIN_URL), createTestDatabase(ADMIN_URL)]);
    try {
      expect(a.name).not.toBe(b.name);
    } finally {
      await Promise.all([a.drop(), b.drop()]);
    }
  });
});
