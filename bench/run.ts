// `npm run bench`: the service against the classic stateful Node stack, side by side in one run.
//
//   npm run bench                  full run (< 10 minutes on 2 cores), prints the table, writes JSON
//   npm run bench -- --write       same, then rewrites the results block of BENCHMARKS.md
//   npm run bench -- --quick       a smoke run of a few seconds per benchmark (also BENCH_QUICK=1)
//   npm run bench -- --only=http,uploads   only these suites (footprint, tokens, http, settings, uploads, realtime, linked)
//   npm run bench -- --soak        the realtime soak alone (≤ 5 minutes): lost/duplicated messages, memory over time
//
// Needs Postgres on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 (BENCH_POSTGRES_URL / BENCH_REDIS_URL
// to change), as the tests do. All traffic stays on 127.0.0.1; every loop is bounded in time.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient, type RedisClientType } from "redis";
import { registerBaseline } from "./baselines/sessions.ts";
import { type BaselineEnv, startBaselinePair } from "./baselines/start.ts";
import { type BenchContext, deletePrefix, type Suite } from "./lib/context.ts";
import { loadNow, machineInfo } from "./lib/machine.ts";
import { createPgCounter } from "./lib/pg-counter.ts";
import { parseArgs } from "./lib/profile.ts";
import {
  markdownTable,
  oursLoses,
  resultsBlock,
  rewriteBenchmarksMd,
  type Row,
  type RunInfo,
  statusRow,
  writeResults,
} from "./lib/report.ts";
import { seedSettings } from "./lib/seed.ts";
import { makeJwtKeys } from "./lib/keys.ts";
import { buildWorker, exportHead, readWranglerVars } from "./ours/build.ts";
import { provisionOurs } from "./ours/identity.ts";
import { startWorkerd } from "./ours/workerd.ts";
import { startServices } from "./stack/start.ts";
import { startNodeFloor, startOursOnNode, startWorkerdFloor } from "./floor/start.ts";
import { commandsProcessed, startPrivateRedis } from "./lib/private-redis.ts";
import { footprintSuite } from "./suites/footprint.ts";
import { httpSuite } from "./suites/http.ts";
import { linkedSuite } from "./suites/linked.ts";
import { realtimeSuite } from "./suites/realtime.ts";
import { realtimeSoakSuite } from "./suites/realtime-soak.ts";
import { settingsSuite } from "./suites/settings.ts";
import { tokenVerifySuite } from "./suites/token-verify.ts";
import { uploadsSuite } from "./suites/uploads.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const SUITES: Suite[] = [
  footprintSuite,
  tokenVerifySuite,
  httpSuite,
  settingsSuite,
  uploadsSuite,
  realtimeSuite,
  linkedSuite,
  realtimeSoakSuite,
];

