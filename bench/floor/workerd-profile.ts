// Where ours' JS time goes under workerd: `node bench/floor/workerd-profile.ts http [path]` or
// `N=1000 node bench/floor/workerd-profile.ts connect`. Starts ours under `workerd serve` with its V8
// inspector on a loopback port, attaches over the Chrome DevTools Protocol, and samples the isolate
// (Profiler domain, 50 µs asked; V8 samples less often on a busy 2-core machine, each sample
// weighted by its real interval) while it is loaded:
// - http: autocannon, 10 connections, 2 s warm-up then 8 s profiled, on /v1/auth/me with a bearer
//   token (or on `path`, no token); offline env as http-cpu.ts, so only I/O-free paths answer.
// - connect: N WebSockets (distinct users and sessions, access tokens only: the Durable Object
//   gateway checks revocation itself, so an upgrade needs no Postgres or Redis) to one room, 50 at a
//   time, each waiting for its welcome frame, then all closed; 100 are opened and closed first to warm up.
// Prints the sampled total, the top functions by self and by inclusive time, and self time by
// package/directory; writes the raw .cpuprofile (opens in Chrome DevTools or speedscope).
// The bundle profiled is NOT the deploy bundle: `wrangler deploy --dry-run --minify=false
// --upload-source-maps`, so names are readable and each frame maps back to its source file. Minifying
// changes absolute costs a little (and keep_names is off in production); fine for finding hotspots,
// not for quoting µs (http-cpu.ts measures the real bundle). The inspector being attached costs a bit too.
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { SourceMap, type SourceMapPayload } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { WebSocket } from "ws";
import { freePort } from "../../dev/free-port.ts";
import { configFor } from "../../src/core/config.ts";
import { makeJwtKeys } from "../lib/keys.ts";
import { spawnManaged, waitForHttp } from "../lib/processes.ts";
import { buildWorker } from "../ours/build.ts";
import { capnpConfig, processTree, workerdBinary } from "../ours/workerd.ts";
import { offlineEnv, offlineToken } from "./offline-env.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const MODE = process.argv[2] ?? "http";
const N = Number(process.env.N ?? 1000);
const ROOM = "bench-profile"; // a plain room: any `user` may join it (src/features/rooms/model.ts roomAllows)

const keys = await makeJwtKeys();
const vars = offlineEnv(keys.json);
const config = configFor(vars);
const tokenFor = (userId: string, sessionId: string) => offlineToken(config, userId, sessionId);

/** A minimal CDP client: one request at a time is all this needs, but ids keep replies straight. */
async function inspect(wsUrl: string) {
  const ws = new WebSocket(wsUrl, { perMessageDeflate: false });
  await new Promise((ok, fail) => ws.once("open", ok).once("error", fail));
  let next = 0;
  const waiting = new Map<number, { ok: (v: unknown) => void; fail: (e: Error) => void }>();
  ws.on("message", (raw) => {
    const msg = JSON.parse(raw.toString()) as { id?: number; result?: unknown; error?: { message: string } };
    const w = msg.id === undefined ? undefined : waiting.get(msg.id);
    if (!w) return; // events (console, etc.)
    waiting.delete(msg.id as number);
    if (msg.error) w.fail(new Error(msg.error.message));
    else w.ok(msg.result);
  });
  const send = <T = unknown>(method: string, params?: object) =>
    new Promise<T>((ok, fail) => {
      const id = ++next;
      waiting.set(id, { ok: ok as (v: unknown) => void, fail: (e) => fail(new Error(`${method}: ${e.message}`)) });
      ws.send(JSON.stringify({ id, method, params }));
    });
  return { send, close: () => ws.close() };
}

async function loadHttp(url: string) {
  const path = process.argv[3] ?? "/v1/auth/me";
  const headers: Record<string, string> = process.argv[3]
    ? {}
    : { authorization: `Bearer ${await tokenFor(crypto.randomUUID(), crypto.randomUUID())}` };
  const run = (duration: number) => autocannon({ url: `${url}${path}`, headers, connections: 10, duration });
  await run(2);
  return async () => {
    const r = await run(8);
    return `http ${path}: ${r.requests.total} requests, ${r.non2xx} non-2xx, ${r.errors} errors`;
  };
}

