// The fuzz suite on Node: `node runtimes/node.ts` as a real process in front of the local stack
// (a fresh Postgres database, Redis behind the Upstash bridge, the local S3), the same generated
// cases as on workerd (test/workers/fuzz.test.ts): no 5xx, every error problem+json.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../dev/free-port.ts";
import { type LocalStack, startLocalStack } from "../../dev/local-stack.ts";
import { createTestDatabase, type TestDatabase } from "../../dev/test-database.ts";
import { migrateDatabase } from "../../scripts/migrate.ts";
import { seedAdmin } from "../../scripts/seed-admin.ts";
import { testJwtKeys } from "../support/keys.ts";
import { deleteKeysWithPrefix } from "../support/redis-cleanup.ts";
import { formatFuzzReport, fuzzRoutes } from "../support/fuzz.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const POSTGRES_ADMIN_URL = process.env.TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const SEED = 11;
const CASES_PER_ROUTE = 60;
const ADMIN = { email: "fuzz-admin@example.test", password: `pw-${crypto.randomUUID()}` };

let workDir: string;
let database: TestDatabase;
let stack: LocalStack;
let child: ChildProcess;
let baseUrl: string;
const prefix = `test:fuzz-node:${Date.now().toString(36)}:`;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), "fuzz-node-"));
  database = await createTestDatabase(POSTGRES_ADMIN_URL);
  await migrateDatabase(database.url);
  await seedAdmin({ databaseUrl: database.url, ...ADMIN });
  stack = await startLocalStack({ databaseUrl: database.url, dataDir: workDir, bucket: "fuzz-node" });
  const port = await freePort();
  child = spawn(process.execPath, [join(ROOT, "runtimes/node.ts")], {
    cwd: ROOT,
    stdio: ["ignore", "ignore", "inherit"],
    env: {
      ...process.env,
      ...stack.vars,
      REDIS_KEY_PREFIX: prefix,
      JWT_KEYS: JSON.stringify(testJwtKeys),
      LOG_LEVEL: "error",
      PORT: String(port),
      HOST: "127.0.0.1",
    },
  });
  baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`runtimes/node.ts exited with ${child.exitCode}`);
    const up = await fetch(`${baseUrl}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) break;
    if (Date.now() > deadline) throw new Error("runtimes/node.ts did not answer /healthz");
    await new Promise((r) => setTimeout(r, 200));
  }
}, 120_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  }
  const { UPSTASH_REDIS_REST_URL: url, UPSTASH_REDIS_REST_TOKEN: token } = stack?.vars ?? {};
  if (url && token) await deleteKeysWithPrefix(url, token, prefix).catch(() => {});
  await stack?.close();
  await database?.drop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
}, 60_000);

describe("fuzz (Node runtime)", () => {
  it(`every route, ${CASES_PER_ROUTE} generated bad requests each: no 5xx, every error problem+json`, async () => {
    const login = await fetch(`${baseUrl}/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(ADMIN),
    });
    expect(login.status).toBe(200);
    const { accessToken } = (await login.json()) as { accessToken: string };
    const report = await fuzzRoutes({
      send: (request) => fetch(request),
      origin: baseUrl,
      adminToken: accessToken,
      seed: SEED,
      casesPerRoute: CASES_PER_ROUTE,
    });
    console.log(formatFuzzReport(report, "Node (runtimes/node.ts)"));
    expect(Object.keys(report.routes).length).toBeGreaterThan(20);
    expect(report.failures).toEqual([]);
    expect(child.exitCode).toBeNull();
  }, 300_000);
});
