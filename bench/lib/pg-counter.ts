// Counts Postgres transactions in the benchmark database (pg_stat_database), to report "queries per
// 1,000 reads". Every statement the services send outside an explicit transaction is one transaction.
// Postgres publishes a backend's counts when it goes idle (at most once a second) or exits, so a
// reading waits a moment after the load stops; the counter's own query is subtracted.
import pg from "pg";

export interface PgCounter {
  read(): Promise<number>;
  close(): Promise<void>;
}

export async function createPgCounter(databaseUrl: string): Promise<PgCounter> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5000, query_timeout: 5000 });
  await client.connect();
  let reads = 0;
  return {
    read: async () => {
      const { rows } = await client.query<{ n: string }>(
        "select (xact_commit + xact_rollback)::text as n from pg_stat_database where datname = current_database()",
      );
      reads++;
      // Each earlier read of ours was itself one transaction.
      return Number(rows[0]?.n ?? Number.NaN) - (reads - 1);
    },
    close: () => client.end(),
  };
}

/** Waits for the stats of finished backends to be published. */
export const STATS_SETTLE_MS = 1200;
