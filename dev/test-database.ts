// Throw-away Postgres databases for tests: each suite gets its own, so suites can run in parallel and
// leave nothing behind. Uses `pg` directly (Node side); the Worker reaches the same database through
// the ws bridge.
import { randomBytes } from "node:crypto";
import pg from "pg";

export interface TestDatabase {
  /** URL of the new database (the admin URL with the database name swapped). */
  url: string;
  name: string;
  /** Terminates remaining connections, then drops the database. Safe to call twice. */
  drop(): Promise<void>;
}

export const DEFAULT_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/test";

async function withAdmin<T>(adminUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function createTestDatabase(adminUrl: string = DEFAULT_ADMIN_URL): Promise<TestDatabase> {
  // Lower-case letters, digits and underscores only, so the name never needs quoting beyond "".
  const name = `edge_test_${Date.now()}_${randomBytes(4).toString("hex")}`;
  await withAdmin(adminUrl, (c) => c.query(`create database "${name}"`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let dropping: Promise<void> | null = null;
  return {
    url: url.toString(),
    name,
    drop: () => {
      dropping ??= withAdmin(adminUrl, async (c) => {
        await c.query(
          "select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()",
          [name],
        );
        await c.query(`drop database if exists "${name}"`);
      });
      return dropping;
    },
  };
}
