// The composed stack: every var it hands the Worker must actually reach its service, with the same
// client settings the Worker uses.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HeadBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { neonConfig, Pool } from "@neondatabase/serverless";
import { Redis } from "@upstash/redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import ws from "ws";
import { canConnect } from "../../dev/free-port.ts";
import { type LocalStack, resolveRedis, startLocalStack } from "../../dev/local-stack.ts";
import { pingRedis } from "../../dev/redis-resp.ts";

const POSTGRES_URL = process.env.TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "edge-stack-"));
  neonConfig.webSocketConstructor = ws;
  neonConfig.useSecureWebSocket = false;
  neonConfig.pipelineTLS = false;
  neonConfig.pipelineConnect = false;
});
afterAll(async () => {
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function selectOne(vars: Record<string, string>): Promise<unknown> {
  const proxy = (vars.DATABASE_WS_PROXY ?? "").replace(/^wss?:\/\//, "");
  neonConfig.wsProxy = (host, port) => `${proxy}?address=${host}:${port}`;
  const pool = new Pool({ connectionString: vars.DATABASE_URL, connectionTimeoutMillis: 5000 });
  try {
    return (await pool.query("select 1 as one")).rows[0];
  } finally {
    await pool.end();
  }
}

async function checkServices(vars: Record<string, string>): Promise<void> {
  expect(await selectOne(vars)).toEqual({ one: 1 });
  const redis = new Redis({
    url: vars.UPSTASH_REDIS_REST_URL,
    token: vars.UPSTASH_REDIS_REST_TOKEN,
    enableTelemetry: false,
    retry: false,
  });
  expect(await redis.ping()).toBe("PONG");
  const s3 = new S3Client({
    endpoint: vars.S3_ENDPOINT,
    region: vars.S3_REGION,
    credentials: { accessKeyId: vars.S3_ACCESS_KEY_ID ?? "", secretAccessKey: vars.S3_SECRET_ACCESS_KEY ?? "" },
    forcePathStyle: vars.S3_FORCE_PATH_STYLE === "true",
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  try {
    await s3.send(new HeadBucketCommand({ Bucket: vars.S3_BUCKET }));
    await s3.send(
      new PutObjectCommand({ Bucket: vars.S3_BUCKET, Key: "probe.txt", Body: "ok", ContentType: "text/plain" }),
    );
    const res = await fetch(`${vars.S3_PUBLIC_BASE_URL}/probe.txt`);
    expect(await res.text()).toBe("ok");
  } finally {
    s3.destroy();
  }
}

const EXPECTED_KEYS = [
  "DATABASE_URL",
  "DATABASE_WS_PROXY",
  "S3_ACCESS_KEY_ID",
  "S3_BUCKET",
  "S3_ENDPOINT",
  "S3_FORCE_PATH_STYLE",
  "S3_PUBLIC_BASE_URL",
  "S3_REGION",
  "S3_SECRET_ACCESS_KEY",
  "UPSTASH_REDIS_REST_TOKEN",
  "UPSTASH_REDIS_REST_URL",
];

describe("startLocalStack", () => {
  it("with PGlite (the default): all vars present and every service reachable, all closed after", {
    timeout: 120_000,
  }, async () => {
    const stack: LocalStack = await startLocalStack({ dataDir, bucket: "stack-test" });
    let closed = false;
    try {
      expect(Object.keys(stack.vars).sort()).toEqual(EXPECTED_KEYS);
      expect(stack.vars.DATABASE_URL).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
      expect(stack.vars.DATABASE_WS_PROXY).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/v1$/);
      expect(stack.vars.S3_PUBLIC_BASE_URL).toBe(`${stack.vars.S3_ENDPOINT}/stack-test`);
      expect(stack.vars.S3_FORCE_PATH_STYLE).toBe("true");
      await checkServices(stack.vars);
      await stack.close();
      closed = true;
      for (const key of ["DATABASE_URL", "DATABASE_WS_PROXY", "UPSTASH_REDIS_REST_URL", "S3_ENDPOINT"]) {
        const u = new URL(stack.vars[key] ?? "");
        expect(await canConnect(u.hostname, Number(u.port)), `${key} still listening`).toBe(false);
      }
    } finally {
      if (!closed) await stack.close();
    }
  });

  it("with a given local Postgres: no PGlite, still a ws bridge; a fresh token per start", async () => {
    const a = await startLocalStack({ dataDir, databaseUrl: POSTGRES_URL, bucket: "stack-test" });
    const b = await startLocalStack({ dataDir, databaseUrl: POSTGRES_URL, skip: { s3: true } });
    try {
      expect(a.vars.DATABASE_URL).toBe(POSTGRES_URL);
      expect(a.vars.DATABASE_WS_PROXY).toBeDefined();
      await checkServices(a.vars);
      expect(b.vars.UPSTASH_REDIS_REST_TOKEN).not.toBe(a.vars.UPSTASH_REDIS_REST_TOKEN);
      expect(b.vars.S3_ENDPOINT).toBeUndefined();
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("with a remote Postgres: no bridge and no DATABASE_WS_PROXY", async () => {
    const remote = "postgres://user:pw@ep-example-123456.eu-central-1.aws.neon.tech/app?sslmode=require";
    const stack = await startLocalStack({ dataDir, databaseUrl: remote, skip: { cache: true, s3: true } });
    try {
      expect(stack.vars).toEqual({ DATABASE_URL: remote });
      expect(stack.services.join("\n")).not.toContain(":pw@");
    } finally {
      await stack.close();
    }
  });
});

describe("resolveRedis", () => {
  it("uses a Redis that answers at the probe URL", async () => {
    const r = await resolveRedis({ probeUrl: "redis://127.0.0.1:6379" });
    expect(r?.url).toBe("redis://127.0.0.1:6379");
    await r?.close();
  });

  it("spawns redis-server from PATH when nothing answers, and stops it on close", async () => {
    const r = await resolveRedis({ probeUrl: "redis://127.0.0.1:1" });
    expect(r).not.toBeNull();
    expect(r?.description).toMatch(/^spawned redis-server/);
    expect(await pingRedis(r?.url ?? "")).toBe(true);
    await r?.close();
    expect(await pingRedis(r?.url ?? "")).toBe(false);
  });

  it("gives up (cache off) with neither a Redis nor redis-server", async () => {
    const lines: string[] = [];
    const r = await resolveRedis({
      probeUrl: "redis://127.0.0.1:1",
      command: "no-such-redis-server-binary",
      log: (l) => lines.push(l),
    });
    expect(r).toBeNull();
    expect(lines).toEqual([]);
  });
});
