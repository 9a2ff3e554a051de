/**
 * Applies the SQL migrations in migrations/ to DATABASE_URL (Neon or any Postgres), idempotently:
 * drizzle records what ran in drizzle.__drizzle_migrations, and a rerun applies only what is new.
 *
 *   DATABASE_URL=postgres://... npm run db:migrate
 */
import { fileURLToPath } from "node:url";
import { drizzle } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";

const MIGRATIONS = fileURLToPath(new URL("../migrations", import.meta.url));

export async function migrateDatabase(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    // Quiet the "relation already exists, skipping" notices of a rerun.
    await client.query("set client_min_messages = warning");
    await migrate(drizzle({ client }), { migrationsFolder: MIGRATIONS });
  } finally {
    await client.end();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const url = process.env.DATABASE_URL;
  if (!url) {
    console.error("DATABASE_URL is required: the Postgres URL to migrate (e.g. your Neon connection string).");
    process.exit(2);
  }
  migrateDatabase(url).then(
    () => console.log("migrations applied"),
    (error: unknown) => {
      console.error(`migration failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