async function loadConnect(url: string) {
  const wsUrl = `${url.replace(/^http/, "ws")}/v1/rooms/${ROOM}/ws`;
  const open = async (token: string) => {
    const ws = new WebSocket(wsUrl, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false });
    await new Promise<void>((ok, fail) => {
      const timer = setTimeout(() => fail(new Error("no welcome frame in 15 s")), 15_000);
      ws.on("unexpected-response", (_req, res) => fail(new Error(`upgrade answered ${res.statusCode}`)));
      ws.on("error", fail);
      ws.on("message", (raw) => {
        if ((JSON.parse(raw.toString()) as { type?: string }).type !== "welcome") return;
        clearTimeout(timer);
        ok();
      });
    });
    return ws;
  };
  const cycle = async (count: number, tokens: string[]) => {
    const sockets: WebSocket[] = [];
    for (let i = 0; i < count; i += 50)
      sockets.push(...(await Promise.all(tokens.slice(i, i + 50).map((t) => open(t)))));
    await Promise.all(
      sockets.map(
        (ws) =>
          new Promise((ok) => {
            ws.once("close", ok);
            ws.close(1000);
            setTimeout(ok, 5000).unref();
          }),
      ),
    );
  };
  // Tokens are made before profiling: signing them is the client's cost, not the server's.
  const tokens = (n: number) =>
    Promise.all(Array.from({ length: n }, () => tokenFor(crypto.randomUUID(), crypto.randomUUID())));
  await cycle(100, await tokens(100));
  const measured = await tokens(N);
  return async () => {
    const started = performance.now();
    await cycle(N, measured);
    await new Promise((r) => setTimeout(r, 500)); // the room's close handlers run after the client sees its close
    return `connect: ${N} sockets opened (welcome) and closed in ${((performance.now() - started) / 1000).toFixed(1)} s`;
  };
}

interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
    children?: number[];
  }>;
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Self and inclusive ms per function (name + location), each sample counted once per function on its stack. */
function summarize(profile: CpuProfile, where: (url: string, line: number, col: number) => string) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Sample i lasts until sample i+1 (as DevTools counts it); the last gets the mean.
  const selfMs = new Map<number, number>();
  const d = profile.timeDeltas;
  const mean = (profile.endTime - profile.startTime) / Math.max(1, d.length);
  for (const [i, id] of profile.samples.entries()) selfMs.set(id, (selfMs.get(id) ?? 0) + (d[i + 1] ?? mean) / 1000);
  const fn = new Map<string, { name: string; at: string; self: number; total: number }>();
  const keyOf = (id: number) => {
    const { functionName, url, lineNumber, columnNumber } = (byId.get(id) as CpuProfile["nodes"][number]).callFrame;
    const key = `${functionName}\0${url}\0${lineNumber}\0${columnNumber}`;
    if (!fn.has(key))
      fn.set(key, {
        // scriptId 0, no name, straight under (root): V8 sampled the isolate with no JS on its stack,
        // i.e. workerd's own C++ running under the isolate lock (request/response plumbing).
        name: functionName || (url || lineNumber >= 0 ? "(anonymous)" : "(no JS frame: workerd C++)"),
        // No url: a builtin, workerd's API (Response, Headers' get/set) or V8's (JSON.parse...).
        at: url ? where(url, lineNumber, columnNumber) : /^\(|^$/.test(functionName) ? "" : "(builtin)",
        self: 0,
        total: 0,
      });
    return key;
  };
  for (const [id, ms] of selfMs) {
    (fn.get(keyOf(id)) as { self: number }).self += ms;
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) seen.add(keyOf(at));
    for (const k of seen) (fn.get(k) as { total: number }).total += ms;
  }
  return [...fn.values()];
}