const opts = parseArgs(process.argv.slice(2), process.env);
const started = performance.now();
const startedAt = new Date().toISOString();
const log = (line: string): void => {
  process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(0).padStart(3)} s] ${line}\n`);
};
const timeLeftS = (): number => opts.profile.budgetS - (performance.now() - started) / 1000;

const runId = `${Date.now().toString(36)}${randomBytes(2).toString("hex")}`;
const workDir = await mkdtemp(join(tmpdir(), "edge-bench-"));
const machine = await machineInfo(ROOT);
const notes: string[] = [];
const rows: Row[] = [];
const extra: Record<string, unknown> = {};
// Everything started is stopped in reverse order, whatever fails.
const cleanups: Array<() => Promise<unknown>> = [];
let redisUrl = process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379";
const keyPrefix = `bench:${runId}:`;

async function setUp(): Promise<BenchContext> {
  log(`run ${runId}, profile ${opts.profile.name}, work dir ${workDir}`);
  // A Redis of the run's own (unless BENCH_REDIS_URL names one): Redis command counts and the Redis
  // server's CPU then belong to this run alone, not to the other test runs on the machine.
  const privateRedis = process.env.BENCH_REDIS_URL
    ? null
    : await startPrivateRedis().catch((error: unknown) => {
        log(`private redis-server did not start (${error instanceof Error ? error.message : String(error)})`);
        return null;
      });
  if (privateRedis) {
    redisUrl = privateRedis.url;
    cleanups.push(() => privateRedis.stop());
    notes.push("Redis: a redis-server of the run's own, so Redis command counts and Redis CPU are this run's alone.");
  } else {
    notes.push(
      `Redis: the shared ${redisUrl}; Redis commands per request include other clients' traffic (noisy) and Redis CPU is not measured.`,
    );
  }
  const services = await startServices(ROOT, join(workDir, "data"), 60_000, redisUrl);
  cleanups.push(() => services.stop());
  log("services up (Postgres database, ws bridge, Upstash bridge, S3)");

  const redis = createClient({
    url: redisUrl,
    socket: { connectTimeout: 2000 },
    commandOptions: { timeout: 5000 },
  }) as RedisClientType;
  redis.on("error", () => {});
  await redis.connect();
  cleanups.push(async () => {
    await deletePrefix(redis, keyPrefix);
    await redis.quit();
  });

  // The tree is shared with engineers mid-edit: when it does not build, benchmark the last commit.
  const bundle = await buildWorker(ROOT, join(workDir, "build")).catch(async (error: unknown) => {
    log(`${error instanceof Error ? error.message : String(error)}; building the last commit instead`);
    const head = await exportHead(ROOT, join(workDir, "head"));
    return buildWorker(ROOT, join(workDir, "build-head"), head);
  });
  notes.push(`Ours: the bundle was built from the ${bundle.source}.`);
  log(
    `bundle built in ${(bundle.buildMs / 1000).toFixed(1)} s: ${(bundle.rawBytes / 1024).toFixed(0)} KiB, ${(bundle.gzipBytes / 1024).toFixed(0)} KiB gzip`,
  );

  const keys = await makeJwtKeys();
  const oursKeyPrefix = `${keyPrefix}ours:`;
  const workerVars: Record<string, string> = {
    ...(await readWranglerVars(ROOT)),
    ...services.vars,
    JWT_KEYS: keys.json,
    REDIS_KEY_PREFIX: oursKeyPrefix,
    // Both sides log warnings only (the baseline has no request log either).
    LOG_LEVEL: "warn",
    // Long enough that no token minted at the start expires during the run; verification cost is the same.
    ACCESS_TOKEN_TTL_SECONDS: "3600",
    // The room object limits one connection to 10 publishes/s by default; the publisher here sends up
    // to 50/s, and the baseline has no such limit, so it is raised rather than measured as refusals.
    ROOM_PUBLISH_RATE_PER_SECOND: "1000",
    ROOM_PUBLISH_BURST: "1000",
  };
  const startOursVariant = (overrides: Record<string, string | undefined>) => {
    const vars: Record<string, string> = {};
    for (const [k, v] of Object.entries({ ...workerVars, ...overrides })) if (v !== undefined) vars[k] = v;
    return startWorkerd({ root: ROOT, bundle, vars, workDir });
  };
  const ours = await startOursVariant({});
  cleanups.push(() => ours.stop());
  log(`workerd up at ${ours.url} (pid ${ours.proc.pid})`);

  const baselineEnv: BaselineEnv = {
    redisUrl,
    keyPrefix: `${keyPrefix}base:`,
    sessionSecret: randomBytes(32).toString("base64url"),
    databaseUrl: services.databaseUrl,
    s3: {
      endpoint: services.vars.S3_ENDPOINT ?? "",
      region: services.vars.S3_REGION ?? "auto",
      bucket: services.vars.S3_BUCKET ?? "",
      accessKeyId: services.vars.S3_ACCESS_KEY_ID ?? "",
      secretAccessKey: services.vars.S3_SECRET_ACCESS_KEY ?? "",
      publicBaseUrl: services.vars.S3_PUBLIC_BASE_URL ?? "",
    },
  };
  const [a, b] = await startBaselinePair(ROOT, baselineEnv);
  cleanups.push(() => Promise.all([a.stop(), b.stop()]));
  log(`baseline up at ${a.url} and ${b.url}`);

  const oursIdentity = await provisionOurs(ours.url, services.databaseUrl, workerVars, runId);
  notes.push(
    oursIdentity.via === "register"
      ? "Ours: the benchmark user signed up through POST /v1/auth/register."
      : "Ours: POST /v1/auth/register was not available, so the benchmark user is a fixture row with a token minted by the service's issueAccessToken.",
  );
  const baseUser = await registerBaseline(a.url, runId);
  const seeded = await seedSettings(ours.url, oursIdentity.adminToken, services.databaseUrl);
  notes.push(`Settings: ${seeded.detail}.`);
  log(`identities ready (ours via ${oursIdentity.via}); settings seeded via ${seeded.via}`);

  const pg = await createPgCounter(services.databaseUrl);
  cleanups.push(() => pg.close());

  // Same-runtime rows: ours through runtimes/node.ts, and the bare-Hono floors under workerd and Node.
  const optional = async <T extends { stop(): Promise<void> }>(label: string, start: () => Promise<T>) => {
    try {
      const server = await start();
      cleanups.push(() => server.stop());
      return server;
    } catch (error) {
      const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
      notes.push(`${label} could not start (${reason}); its rows are not measured.`);
      return null;
    }
  };
  const oursNode = await optional("Ours on Node", () => startOursOnNode(ROOT, workerVars));
  const floors = {
    workerd: await optional("The bare-Hono floor under workerd", () => startWorkerdFloor(ROOT, bundle, workDir)),
    node: await optional("The bare-Hono floor on Node", () => startNodeFloor(ROOT)),
  };
  log(
    `ours on Node ${oursNode?.url ?? "not started"}; floors ${floors.workerd?.url ?? "-"} ${floors.node?.url ?? "-"}`,
  );

  return {
    root: ROOT,
    runId,
    workDir,
    profile: opts.profile,
    timeLeftS,
    log,
    services,
    bundle,
    workerVars,
    ours,
    oursIdentity,
    startOursVariant,
    baseline: {
      a,
      b,
      user: baseUser,
      keyPrefix: baselineEnv.keyPrefix,
      sessionSecret: baselineEnv.sessionSecret,
      env: baselineEnv,
    },
    redis,
    redisServer: {
      pid: privateRedis?.proc.pid ?? null,
      private: privateRedis !== null,
      commands: async () => commandsProcessed(await redis.info("stats")),
    },
    oursNode,
    floors,
    oursKeyPrefix,
    pg,
    extra,
  };
}

