// What belongs to one data folder of `npm run dev`: its Redis key prefix and its lock.
//
// One `npm run dev` per data folder: two stacks on one PGlite directory would corrupt it (PGlite has
// no cross-process locking of its own). The lock is a file holding the owner's pid; a lock whose
// process is gone (a crash, kill -9) is stale and taken over.
import { createHash } from "node:crypto";
import { open, readFile, rm } from "node:fs/promises";
import { join } from "node:path";

export class DataDirLockedError extends Error {
  readonly dataDir: string;
  readonly pid: number;

  constructor(dataDir: string, pid: number) {
    super(
      `another \`npm run dev\` (pid ${pid}) is using ${dataDir}; stop it first, or give this one its own folder with DEV_DATA_DIR=<path>`,
    );
    this.name = "DataDirLockedError";
    this.dataDir = dataDir;
    this.pid = pid;
  }
}

export interface DataDirLock {
  path: string;
  /** True when a stale lock (its process gone) was taken over. */
  tookOverStale: boolean;
  release(): Promise<void>;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else; still alive.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
};

/** Takes `<dataDir>/dev.lock` for this process or throws DataDirLockedError naming the holder. */
export async function lockDataDir(dataDir: string, pid = process.pid): Promise<DataDirLock> {
  const path = join(dataDir, "dev.lock");
  let tookOverStale = false;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const file = await open(path, "wx", 0o600);
      await file.writeFile(`${pid}\n`);
      await file.close();
      let released = false;
      return {
        path,
        tookOverStale,
        release: async () => {
          if (released) return;
          released = true;
          // Only our own lock: never remove one another stack took over meanwhile.
          const holder = Number.parseInt(await readFile(path, "utf8").catch(() => ""), 10);
          if (holder === pid) await rm(path, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const holder = Number.parseInt(await readFile(path, "utf8").catch(() => ""), 10);
    if (Number.isInteger(holder) && holder > 0 && holder !== pid && alive(holder))
      throw new DataDirLockedError(dataDir, holder);
    // Stale (or unreadable, half-written by a crash): remove and try again.
    await rm(path, { force: true });
    tookOverStale = true;
  }
  throw new Error(`could not take the lock ${path}`);
}

/**
 * Redis keys of this stack: its own prefix per data folder (so per checkout by default), because the
 * machine's Redis on 6379 may be shared with other checkouts, their tests and benchmarks.
 */
export function devRedisKeyPrefix(dataDir: string): string {
  return `dev:${createHash("sha256").update(dataDir).digest("hex").slice(0, 10)}:`;
}
