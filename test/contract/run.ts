// `npm run test:contract`: one local stack (fresh Postgres database, Redis behind the Upstash bridge,
// local S3), then each runtime in turn on a free port (the Worker under `wrangler dev`, Deno, Bun,
// Node), and the one contract suite against each. CONTRACT_RUNTIMES=node,deno picks a subset.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { formatEnvFile } from "../../dev/env-file.ts";
import { freePort } from "../../dev/free-port.ts";
import { startLocalStack } from "../../dev/local-stack.ts";
import { createTestDatabase } from "../../dev/test-database.ts";
import { migrateDatabase } from "../../scripts/migrate.ts";
import { seedAdmin } from "../../scripts/seed-admin.ts";
import { testJwtKeys } from "../support/keys.ts";
import { deleteKeysWithPrefix } from "../support/redis-cleanup.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const POSTGRES_ADMIN_URL = process.env.TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const ALL = ["worker", "deno", "bun", "node"] as const;
type Runtime = (typeof ALL)[number];
const STARTUP_TIMEOUT_MS = 120_000;
const bin = (name: string) => join(ROOT, "node_modules/.bin", name);

function command(runtime: Runtime, port: number, workDir: string, envFile: string): [string, string[]] {
  switch (runtime) {
    case "node":
      return [process.execPath, [join(ROOT, "runtimes/node.ts")]];
    case "deno":
      return [
        bin("deno"),
        ["run", "--allow-net", "--allow-env", "--allow-read", "--allow-sys=osRelease", join(ROOT, "runtimes/deno.ts")],
      ];
    case "bun":
      return [bin("bun"), [join(ROOT, "runtimes/bun.ts")]];
    case "worker": {
      const args = ["dev", "--port", String(port), "--ip", "127.0.0.1", "--inspector-port", "0"];
      args.push("--persist-to", join(workDir, "wrangler-state"), "--env-file", envFile, "--log-level", "warn");
      args.push("--show-interactive-dev-session=false");
      return [process.execPath, [join(ROOT, "node_modules/wrangler/bin/wrangler.js"), ...args]];
    }
  }
}

async function waitForHealth(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode} before answering`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await res.body?.cancel();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`no answer from ${url} within ${STARTUP_TIMEOUT_MS} ms`);
}

function stopGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const pid = child.pid;
  const kill = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pid, signal);
    } catch {
      // gone
    }
  };
  kill("SIGTERM");
  const timer = setTimeout(() => kill("SIGKILL"), 5_000);
  return exited.finally(() => clearTimeout(timer));
}

const ADMIN = { email: "contract-admin@example.test", password: `pw-${crypto.randomUUID()}` };

function runVitest(project: string, env: Record<string, string>): Promise<number> {
  const vitest = join(ROOT, "node_modules/vitest/vitest.mjs");
  const child = spawn(
    process.execPath,
    [vitest, "run", "--config", "vitest.contract.config.ts", "--project", project],
    {
      cwd: ROOT,
      stdio: "inherit",
      env: { ...process.env, ...env },
    },
  );
  return new Promise((resolve) => child.once("exit", (code) => resolve(code ?? 1)));
}

const runSuite = (baseUrl: string, runtime: Runtime): Promise<number> =>
  runVitest("contract", {
    CONTRACT_BASE_URL: baseUrl,
    CONTRACT_RUNTIME: runtime,
    CONTRACT_ADMIN_EMAIL: ADMIN.email,
    CONTRACT_ADMIN_PASSWORD: ADMIN.password,
  });

/** Collects the child's stdout; passes on everything but info lines (the jobs' own chatter). */
function captureOutput(child: ChildProcess): { text: string } {
  const output = { text: "" };
  child.stdout?.setEncoding("utf8");
  child.stdout?.on("data", (chunk: string) => {
    output.text += chunk;
    for (const line of chunk.split("\n")) if (line && !line.startsWith('{"level":"info"')) console.log(line);
  });
  return output;
}

/** Both scheduled jobs (src/scheduled.ts) logged a completed run within a few interval ticks. */
async function scheduledJobsRan(output: { text: string }): Promise<boolean> {
  const deadline = Date.now() + 10_000;
  const ran = () =>
    output.text.includes('"msg":"pruned expired refresh tokens"') &&
    output.text.includes('"msg":"swept pending uploads"');
  while (!ran() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  return ran();
}

interface PhaseResult {
  name: string;
  ok: boolean;
  seconds: number;
  detail?: string;
}

/**
 * Starts `runtime` with `vars` on a free port, runs `check` against it (a failure reason, or
 * undefined), and stops it. A runtime that exits while being checked fails the phase: nothing crashes.
 */
async function phase(
  runtime: Runtime,
  label: string,
  baseVars: Record<string, string>,
  workDir: string,
  check: (baseUrl: string, output: { text: string }) => Promise<string | undefined>,
): Promise<PhaseResult> {
  const name = `${runtime} ${label}`;
  const started = Date.now();
  const port = await freePort();
  const vars = { ...baseVars, PORT: String(port), HOST: "127.0.0.1" };
  const envFile = join(workDir, `${runtime}-${label}.env`);
  await writeFile(envFile, formatEnvFile(vars), { mode: 0o600 });
  const [cmd, args] = command(runtime, port, workDir, envFile);
  console.log(`\n=== ${name}: starting on port ${port}`);
  const child = spawn(cmd, args, {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "inherit"],
    detached: true,
    env: { ...process.env, ...vars, WRANGLER_SEND_METRICS: "false", DENO_NO_UPDATE_CHECK: "1" },
  });
  const output = captureOutput(child);
  const seconds = () => (Date.now() - started) / 1000;
  try {
    const baseUrl = `http://127.0.0.1:${port}`;
    await waitForHealth(`${baseUrl}/healthz`, child);
    console.log(`=== ${name}: up after ${seconds().toFixed(1)} s`);
    const failure = await check(baseUrl, output);
    const exited = child.exitCode !== null ? `the process exited (${child.exitCode}) during the run` : undefined;
    const detail = failure ?? exited;
    return { name, ok: detail === undefined, seconds: seconds(), ...(detail !== undefined && { detail }) };
  } catch (error) {
    return { name, ok: false, seconds: seconds(), detail: String(error) };
  } finally {
    await stopGroup(child);
  }
}

