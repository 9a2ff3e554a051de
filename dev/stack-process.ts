// `npm run dev` itself (dev/stack.ts) as a child process (for the tests and scripts/dev-load.ts) on a free port and its own data folder, for
// end-to-end tests of the embedded default (PGlite) and of the same stack on the machine's Postgres.
import { type ChildProcess, spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { devRedisKeyPrefix } from "./data-dir.ts";
import { freePort } from "./free-port.ts";
import { RedisPool } from "./redis-resp.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

export interface DevStack {
  baseUrl: string;
  dataDir: string;
  admin: { email: string; password: string };
  /** The PGlite port (embedded default only). */
  pglitePort: number | null;
  /** The Postgres ws bridge's port: every Worker connection to Postgres is one socket here. */
  bridgePort: number;
  /** Everything the stack printed. */
  output(): string;
  exitCode(): number | null;
  /** Stops the stack and removes its Redis keys; `keepRedisKeys` stops it as Ctrl-C does (keys stay). */
  close(options?: { keepRedisKeys?: boolean }): Promise<void>;
}

/** Established TCP connections whose local port is `port` (server side), from /proc/net/tcp{,6}. */
export async function establishedTo(port: number): Promise<number> {
  let count = 0;
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    const text = await readFile(file, "utf8").catch(() => "");
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      const local = cols[1];
      if (!local || cols[3] !== "01") continue; // 01 = ESTABLISHED
      if (Number.parseInt(local.slice(local.lastIndexOf(":") + 1), 16) === port) count++;
    }
  }
  return count;
}

function stopGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const pid = child.pid;
  const kill = (signal: NodeJS.Signals): void => {
    try {
      process.kill(-pid, signal);
    } catch {
      // gone
    }
  };
  kill("SIGTERM");
  const timer = setTimeout(() => kill("SIGKILL"), 15_000);
  return exited.finally(() => clearTimeout(timer));
}

/** Removes every Redis key under `prefix` (SCAN, never KEYS). */
export async function deleteKeys(prefix: string): Promise<void> {
  const redis = new RedisPool(REDIS_URL);
  try {
    let cursor = "0";
    do {
      const [reply] = await redis.exec([["SCAN", cursor, "MATCH", `${prefix}*`, "COUNT", "500"]]);
      const [next, keys] = reply as [string, string[]];
      cursor = String(next);
      if (keys.length > 0) await redis.exec([["DEL", ...keys]]);
    } while (cursor !== "0");
  } finally {
    redis.close();
  }
}

/** Starts `node dev/stack.ts` in `dataDir` (fresh or reused) and waits for its banner. */
export async function startDevStack(opts: {
  dataDir: string;
  databaseUrl?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
}): Promise<DevStack> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    DEV_DATA_DIR: opts.dataDir,
    LOG_LEVEL: "warn",
    WRANGLER_SEND_METRICS: "false",
    ...opts.env,
  };
  if (opts.databaseUrl) env.DATABASE_URL = opts.databaseUrl;
  const child: ChildProcess = spawn(process.execPath, [join(ROOT, "dev/stack.ts")], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let text = "";
  child.stdout?.setEncoding("utf8").on("data", (c: string) => {
    text += c;
  });
  child.stderr?.setEncoding("utf8").on("data", (c: string) => {
    text += c;
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  const close = async (options: { keepRedisKeys?: boolean } = {}): Promise<void> => {
    await stopGroup(child);
    if (!options.keepRedisKeys) await deleteKeys(devRedisKeyPrefix(opts.dataDir)).catch(() => {});
  };
  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), opts.timeoutMs ?? 150_000);
    const check = (): void => {
      if (text.includes("Ctrl-C to stop.")) {
        clearTimeout(timer);
        resolve(true);
      }
    };
    child.stdout?.on("data", check);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  if (!ready) {
    await close();
    throw new Error(`npm run dev did not come up:\n${text}`);
  }
  const pglite = /PGlite \(.*\) at postgres:\/\/postgres@127\.0\.0\.1:(\d+)\//.exec(text);
  const bridge = /Postgres ws bridge: ws:\/\/127\.0\.0\.1:(\d+)\//.exec(text);
  const admin = JSON.parse(await readFile(join(opts.dataDir, "admin.json"), "utf8")) as {
    email: string;
    password: string;
  };
  return {
    baseUrl,
    dataDir: opts.dataDir,
    admin: { email: admin.email, password: admin.password },
    pglitePort: pglite ? Number(pglite[1]) : null,
    bridgePort: Number(bridge?.[1] ?? 0),
    output: () => text,
    exitCode: () => child.exitCode,
    close,
  };
}
