// Counts Postgres work in the benchmark database, to report it per 1,000 requests:
// - table reads: seq_scan + idx_scan summed over the user tables (one simple query reads one table
//   once; a transaction count would not do, because every new connection commits catalog
//   transactions of its own while it starts);
// - connections opened: pg_stat_database.sessions (Postgres 14+).
// Postgres publishes a backend's counts when it exits, or when idle at most once a second (up to
// 10 s later for a busy long-lived connection), so a reading waits a moment after the load stops.
import pg from "pg";

export interface PgReading {
  tableReads: number;
  sessions: number;
}

export interface PgCounter {
  read(): Promise<PgReading>;
  /** The server processes (backends) connected to the benchmark database, other than this counter's. */
  backendPids(): Promise<number[]>;
  close(): Promise<void>;
}

export async function createPgCounter(databaseUrl: string): Promise<PgCounter> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5000, query_timeout: 5000 });
  await client.connect();
  return {
    read: async () => {
      const { rows } = await client.query<{ reads: string; sessions: string }>(
        `select
           (select coalesce(sum(seq_scan + coalesce(idx_scan, 0)), 0) from pg_stat_user_tables)::text as reads,
           (select sessions from pg_stat_database where datname = current_database())::text as sessions`,
      );
      return { tableReads: Number(rows[0]?.reads ?? Number.NaN), sessions: Number(rows[0]?.sessions ?? Number.NaN) };
    },
    backendPids: async () => {
      const { rows } = await client.query<{ pid: number }>(
        "select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()",
      );
      return rows.map((r) => r.pid);
    },
    close: () => client.end(),
  };
}

/** Waits for the stats of finished backends to be published. */
export const STATS_SETTLE_MS = 1200;
export const settle = (): Promise<void> => new Promise((r) => setTimeout(r, STATS_SETTLE_MS));
