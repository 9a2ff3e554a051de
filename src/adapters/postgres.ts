import { neonConfig, Pool } from "@neondatabase/serverless";
import { drizzle, type NeonDatabase } from "drizzle-orm/neon-serverless";
import * as schema from "../db/schema.ts";

export type Database = NeonDatabase<typeof schema>;

export interface PostgresOptions {
  url: string;
  /** Dev/test only: ws:// URL of a WebSocket-to-TCP bridge in front of a plain Postgres. */
  wsProxy?: string | undefined;
  timeoutMs: number;
}

export interface PostgresHandle {
  db: Database;
  /** Ends the pool's sockets. Workers cannot reuse a socket across requests, so every request closes its own. */
  close(): Promise<void>;
}

/**
 * A drizzle database over a per-request Neon WebSocket pool. Creating the pool opens nothing;
 * the first query does. Queries and connects are bounded by `timeoutMs`.
 */
export function createPostgres(options: PostgresOptions): PostgresHandle {
  if (options.wsProxy) {
    // neonConfig is the driver's process-wide setting; it is written with the same value from
    // config every time, and only when a dev/test bridge is configured (production uses Neon's TLS endpoint).
    const proxy = options.wsProxy;
    neonConfig.wsProxy = (host, port) => `${proxy.replace(/^wss?:\/\//, "")}?address=${host}:${port}`;
    neonConfig.useSecureWebSocket = false;
    neonConfig.pipelineTLS = false;
    neonConfig.pipelineConnect = false;
  }
  const pool = new Pool({
    connectionString: options.url,
    connectionTimeoutMillis: options.timeoutMs,
    query_timeout: options.timeoutMs,
    max: 4,
  });
  // An idle client that errors (socket dropped) would otherwise be an unhandled 'error' event.
  pool.on("error", () => {});
  return {
    db: drizzle({ client: pool, schema }),
    close: () => pool.end(),
  };
}