async function tearDown(): Promise<void> {
  for (const fn of cleanups.splice(0).reverse()) {
    await fn().catch((e: unknown) => log(`cleanup: ${e instanceof Error ? e.message : String(e)}`));
  }
  await rm(workDir, { recursive: true, force: true }).catch(() => {});
}

let interrupted = false;
let reported = false;

/** Prints the table and writes the results once, whether the run ended normally or was cut short. */
async function report(): Promise<void> {
  if (reported) return;
  reported = true;
  const durationS = (performance.now() - started) / 1000;
  machine.loadEnd = loadNow();
  const command = `npm run bench${process.argv.slice(2).length ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`;
  const info: RunInfo = {
    startedAt,
    finishedAt: new Date().toISOString(),
    durationS,
    command,
    profile: opts.profile.name,
    machine,
    notes,
  };
  const file = await writeResults(ROOT, info, rows, extra);
  process.stdout.write(`\n${markdownTable(rows)}\n\n`);
  const losses = oursLoses(rows);
  if (losses.length) process.stdout.write(`Where ours loses:\n${losses.map((l) => `  - ${l}`).join("\n")}\n\n`);
  process.stdout.write(
    `machine: ${machine.cpuModel} × ${machine.cores}, load ${machine.loadStart} → ${machine.loadEnd}; ${Math.round(durationS)} s; raw results: ${file}\n`,
  );
  if (opts.write) {
    await rewriteBenchmarksMd(ROOT, resultsBlock(info, rows));
    process.stdout.write("BENCHMARKS.md results block rewritten\n");
  }
}

/** Cuts the run short: stops every server, reports what was measured so far, exits. */
function abort(reason: string, code: number): void {
  interrupted = true;
  log(reason);
  rows.push(statusRow("run", "remaining benchmarks", ["ours", "baseline"], "skipped", reason));
  void tearDown()
    .then(report)
    .finally(() => process.exit(code));
}

// The last line of defence for "under 10 minutes": whatever hangs, the run ends, cleans up and reports.
const watchdog = setTimeout(
  () => abort("watchdog: over the time budget, stopping", 1),
  (opts.profile.budgetS + 30) * 1000,
);
watchdog.unref();
process.once("SIGINT", () => abort("interrupted", 130));

try {
  const ctx = await setUp();
  for (const suite of SUITES) {
    if (interrupted) break;
    if (opts.only && !opts.only.has(suite.name)) continue;
    // The soak runs only when asked for, and alone.
    if ((suite.name === "soak") !== opts.soak) continue;
    if (timeLeftS() < 15) {
      rows.push(statusRow(suite.name, suite.name, ["ours", "baseline"], "skipped", "time budget used up"));
      continue;
    }
    log(`suite ${suite.name}`);
    try {
      rows.push(...(await suite.run(ctx)));
    } catch (error) {
      if (interrupted) break;
      log(`suite ${suite.name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      const message = error instanceof Error ? error.message : String(error);
      rows.push(statusRow(suite.name, suite.name, ["ours", "baseline"], "error", message));
    }
  }
} catch (error) {
  log(`set-up failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  const message = error instanceof Error ? (error.message.split("\n")[0] ?? "") : String(error);
  rows.push(statusRow("setup", "local stack, bundle and servers", ["ours", "baseline"], "error", message));
  process.exitCode = 1;
} finally {
  if (!interrupted) await tearDown();
}
if (!interrupted) {
  clearTimeout(watchdog);
  await report();
}
