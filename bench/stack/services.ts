// The local stand-ins for the Worker's backing services, in a process of their own so that the load
// generator (in the harness process) never competes with them for one event loop. Prints one JSON
// line `{ "ready": true, vars, databaseUrl }` and runs until SIGTERM, SIGINT or stdin closes; then it
// closes the stack and drops the throw-away database.
//
//   BENCH_POSTGRES_URL  admin URL of a local Postgres (default postgres://postgres@127.0.0.1:5432/test)
//   BENCH_REDIS_URL     Redis for the Upstash bridge (default redis://127.0.0.1:6379)
//   BENCH_DATA_DIR      where the S3 stand-in keeps objects (required; the harness passes a temp dir)
import { startLocalStack } from "../../dev/local-stack.ts";
import { createTestDatabase } from "../../dev/test-database.ts";
import { migrateDatabase } from "../../scripts/migrate.ts";

const adminUrl = process.env.BENCH_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const redisUrl = process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379";
const dataDir = process.env.BENCH_DATA_DIR;
if (!dataDir) {
  console.error("BENCH_DATA_DIR is required");
  process.exit(2);
}

const database = await createTestDatabase(adminUrl);
let shuttingDown = false;
/** Closes the stack and drops the database once, then exits; later signals are ignored. */
async function shutdown(code: number): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  await stack?.close().catch((e: unknown) => console.error("stack close:", e));
  await database.drop().catch((e: unknown) => console.error("drop database:", e));
  process.exit(code);
}
let stack: Awaited<ReturnType<typeof startLocalStack>> | undefined;
process.once("SIGTERM", () => void shutdown(0));
process.once("SIGINT", () => void shutdown(0));
process.stdin.on("end", () => void shutdown(0));
process.stdin.resume();

try {
  await migrateDatabase(database.url);
  stack = await startLocalStack({
    databaseUrl: database.url,
    redisUrl,
    dataDir,
    bucket: "bench",
    log: (l) => console.error(l),
  });
  process.stdout.write(
    `${JSON.stringify({ ready: true, vars: stack.vars, databaseUrl: database.url, services: stack.services })}\n`,
  );
} catch (error) {
  console.error(`bench services failed to start: ${error instanceof Error ? error.message : String(error)}`);
  await shutdown(1);
}
