// A Redis of the run's own, so "Redis commands per request" (INFO stats total_commands_processed
// deltas) and the Redis server's CPU count only this benchmark: the machine's shared Redis serves
// other test runs at the same time. Falls back to BENCH_REDIS_URL / the shared one when redis-server
// is not installed; the counts are then marked as noisy.
import { execFileSync } from "node:child_process";
import { freePort } from "../../dev/free-port.ts";
import { type Managed, spawnManaged } from "./processes.ts";

export interface PrivateRedis {
  url: string;
  proc: Managed;
  stop(): Promise<void>;
}

function hasRedisServer(): boolean {
  try {
    execFileSync("redis-server", ["--version"], { timeout: 5000, stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

export async function startPrivateRedis(): Promise<PrivateRedis | null> {
  if (!hasRedisServer()) return null;
  const port = await freePort();
  const proc = spawnManaged("redis-server", "redis-server", [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
    "--protected-mode",
    "no",
  ]);
  const deadline = Date.now() + 10_000;
  while (!proc.tail().includes("Ready to accept connections")) {
    if (proc.child.exitCode !== null) throw new Error(`redis-server exited:\n${proc.tail()}`);
    if (Date.now() > deadline) {
      await proc.stop();
      throw new Error(`redis-server not ready after 10 s:\n${proc.tail()}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return { url: `redis://127.0.0.1:${port}`, proc, stop: () => proc.stop() };
}

/** total_commands_processed from INFO stats (the INFO call itself is counted after it answers). */
export function commandsProcessed(info: string): number {
  const match = /total_commands_processed:(\d+)/.exec(info);
  return match ? Number(match[1]) : Number.NaN;
}
