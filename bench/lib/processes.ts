// Child processes for the benchmark: every server the harness starts is tracked here so a crash, a
// Ctrl-C or a time-out never leaves a workerd or Node server running behind it.
import { type ChildProcess, spawn } from "node:child_process";

export interface Managed {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** The last lines the process wrote (stdout and stderr), for error messages. */
  tail(): string;
  /** SIGTERM, then SIGKILL after `graceMs`. Resolves once the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

const running = new Set<Managed>();

function killAllNow(): void {
  for (const m of running) m.child.kill("SIGKILL");
}
process.once("exit", killAllNow);

export interface SpawnOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Keep this many characters of output for tail(). */
  keepChars?: number;
  /** Called with each chunk of stdout (e.g. to read a "ready" line). */
  onStdout?: (text: string) => void;
}

export function spawnManaged(name: string, command: string, args: string[], opts: SpawnOptions = {}): Managed {
  const child = spawn(command, args, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  const keep = opts.keepChars ?? 4000;
  let output = "";
  const remember = (chunk: Buffer): void => {
    output = (output + chunk.toString("utf8")).slice(-keep);
  };
  child.stdout?.on("data", (chunk: Buffer) => {
    remember(chunk);
    opts.onStdout?.(chunk.toString("utf8"));
  });
  child.stderr?.on("data", remember);
  // A closed stdin pipe must not crash the harness when the child dies first.
  child.stdin?.on("error", () => {});
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const managed: Managed = {
    name,
    child,
    pid: child.pid,
    tail: () => output.trim(),
    stop: async (graceMs = 3000) => {
      running.delete(managed);
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  running.add(managed);
  child.once("exit", () => running.delete(managed));
  return managed;
}

/** Polls `url` until it answers 2xx, the process exits, or `timeoutMs` passes. Returns ms waited. */
export async function waitForHttp(url: string, timeoutMs: number, proc?: Managed, intervalMs = 10): Promise<number> {
  const started = performance.now();
  const deadline = started + timeoutMs;
  while (performance.now() < deadline) {
    if (proc && (proc.child.exitCode !== null || proc.child.signalCode !== null)) {
      throw new Error(`${proc.name} exited before answering ${url}:\n${proc.tail()}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.ok) return performance.now() - started;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms${proc ? `:\n${proc.tail()}` : ""}`);
}

/** The Node 24 binary running this harness (system node is older), for child Node servers. */
export const nodeBinary = process.execPath;
