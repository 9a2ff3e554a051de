// Server CPU per request over real HTTP: `node bench/floor/http-cpu.ts [node|workerd]`. Starts the
// bare-Hono floor (bench/floor/node.ts, or bench/floor/app.ts under workerd) and ours (runtimes/node.ts,
// or the deploy bundle under workerd; no Redis, nothing reachable: only paths that need no I/O are
// loaded), sends the same fixed number of keep-alive requests to each, interleaved, and reads each
// server's CPU from /proc/<pid>/stat (workerd's own process, not its Node wrapper). CPU time, not wall time, so a shared machine's
// noise moves it far less than requests/s; the least per batch is kept. A tool for finding where the
// time goes; the targets are the HTTP rows of `npm run bench`.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { freePort } from "../../dev/free-port.ts";
import { configFor } from "../../src/core/config.ts";
import { makeJwtKeys } from "../lib/keys.ts";
import { cpuMs } from "../lib/proc-cpu.ts";
import { nodeBinary, spawnManaged, waitForHttp } from "../lib/processes.ts";
import { buildWorker } from "../ours/build.ts";
import { startWorkerd } from "../ours/workerd.ts";
import { startWorkerdFloor } from "./start.ts";
import { offlineEnv, offlineToken } from "./offline-env.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const REQUESTS = Number(process.env.REQUESTS ?? 20_000);
const BATCHES = Number(process.env.BATCHES ?? 5);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 10);

const keys = await makeJwtKeys();
const vars: Record<string, string> = {
  ...offlineEnv(keys.json),
  SCHEDULE_INTERVAL_SECONDS: "86400",
  ...(process.env.CORS_ORIGINS ? { CORS_ORIGINS: process.env.CORS_ORIGINS } : {}),
};
const token = await offlineToken(configFor(vars));

async function start(name: string, script: string, env: Record<string, string>) {
  const port = await freePort();
  const proc = spawnManaged(name, nodeBinary, [join(ROOT, script)], {
    env: { ...env, PORT: String(port), HOST: "127.0.0.1" },
  });
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/healthz`, 30_000, proc);
  return { url, proc };
}

const runtime = process.argv[2] ?? "node";
const workDir = await mkdtemp(join(tmpdir(), "http-cpu-"));
let floor: { url: string; proc: { pid: number; stop(): Promise<void> } };
let ours: typeof floor;
if (runtime === "workerd") {
  const bundle = await buildWorker(ROOT, join(workDir, "build"));
  const { SCHEDULE_INTERVAL_SECONDS: _unused, ...workerVars } = vars;
  const [f, o] = await Promise.all([
    startWorkerdFloor(ROOT, bundle, workDir),
    startWorkerd({ root: ROOT, bundle, vars: workerVars, workDir }),
  ]);
  // startWorkerd spawns the real binary (bench/ours/workerd.ts), so these pids are workerd's own.
  floor = { url: f.url, proc: { pid: f.proc.pid, stop: f.stop } };
  ours = { url: o.url, proc: { pid: o.proc.pid, stop: o.stop } };
} else {
  floor = await start("floor", "bench/floor/node.ts", {});
  ours = await start("ours", "runtimes/node.ts", vars);
}
try {
  const cases = [
    { label: "bare Hono /healthz", server: floor, path: "/healthz", headers: {} },
    // The same request bytes as ours' /me: what receiving the bearer header costs the runtime itself.
    {
      label: "bare Hono, /me's request",
      server: floor,
      path: "/v1/auth/me",
      headers: { authorization: `Bearer ${token}` },
    },
    { label: "ours /healthz", server: ours, path: "/healthz", headers: {} },
    { label: "ours /v1/auth/me", server: ours, path: "/v1/auth/me", headers: { authorization: `Bearer ${token}` } },
    { label: "ours /no-such-route", server: ours, path: "/no-such-route", headers: {} },
  ];
  // ONLY=2,3 keeps the floor and those cases (by index), for a longer look at a few.
  const only = process.env.ONLY?.split(",").map(Number);
  if (only) cases.splice(0, cases.length, ...cases.filter((_, i) => i === 0 || only.includes(i)));
  const load = (c: (typeof cases)[number], amount: number) =>
    autocannon({ url: `${c.server.url}${c.path}`, headers: c.headers, connections: CONNECTIONS, amount });
  for (const c of cases) {
    const warm = await load(c, REQUESTS);
    if (warm.non2xx > 0 && !c.path.startsWith("/no-such")) throw new Error(`${c.label}: ${warm.non2xx} non-2xx`);
  }
  const best = cases.map(() => Number.POSITIVE_INFINITY);
  for (let b = 0; b < BATCHES; b++) {
    for (const [i, c] of cases.entries()) {
      const pid = c.server.proc.pid as number;
      const before = await cpuMs(pid);
      const result = await load(c, REQUESTS);
      const used = (await cpuMs(pid)) - before;
      const done = result.requests.total;
      best[i] = Math.min(best[i] as number, (used * 1000) / done);
    }
  }
  const floorUs = best[0] as number;
  for (const [i, c] of cases.entries()) {
    const us = best[i] as number;
    console.log(
      `${runtime} ${c.label.padEnd(24)} ${us.toFixed(1).padStart(6)} µs server CPU/request   ×${(us / floorUs).toFixed(2)} the floor`,
    );
  }
} finally {
  await Promise.all([floor.proc.stop(), ours.proc.stop()]);
  await rm(workDir, { recursive: true, force: true });
}
