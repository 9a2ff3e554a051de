// `node scripts/dev-load.ts`: starts `npm run dev` on a fresh data folder (PGlite, the embedded
// default; DATABASE_URL=... for another Postgres), then sends mixed requests, first one at a time,
// then many at once, while it polls /readyz and counts the open sockets to the embedded database.
// It prints one JSON report and exits 1 on any 5xx, any /readyz that was not ok, or a socket count
// that kept growing. Bounded by count: LOAD_SEQUENTIAL (5000), LOAD_CONCURRENT_TOTAL (2000) at
// LOAD_CONCURRENCY (200) in flight. Everything stays on 127.0.0.1; the data folder is removed after.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type DevStack, establishedTo, startDevStack } from "../dev/stack-process.ts";

const SEQUENTIAL = Number(process.env.LOAD_SEQUENTIAL ?? 5000);
const CONCURRENT_TOTAL = Number(process.env.LOAD_CONCURRENT_TOTAL ?? 2000);
const CONCURRENCY = Number(process.env.LOAD_CONCURRENCY ?? 200);

interface Tally {
  requests: number;
  byStatus: Record<string, number>;
  byRoute: Record<string, Record<string, number>>;
  serverErrors: { route: string; status: number; body: string }[];
  ms: number;
}

const newTally = (): Tally => ({ requests: 0, byStatus: {}, byRoute: {}, serverErrors: [], ms: 0 });

type Step = (n: number) => { route: string; path: string; init?: RequestInit };

function mix(access: string, admin: string): Step[] {
  const auth = { authorization: `Bearer ${access}` };
  const adminAuth = { authorization: `Bearer ${admin}` };
  const json = (method: string, body: unknown, headers: Record<string, string> = {}): RequestInit => ({
    method,
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  const badCursor = Buffer.from(JSON.stringify(["0000-01-01T00:00:00.000Z", crypto.randomUUID()])).toString(
    "base64url",
  );
  return [
    () => ({ route: "GET /healthz", path: "/healthz" }),
    () => ({ route: "GET /v1/auth/me", path: "/v1/auth/me", init: { headers: auth } }),
    () => ({ route: "GET /v1/assets", path: "/v1/assets?limit=5", init: { headers: auth } }),
    () => ({ route: "GET /v1/settings", path: "/v1/settings", init: { headers: auth } }),
    () => ({ route: "GET /v1/settings/:key", path: "/v1/settings/load.flag", init: { headers: auth } }),
    (n) => ({
      route: "POST /v1/assets (raw upload)",
      path: `/v1/assets?filename=load-${n}.txt`,
      init: { method: "POST", headers: { ...auth, "content-type": "text/plain" }, body: `hello ${n}` },
    }),
    (n) => ({
      route: "PUT /v1/settings/:key",
      path: `/v1/settings/load.k${n % 50}`,
      init: json("PUT", { value: { n } }, { ...adminAuth, "if-match": "*" }),
    }),
    () => ({
      route: "POST /v1/auth/register (NUL name)",
      path: "/v1/auth/register",
      init: json("POST", { email: "nul@example.test", password: "correct horse battery", name: "a\u0000b" }),
    }),
    () => ({ route: "GET /v1/assets (bad cursor)", path: `/v1/assets?cursor=${badCursor}`, init: { headers: auth } }),
    () => ({
      route: "PUT /v1/settings/:key (ReDoS schema)",
      path: "/v1/settings/load.redos",
      init: json(
        "PUT",
        { value: `${"a".repeat(34)}!`, schema: { type: "string", pattern: "^(a+)+$" } },
        { ...adminAuth, "if-none-match": "*" },
      ),
    }),
    () => ({ route: "GET /v1/nowhere", path: "/v1/nowhere" }),
  ];
}

async function send(stack: DevStack, step: ReturnType<Step>, tally: Tally): Promise<void> {
  let status = 0;
  let body = "";
  try {
    const res = await fetch(`${stack.baseUrl}${step.path}`, { ...step.init, signal: AbortSignal.timeout(30_000) });
    status = res.status;
    body = status >= 500 ? (await res.text()).slice(0, 300) : "";
    if (status < 500) await res.body?.cancel();
  } catch (error) {
    body = String(error);
  }
  tally.requests++;
  const key = status === 0 ? "network error" : String(status);
  tally.byStatus[key] = (tally.byStatus[key] ?? 0) + 1;
  const route = tally.byRoute[step.route] ?? {};
  route[key] = (route[key] ?? 0) + 1;
  tally.byRoute[step.route] = route;
  if (status >= 500 || status === 0) tally.serverErrors.push({ route: step.route, status, body });
}

async function main(): Promise<number> {
  const dataDir = await mkdtemp(join(tmpdir(), "edge-dev-load-"));
  const stack = await startDevStack({
    dataDir,
    ...(process.env.DATABASE_URL ? { databaseUrl: process.env.DATABASE_URL } : {}),
  });
  const monitor = { readyChecks: 0, readyNotOk: [] as string[], maxSockets: 0, socketSamples: [] as number[] };
  let running = true;
  const sockets = async (): Promise<number> =>
    Math.max(await establishedTo(stack.bridgePort), stack.pglitePort ? await establishedTo(stack.pglitePort) : 0);
  const watch = (async () => {
    while (running) {
      try {
        const res = await fetch(`${stack.baseUrl}/readyz`, { signal: AbortSignal.timeout(10_000) });
        const body = (await res.json()) as { status?: string };
        monitor.readyChecks++;
        if (res.status !== 200 || body.status !== "ok") monitor.readyNotOk.push(`${res.status} ${body.status}`);
      } catch (error) {
        monitor.readyChecks++;
        monitor.readyNotOk.push(String(error));
      }
      const open = await sockets();
      monitor.maxSockets = Math.max(monitor.maxSockets, open);
      monitor.socketSamples.push(open);
      await new Promise((r) => setTimeout(r, 500));
    }
  })();
  try {
    const login = async (): Promise<string> => {
      const res = await fetch(`${stack.baseUrl}/v1/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(stack.admin),
      });
      return ((await res.json()) as { accessToken: string }).accessToken;
    };
    const admin = await login();
    const steps = mix(admin, admin);

    const sequential = newTally();
    let started = Date.now();
    for (let n = 0; n < SEQUENTIAL; n++) await send(stack, (steps[n % steps.length] as Step)(n), sequential);
    sequential.ms = Date.now() - started;

    const concurrent = newTally();
    started = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < CONCURRENT_TOTAL) {
          const n = next++;
          await send(stack, (steps[n % steps.length] as Step)(SEQUENTIAL + n), concurrent);
        }
      }),
    );
    concurrent.ms = Date.now() - started;
    running = false;
    await watch;
    // After the load: every request closed its connections.
    await new Promise((r) => setTimeout(r, 1000));
    const socketsAfter = await sockets();
    const report = {
      database: stack.pglitePort ? "PGlite (embedded default)" : "configured Postgres",
      sequential,
      concurrent: { ...concurrent, concurrency: CONCURRENCY },
      readyz: { checks: monitor.readyChecks, notOk: monitor.readyNotOk.length, firstNotOk: monitor.readyNotOk[0] },
      databaseSockets: { max: monitor.maxSockets, afterLoad: socketsAfter },
    };
    console.log(JSON.stringify(report, null, 2));
    const failed =
      sequential.serverErrors.length + concurrent.serverErrors.length > 0 ||
      monitor.readyNotOk.length > 0 ||
      socketsAfter > 8;
    return failed ? 1 : 0;
  } finally {
    running = false;
    await watch.catch(() => {});
    await stack.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
