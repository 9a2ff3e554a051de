// The processes the linked suite compares: ours as N runtimes/node.ts instances linked through Redis
// (REDIS_URL: the run's own redis-server when it has one, under a key prefix of the fleet's own),
// and socket.io as N baseline processes on the streams adapter with connection state recovery.
// Each can be SIGKILLed as when its machine dies: no shutdown hook runs, the kernel closes its sockets.
import { type BaselineEnv, startBaseline } from "../baselines/start.ts";
import { type RunningServer, startOursOnNode } from "../floor/start.ts";
import type { BenchContext } from "../lib/context.ts";
import type { Managed } from "../lib/processes.ts";

export interface FleetMember {
  url: string;
  proc: Managed;
  /** SIGKILL; resolves once the process is gone. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

function killable(server: { url: string; proc: Managed; stop(): Promise<void> }): FleetMember {
  return {
    url: server.url,
    proc: server.proc,
    stop: () => server.stop(),
    kill: () => {
      const child = server.proc.child;
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill("SIGKILL");
      return exited;
    },
  };
}

/** Starts `count` linked instances of ours on Node in parallel; on any failure stops those started. */
export async function startLinkedNodes(ctx: BenchContext, count: number, prefix: string): Promise<FleetMember[]> {
  const vars = {
    ...ctx.workerVars,
    REDIS_URL: ctx.baseline.env.redisUrl,
    REDIS_KEY_PREFIX: prefix,
  };
  return startAll(count, () => startOursOnNode(ctx.root, vars));
}

/** Starts `count` socket.io baseline processes on @socket.io/redis-streams-adapter (state recovery on). */
export function startStreamsBaselines(ctx: BenchContext, count: number): Promise<FleetMember[]> {
  const env: BaselineEnv = { ...ctx.baseline.env, socketAdapter: "redis-streams" };
  return startAll(count, () => startBaseline(ctx.root, env));
}

async function startAll(
  count: number,
  start: () => Promise<RunningServer | { url: string; proc: Managed; stop(): Promise<void> }>,
): Promise<FleetMember[]> {
  const settled = await Promise.allSettled(Array.from({ length: count }, start));
  const started = settled.flatMap((s) => (s.status === "fulfilled" ? [killable(s.value)] : []));
  const failed = settled.find((s) => s.status === "rejected");
  if (failed) {
    await Promise.all(started.map((m) => m.stop()));
    throw failed.reason instanceof Error ? failed.reason : new Error(String(failed.reason));
  }
  return started;
}
