// Child processes for `npm run dev`, tracked so a Ctrl-C or SIGTERM leaves none behind.
// Long-running services (wrangler, which itself spawns workerd) get a process group of their own and are
// stopped by signalling the whole group; that also keeps the terminal's Ctrl-C from reaching them
// before we decide the shutdown order.
import { type ChildProcess, spawn, type SpawnOptions } from "node:child_process";

export class Children {
  readonly #running = new Set<ChildProcess>();

  /** Runs a command to completion (inheriting stdio) and resolves with its exit code (signal → 1). */
  async run(command: string, args: string[], opts: SpawnOptions = {}): Promise<number> {
    const child = spawn(command, args, { stdio: "inherit", ...opts });
    this.#running.add(child);
    try {
      return await new Promise<number>((resolve, reject) => {
        child.once("error", reject);
        child.once("exit", (code) => resolve(code ?? 1));
      });
    } finally {
      this.#running.delete(child);
    }
  }

  /** Starts a long-running process in its own process group. */
  service(command: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
    const child = spawn(command, args, { stdio: ["ignore", "inherit", "inherit"], ...opts, detached: true });
    this.#running.add(child);
    child.once("exit", () => this.#running.delete(child));
    return child;
  }

  /** SIGTERM to every child (and its group), SIGKILL whatever is still there after graceMs. */
  async stopAll(graceMs = 5000): Promise<void> {
    const children = [...this.#running];
    await Promise.all(children.map((c) => stop(c, graceMs)));
  }

  /** Synchronous last resort for process 'exit': no waiting possible, so SIGKILL. */
  killAllNow(): void {
    for (const c of this.#running) signal(c, "SIGKILL");
  }
}

function signal(child: ChildProcess, sig: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    // Negative pid = the process group, which exists when the child was spawned detached.
    process.kill(-child.pid, sig);
  } catch {
    try {
      child.kill(sig);
    } catch {
      // Already gone.
    }
  }
}

async function stop(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    // The leader is gone but its group (e.g. workerd under wrangler) may not be.
    signal(child, "SIGKILL");
    return;
  }
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  signal(child, "SIGTERM");
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), graceMs);
  });
  const late = await Promise.race([exited.then(() => false), timedOut]);
  clearTimeout(timer);
  // Kill stragglers in the group even when the leader exited in time.
  signal(child, "SIGKILL");
  if (late) await exited;
}
