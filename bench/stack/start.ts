// Starts bench/stack/services.ts as a child process and waits for its ready line.
import { join } from "node:path";
import { type Managed, nodeBinary, spawnManaged } from "../lib/processes.ts";

export interface BenchServices {
  /** DATABASE_URL, DATABASE_WS_PROXY, UPSTASH_*, S3_* for the Worker. */
  vars: Record<string, string>;
  /** The throw-away Postgres database (plain TCP URL, for the baseline and for counting queries). */
  databaseUrl: string;
  proc: Managed;
  stop(): Promise<void>;
}

export async function startServices(
  root: string,
  dataDir: string,
  timeoutMs = 60_000,
  redisUrl?: string,
): Promise<BenchServices> {
  let buffer = "";
  let resolveReady: (v: { vars: Record<string, string>; databaseUrl: string }) => void = () => {};
  const ready = new Promise<{ vars: Record<string, string>; databaseUrl: string }>((r) => {
    resolveReady = r;
  });
  const proc = spawnManaged("bench services", nodeBinary, [join(root, "bench", "stack", "services.ts")], {
    env: { BENCH_DATA_DIR: dataDir, ...(redisUrl && { BENCH_REDIS_URL: redisUrl }) },
    onStdout: (text) => {
      buffer += text;
      const line = buffer.split("\n").find((l) => l.startsWith("{"));
      if (line) resolveReady(JSON.parse(line) as { vars: Record<string, string>; databaseUrl: string });
    },
  });
  const exited = new Promise<never>((_, reject) =>
    proc.child.once("exit", () => reject(new Error(`bench services exited during start:\n${proc.tail()}`))),
  );
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(
      () => reject(new Error(`bench services not ready after ${timeoutMs} ms:\n${proc.tail()}`)),
      timeoutMs,
    ).unref(),
  );
  try {
    const { vars, databaseUrl } = await Promise.race([ready, exited, timeout]);
    exited.catch(() => {});
    return {
      vars,
      databaseUrl,
      proc,
      // Closing stdin asks it to shut down cleanly (drop the database); SIGTERM after a grace period.
      stop: async () => {
        proc.child.stdin?.end();
        await proc.stop(10_000);
      },
    };
  } catch (error) {
    exited.catch(() => {});
    await proc.stop();
    throw error;
  }
}
