// Starts the runtime floors (bench/floor/app.ts) and ours on Node (runtimes/node.ts), each as a real
// process on a free port, for the rows that compare on one runtime.
import { join } from "node:path";
import { build } from "esbuild";
import { freePort } from "../../dev/free-port.ts";
import { type Managed, nodeBinary, spawnManaged, waitForHttp } from "../lib/processes.ts";
import type { WorkerBundle } from "../ours/build.ts";
import { type RunningWorkerd, startWorkerd } from "../ours/workerd.ts";

export interface RunningServer {
  url: string;
  proc: Managed;
  startMs: number;
  stop(): Promise<void>;
}

/** The floor app bundled and minified like a Worker, under workerd with the same config shape as ours. */
export function startWorkerdFloor(root: string, ours: WorkerBundle, workDir: string): Promise<RunningWorkerd> {
  return startFloorBundle(root, ours, workDir, "app.ts", "floor", false);
}

/**
 * The realtime floor (bench/floor/room-floor.ts: a bare Durable Object room) bundled the same way,
 * under workerd with ours' config shape: the same ROOMS binding, SQLite-backed object storage on disk.
 */
export function startWorkerdRoomFloor(root: string, ours: WorkerBundle, workDir: string): Promise<RunningWorkerd> {
  return startFloorBundle(root, ours, workDir, "room-floor.ts", "room-floor", true);
}

async function startFloorBundle(
  root: string,
  ours: WorkerBundle,
  workDir: string,
  entry: string,
  dir: string,
  durableObjects: boolean,
): Promise<RunningWorkerd> {
  const outfile = join(workDir, dir, "index.js");
  await build({
    entryPoints: [join(root, "bench", "floor", entry)],
    bundle: true,
    minify: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    outfile,
    logLevel: "error",
  });
  const bundle: WorkerBundle = {
    ...ours,
    dir: join(workDir, dir),
    modulePath: outfile,
    source: `bench/floor/${entry}`,
  };
  return startWorkerd({ root, bundle, vars: {}, workDir, durableObjects });
}

async function startNodeProcess(name: string, args: string[], env: Record<string, string>): Promise<RunningServer> {
  const port = await freePort();
  const proc = spawnManaged(name, nodeBinary, args, { env: { ...env, PORT: String(port), HOST: "127.0.0.1" } });
  const url = `http://127.0.0.1:${port}`;
  try {
    const startMs = await waitForHttp(`${url}/healthz`, 30_000, proc);
    return { url, proc, startMs, stop: () => proc.stop() };
  } catch (error) {
    await proc.stop();
    throw error;
  }
}

export const startNodeFloor = (root: string): Promise<RunningServer> =>
  startNodeProcess("floor (Node)", [join(root, "bench", "floor", "node.ts")], {});

/** The realtime floor on Node (bench/floor/room-node.ts: a bare `ws` broadcast server, one process). */
export const startNodeRoomFloor = (root: string): Promise<RunningServer> =>
  startNodeProcess("room floor (Node)", [join(root, "bench", "floor", "room-node.ts")], {});

/** Ours on Node: the same app, config and backing services as the Worker, through runtimes/node.ts. */
export const startOursOnNode = (root: string, vars: Record<string, string>): Promise<RunningServer> =>
  startNodeProcess("ours (Node)", [join(root, "runtimes", "node.ts")], {
    ...vars,
    // The schedule is not what is measured; once a day keeps it out of the way.
    SCHEDULE_INTERVAL_SECONDS: "86400",
  });