// --- run ---------------------------------------------------------------------------------------
const workDir = await mkdtemp(join(tmpdir(), "workerd-profile-"));
let stopWorkerd = async () => {};
try {
  // buildWorker's dry run, unminified and with a source map (names readable, frames mapped back).
  const bundle = await buildWorker(
    ROOT,
    join(workDir, "build"),
    { dir: ROOT, label: "working tree, unminified" },
    { extraArgs: ["--minify=false", "--upload-source-maps"] },
  );
  const [port, inspectorPort] = [await freePort(), await freePort()];
  const doDir = resolve(workDir, "do");
  await mkdir(doDir, { recursive: true });
  const configPath = join(workDir, "workerd.capnp");
  const modulePath = relative(workDir, bundle.modulePath);
  await writeFile(configPath, capnpConfig({ modulePath, port, doDir, bundle, vars }));
  const proc = spawnManaged("workerd", workerdBinary(ROOT), [
    "serve",
    "--experimental",
    `--inspector-addr=127.0.0.1:${inspectorPort}`,
    configPath,
  ]);
  stopWorkerd = async () => {
    const tree = await processTree(proc.pid);
    await proc.stop();
    for (const pid of tree.slice(1))
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
  };
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/healthz`, 30_000, proc);

  const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json/list`)).json()) as Array<{
    title?: string;
    webSocketDebuggerUrl?: string;
  }>;
  const target = targets.find((t) => t.webSocketDebuggerUrl);
  if (!target?.webSocketDebuggerUrl) throw new Error(`no inspector target: ${JSON.stringify(targets)}`);
  const cdp = await inspect(target.webSocketDebuggerUrl);

  const measure = MODE === "connect" ? await loadConnect(url) : await loadHttp(url);
  await cdp.send("Profiler.enable");
  await cdp.send("Profiler.setSamplingInterval", { interval: 50 });
  await cdp.send("Profiler.start");
  const what = await measure();
  const { profile } = await cdp.send<{ profile: CpuProfile }>("Profiler.stop");
  cdp.close();

  // Frames map back through the bundle's source map to repo-relative source paths (1-based lines).
  const map = new SourceMap(JSON.parse(await readFile(`${bundle.modulePath}.map`, "utf8")) as SourceMapPayload);
  // Only the bundle's own frames: workerd's internal modules (node-internal:..., cloudflare-internal:...) are not in it.
  const where = (url: string, line: number, col: number) => {
    const e =
      url === "index.js" ? (map.findEntry(line, col) as { originalSource?: string; originalLine?: number }) : {};
    if (!e.originalSource) return `${url}:${line + 1}`;
    return `${relative(ROOT, resolve(bundle.dir, e.originalSource))}:${(e.originalLine ?? 0) + 1}`;
  };
  const rows = summarize(profile, where);
  const idle = rows.filter((r) => r.name === "(idle)").reduce((s, r) => s + r.self, 0);
  const busy = rows.reduce((s, r) => s + r.self, 0) - idle;
  const pct = (ms: number) => `${((100 * ms) / busy).toFixed(1).padStart(5)}%`;
  const line = (r: (typeof rows)[number], ms: number) =>
    `${ms.toFixed(1).padStart(9)} ms ${pct(ms)}  ${r.name.slice(0, 48).padEnd(48)} ${r.at.replace(/^node_modules\//, "")}`;
  console.log(what);
  console.log(
    `sampled ${((profile.endTime - profile.startTime) / 1000).toFixed(0)} ms wall, ${profile.samples.length} samples (one per ${((profile.endTime - profile.startTime) / profile.samples.length).toFixed(0)} µs; 50 asked), ${busy.toFixed(1)} ms busy (100%), ${idle.toFixed(1)} ms idle (excluded)`,
  );
  const shown = rows.filter((r) => r.name !== "(idle)" && r.name !== "(root)");
  console.log("\ntop 40 by self time");
  for (const r of [...shown].sort((a, b) => b.self - a.self).slice(0, 40)) console.log(line(r, r.self));
  console.log("\ntop 25 by total (inclusive) time");
  for (const r of [...shown].sort((a, b) => b.total - a.total).slice(0, 25)) console.log(line(r, r.total));
  // Self time per package (node_modules/<pkg>, scoped too), workerd-internal module set, or repo
  // directory: zod vs hono vs ours vs the runtime.
  const groups = new Map<string, number>();
  for (const r of shown) {
    const file = r.at.replace(/:\d+$/, "");
    const g =
      /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file)?.[1] ??
      /^([a-z-]+):/.exec(file)?.[1] ??
      (file.includes("/") ? dirname(file) : file === "(builtin)" ? "(builtins)" : file || r.name);
    groups.set(g, (groups.get(g) ?? 0) + r.self);
  }
  console.log("\nself time by package / directory (top 20)");
  for (const [g, ms] of [...groups].sort((a, b) => b[1] - a[1]).slice(0, 20))
    console.log(`${ms.toFixed(1).padStart(9)} ms ${pct(ms)}  ${g}`);
  const out = join(tmpdir(), `workerd-${MODE}-${Date.now()}.cpuprofile`);
  await writeFile(out, JSON.stringify(profile));
  console.log(`\nraw profile: ${out}`);
} finally {
  await stopWorkerd();
  await rm(workDir, { recursive: true, force: true });
}