async function main(): Promise<number> {
  const wanted = (process.env.CONTRACT_RUNTIMES ?? ALL.join(",")).split(",").map((s) => s.trim()) as Runtime[];
  const unknown = wanted.filter((r) => !ALL.includes(r));
  if (unknown.length > 0) throw new Error(`unknown runtime(s): ${unknown.join(", ")}; known: ${ALL.join(", ")}`);
  const cleanups: Array<() => Promise<unknown>> = [];
  const results: PhaseResult[] = [];
  // The runtime adapters' own unit tests first: no stack needed.
  const unitStarted = Date.now();
  const unitCode = await runVitest("runtimes", {});
  results.push({ name: "runtime adapters", ok: unitCode === 0, seconds: (Date.now() - unitStarted) / 1000 });
  try {
    const workDir = await mkdtemp(join(tmpdir(), "contract-"));
    cleanups.push(() => rm(workDir, { recursive: true, force: true }));
    const database = await createTestDatabase(POSTGRES_ADMIN_URL);
    cleanups.push(() => database.drop());
    await migrateDatabase(database.url);
    await seedAdmin({ databaseUrl: database.url, ...ADMIN });
    const stack = await startLocalStack({ databaseUrl: database.url, dataDir: workDir, bucket: "contract" });
    cleanups.push(() => stack.close());
    const runId = Date.now().toString(36);
    const { UPSTASH_REDIS_REST_URL: redisUrl, UPSTASH_REDIS_REST_TOKEN: redisToken } = stack.vars;
    // Runs before the stack closes (cleanups run in reverse): the machine's Redis outlives the run.
    if (redisUrl && redisToken)
      cleanups.push(() => deleteKeysWithPrefix(redisUrl, redisToken, `test:contract:${runId}:`));

    for (const runtime of wanted) {
      const vars = {
        ...stack.vars,
        REDIS_KEY_PREFIX: `test:contract:${runId}:${runtime}:`,
        JWT_KEYS: JSON.stringify(testJwtKeys),
        CORS_ORIGINS: "https://app.contract.test",
        // Info off Workers: the scheduled jobs' log lines prove the interval ran them (checked below).
        LOG_LEVEL: runtime === "worker" ? "warn" : "info",
        SCHEDULE_INTERVAL_SECONDS: "2",
      };
      results.push(
        await phase(runtime, "contract", vars, workDir, async (baseUrl, output) => {
          if ((await runSuite(baseUrl, runtime)) !== 0) return "the contract suite failed";
          if (runtime !== "worker" && !(await scheduledJobsRan(output)))
            return "the scheduled jobs did not run on the interval";
          return undefined;
        }),
      );
      // The same runtime with the cache unreachable: degraded, never down, never crashed.
      const deadRedis = { ...vars, UPSTASH_REDIS_REST_URL: "http://127.0.0.1:9", LOG_LEVEL: "error" };
      results.push(
        await phase(runtime, "degraded", deadRedis, workDir, async (baseUrl) =>
          (await runVitest("degraded", { CONTRACT_BASE_URL: baseUrl, CONTRACT_RUNTIME: runtime })) === 0
            ? undefined
            : "the degraded suite failed",
        ),
      );
    }
  } finally {
    for (const fn of cleanups.reverse()) await fn().catch((e: unknown) => console.error("contract cleanup:", e));
  }
  console.log("\n=== contract results");
  for (const r of results)
    console.log(`${r.ok ? "PASS" : "FAIL"} ${r.name} (${r.seconds.toFixed(1)} s)${r.detail ? `: ${r.detail}` : ""}`);
  const failed = results.filter((r) => !r.ok).length;
  console.log(`${results.length - failed} passed, ${failed} failed`);
  return failed === 0 && results.length === 2 * wanted.length + 1 ? 0 : 1;
}

process.exitCode = await main();
