// The app's own CPU per request, in process: `node bench/floor/in-process.ts`. The HTTP rows of
// `npm run bench` carry the server, the sockets and the load generator too, and on a shared machine
// their noise hides differences of a few µs; this calls `fetch` of ours and of the bare-Hono floor
// (bench/floor/app.ts) directly, with @hono/node-server's Request and Response (as on Node), and
// keeps the least CPU per request over interleaved batches. No I/O: `/healthz`, `/v1/auth/me` (a
// token the cache already verified) and a miss (404). A tool for finding where the time goes, not
// a verdict: the targets are the HTTP rows.
import { getRequestListener } from "@hono/node-server";
import { createApp } from "../../src/app.ts";
import { configFor } from "../../src/core/config.ts";
import { makeJwtKeys } from "../lib/keys.ts";
import floor from "./app.ts";
import { offlineEnv, offlineToken } from "./offline-env.ts";

// Installs node-server's lightweight Request/Response globals, exactly as runtimes/node.ts does.
getRequestListener(() => new Response(null));

const BATCH = Number(process.env.BATCH ?? 3000);
const BATCHES = Number(process.env.BATCHES ?? 12);

const keys = await makeJwtKeys();
// Enough configuration to start; nothing here opens a connection.
const env = Object.freeze(offlineEnv(keys.json));
const token = await offlineToken(configFor(env));
const ctx = { waitUntil: () => {}, passThroughOnException: () => {}, props: {} } as unknown as ExecutionContext;
const app = createApp();

type Fetch = (request: Request) => Response | Promise<Response>;
const cases: Array<{ label: string; fetch: Fetch; path: string; headers: Record<string, string>; status: number }> = [
  { label: "bare Hono", fetch: (r) => floor.fetch(r), path: "/healthz", headers: {}, status: 200 },
  { label: "ours", fetch: (r) => app.fetch(r, env, ctx), path: "/healthz", headers: {}, status: 200 },
  {
    label: "ours",
    fetch: (r) => app.fetch(r, env, ctx),
    path: "/v1/auth/me",
    headers: { authorization: `Bearer ${token}` },
    status: 200,
  },
  { label: "ours", fetch: (r) => app.fetch(r, env, ctx), path: "/no-such-route", headers: {}, status: 404 },
];

const once = ({ fetch, path, headers }: (typeof cases)[number]) =>
  fetch(new Request(`http://bench${path}`, { headers }));
for (const c of cases) {
  const res = await once(c);
  if (res.status !== c.status) throw new Error(`${c.label} ${c.path} answered ${res.status}`);
  for (let i = 0; i < BATCH; i++) await once(c);
}
const best = cases.map(() => Number.POSITIVE_INFINITY);
for (let b = 0; b < BATCHES; b++) {
  for (const [i, c] of cases.entries()) {
    const start = process.cpuUsage();
    for (let n = 0; n < BATCH; n++) await once(c);
    const used = process.cpuUsage(start);
    best[i] = Math.min(best[i] as number, (used.user + used.system) / BATCH);
  }
}
const floorUs = best[0] as number;
for (const [i, c] of cases.entries()) {
  const us = best[i] as number;
  console.log(
    `${`${c.label} ${c.path}`.padEnd(28)} ${us.toFixed(1).padStart(6)} µs CPU/request   ×${(us / floorUs).toFixed(2)} the floor`,
  );
}
