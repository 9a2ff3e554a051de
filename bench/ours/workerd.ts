// Runs the production bundle under `workerd serve` with a generated capnp config: the same runtime
// as production minus the platform around it (wrangler dev adds a proxy and logging that cost ~3x
// throughput here, see shared/FACTS.md). Bindings are plain text vars; the room Durable Objects are
// stored on local disk with SQL enabled, like the `new_sqlite_classes` migration in wrangler.toml;
// ASSETS is the assets directory as a read-only disk service (GET of a path answers its file).
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { freePort } from "../../dev/free-port.ts";
import { type Managed, spawnManaged, waitForHttp } from "../lib/processes.ts";
import type { WorkerBundle } from "./build.ts";

export interface WorkerdOptions {
  root: string;
  bundle: WorkerBundle;
  /** Text bindings (the Worker's vars and secrets). */
  vars: Record<string, string>;
  /** Where the config and the Durable Object files go. */
  workDir: string;
  /** Time allowed for the first 200 from /healthz. */
  startTimeoutMs?: number;
  /** Bind the rooms Durable Object (ours); false for a Worker without it (the bare-Hono floor). */
  durableObjects?: boolean;
}

export interface RunningWorkerd {
  url: string;
  port: number;
  proc: Managed;
  /** Spawn to first 200 from /healthz, ms. */
  startMs: number;
  stop(): Promise<void>;
}

// JSON string escapes (\" \\ \n \t \uXXXX) are a subset of what Cap'n Proto text literals accept.
const text = (value: string): string => JSON.stringify(value);

export function capnpConfig(opts: {
  modulePath: string;
  port: number;
  doDir: string;
  bundle: WorkerBundle;
  vars: Record<string, string>;
  durableObjects?: boolean;
}): string {
  const rooms = opts.durableObjects !== false;
  const assets = opts.bundle.assetsDir;
  const bindings = Object.entries(opts.vars)
    .map(([name, value]) => `      (name = ${text(name)}, text = ${text(value)}),`)
    .join("\n");
  return `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .mainWorker),
    # The local stand-ins listen on loopback; the default "internet" service refuses private addresses.
    (name = "loopback", network = (allow = ["local"])),
    (name = "do-disk", disk = (path = ${text(opts.doDir)}, writable = true)),
${assets ? `    # wrangler.toml [assets]: the files, read only (the Worker fetches /openapi.json's template).\n    (name = "assets", disk = (path = ${text(assets)}, writable = false)),\n` : ""}  ],
  sockets = [(name = "http", address = ${text(`127.0.0.1:${opts.port}`)}, http = (), service = "main")],
);

const mainWorker :Workerd.Worker = (
  # embed paths are resolved relative to this file (an absolute one is looked up on the import path).
  modules = [(name = "index.js", esModule = embed ${text(opts.modulePath)})],
  compatibilityDate = ${text(opts.bundle.compatibilityDate)},
  compatibilityFlags = [${opts.bundle.compatibilityFlags.map(text).join(", ")}],
  bindings = [
${bindings}
${rooms ? '      (name = "ROOMS", durableObjectNamespace = "RoomObject"),' : ""}
${assets ? '      (name = "ASSETS", service = "assets"),' : ""}
  ],
${rooms ? '  durableObjectNamespaces = [(className = "RoomObject", uniqueKey = "bench-room-object", enableSql = true)],\n  durableObjectStorage = (localDisk = "do-disk"),' : ""}
  globalOutbound = "loopback",
);
`;
}

/**
 * The real workerd executable. node_modules/.bin/workerd is a Node wrapper that spawns it, so its
 * pid would show the wrapper's CPU (none) rather than workerd's (shared/FACTS.md); the platform
 * package holds the binary itself.
 */
export function workerdBinary(root: string): string {
  const arch = process.arch === "arm64" ? "arm64" : "64";
  const real = join(root, "node_modules", "@cloudflare", `workerd-${process.platform}-${arch}`, "bin", "workerd");
  return existsSync(real) ? real : join(root, "node_modules", ".bin", "workerd");
}

export async function startWorkerd(opts: WorkerdOptions): Promise<RunningWorkerd> {
  const port = await freePort();
  const doDir = resolve(opts.workDir, `do-${port}`);
  await mkdir(doDir, { recursive: true });
  const configPath = join(opts.workDir, `workerd-${port}.capnp`);
  await writeFile(
    configPath,
    capnpConfig({
      modulePath: relative(resolve(opts.workDir), resolve(opts.bundle.modulePath)),
      port,
      doDir,
      bundle: opts.bundle,
      vars: opts.vars,
      durableObjects: opts.durableObjects,
    }),
  );
  const proc = spawnManaged("workerd", workerdBinary(opts.root), ["serve", "--experimental", configPath]);
  const url = `http://127.0.0.1:${port}`;
  const stop = () => stopTree(proc);
  try {
    const startMs = await waitForHttp(`${url}/healthz`, opts.startTimeoutMs ?? 30_000, proc);
    return { url, port, proc, startMs, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Stops the spawned process and everything under it. When the spawned pid is the Node wrapper
 * (node_modules/.bin/workerd), the real workerd is its child and outlives a SIGTERM to the wrapper,
 * so the tree is read first and every process still alive afterwards is killed.
 */
async function stopTree(proc: Managed): Promise<void> {
  const tree = await processTree(proc.pid);
  await proc.stop();
  for (const pid of tree) {
    if (pid === proc.pid) continue;
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

/** Every process under `pid` (itself included), from /proc/<pid>/task/<tid>/children. */
export async function processTree(pid: number): Promise<number[]> {
  const out = [pid];
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
  for (const tid of tasks) {
    const children = await readFile(`/proc/${pid}/task/${tid}/children`, "utf8").catch(() => "");
    for (const child of children.split(" ").filter(Boolean)) out.push(...(await processTree(Number(child))));
  }
  return out;
}
