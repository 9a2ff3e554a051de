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
export async function startWorkerdFloor(root: string, ours: WorkerBundle, workDir: string): Promise<RunningWorkerd> {
  const outfile = join(workDir, "floor", "index.js");
  await build({
    entryPoints: [join(root, "bench", "floor", "app.ts")],
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
    dir: join(workDir, "floor"),
    modulePath: outfile,
    source: "bench/floor/app.ts",
  };
  return startWorkerd({ root, bundle, vars: {}, workDir, durableObjects: false });
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

/** Ours on Node: the same app, config and backing services as the Worker, through runtimes/node.ts. */
export const startOursOnNode = (root: string, vars: Record<string, string>): Promise<RunningServer> =>
  startNodeProcess("ours (Node)", [join(root, "runtimes", "node.ts")], {
    ...vars,
    // The schedule is not what is measured; once a day keeps it out of the way.
    SCHEDULE_INTERVAL_SECONDS: "86400",
  });
