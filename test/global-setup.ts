/**
 * Starts the real local stack for the workerd tests and hands its coordinates to the Worker as
 * bindings. Each run gets its own Postgres database, Redis key prefix and bucket, and removes
 * them afterwards: CI runs on a machine whose services outlive the run.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { startMailOutbox } from "../dev/mail-outbox.ts";
import { startPgWsBridge } from "../dev/pg-ws-bridge.ts";
import { startS3Server } from "../dev/s3-server.ts";
import { createTestDatabase } from "../dev/test-database.ts";
import { startUpstashBridge } from "../dev/upstash-bridge.ts";
import { migrateDatabase } from "../scripts/migrate.ts";
import { startJwksServer } from "./support/jwks-server.ts";
import { testJwtKeys } from "./support/keys.ts";
import { deleteKeysWithPrefix } from "./support/redis-cleanup.ts";

const POSTGRES_ADMIN_URL = process.env.TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

declare module "vitest" {
  export interface ProvidedContext {
    workerBindings: Record<string, string>;
  }
}

export default async function setup(project: TestProject) {
  const runId = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const cleanups: Array<() => Promise<unknown>> = [];
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) await fn().catch((e: unknown) => console.error("test cleanup:", e));
  };
  try {
    const database = await createTestDatabase(POSTGRES_ADMIN_URL);
    cleanups.push(() => database.drop());
    await migrateDatabase(database.url);
    // src/scheduled.test.ts runs the cron's jobs over a whole database and bucket: its own, so it can
    // assert exact counts without sweeping or pruning what other test files are working on.
    const scheduledDatabase = await createTestDatabase(POSTGRES_ADMIN_URL);
    cleanups.push(() => scheduledDatabase.drop());
    await migrateDatabase(scheduledDatabase.url);
    const dbUrl = new URL(database.url);
    const pgBridge = await startPgWsBridge({ allow: [`${dbUrl.hostname}:${dbUrl.port || 5432}`] });
    cleanups.push(() => pgBridge.close());

    const token = crypto.randomUUID();
    const upstash = await startUpstashBridge({ redisUrl: REDIS_URL, token });
    cleanups.push(() => upstash.close());
    const prefix = `test:${runId}:`;
    cleanups.push(() => deleteKeysWithPrefix(upstash.url, upstash.token, prefix));

    const s3Dir = await mkdtemp(join(tmpdir(), "edge-s3-"));
    cleanups.push(() => rm(s3Dir, { recursive: true, force: true }));
    const bucket = `test-${runId}`;
    const scheduledBucket = `test-${runId}-cron`;
    const s3 = await startS3Server({ directory: s3Dir, buckets: [bucket, scheduledBucket] });
    cleanups.push(() => s3.close());

    const outboxDir = await mkdtemp(join(tmpdir(), "edge-outbox-"));
    cleanups.push(() => rm(outboxDir, { recursive: true, force: true }));
    const outbox = await startMailOutbox({ directory: outboxDir });
    cleanups.push(() => outbox.close());

    // An outside OIDC issuer (ES256) whose tokens the Worker accepts; the tests sign with its private key.
    const jwks = await startJwksServer();
    cleanups.push(() => jwks.close());
    const issuerKeys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
      "sign",
      "verify",
    ])) as CryptoKeyPair;
    const externalIssuer = {
      issuer: "https://issuer.edge.test/main",
      audience: "edge-test-api",
      kid: "main-es256",
      rolesClaim: "https://edge.test/roles",
      jwksBase: jwks.url,
      privateJwk: await crypto.subtle.exportKey("jwk", issuerKeys.privateKey),
    };
    const publicJwk = await crypto.subtle.exportKey("jwk", issuerKeys.publicKey);
    jwks.set("main", { keys: [{ ...publicJwk, kid: externalIssuer.kid, alg: "ES256", use: "sig" }] });

    project.provide("workerBindings", {
      DATABASE_URL: database.url,
      DATABASE_WS_PROXY: pgBridge.url,
      UPSTASH_REDIS_REST_URL: upstash.url,
      UPSTASH_REDIS_REST_TOKEN: upstash.token,
      REDIS_KEY_PREFIX: prefix,
      S3_ENDPOINT: s3.endpoint,
      S3_REGION: s3.region,
      S3_BUCKET: bucket,
      S3_ACCESS_KEY_ID: s3.accessKeyId,
      S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      S3_PUBLIC_BASE_URL: `${s3.endpoint}/${bucket}`,
      S3_FORCE_PATH_STYLE: "true",
      JWT_KEYS: JSON.stringify(testJwtKeys),
      MAIL_API_URL: outbox.url,
      MAIL_API_KEY: outbox.apiKey,
      MAIL_FROM: "Edge Tests <no-reply@edge.test>",
      AUTH_LINK_BASE_URL: "https://app.edge.test",
      AUTH_EXTERNAL_ISSUERS: JSON.stringify([
        {
          issuer: externalIssuer.issuer,
          jwksUri: `${jwks.url}/main/jwks.json`,
          audience: externalIssuer.audience,
          rolesClaim: externalIssuer.rolesClaim,
        },
      ]),
      // Read by test/workers/auth-external.test.ts only (not configuration).
      TEST_EXTERNAL_ISSUER: JSON.stringify(externalIssuer),
      // Read by src/scheduled.test.ts only (not configuration).
      TEST_SCHEDULED_DATABASE_URL: scheduledDatabase.url,
      TEST_SCHEDULED_BUCKET: scheduledBucket,
      LOG_LEVEL: "warn",
    });
  } catch (error) {
    await cleanup();
    throw error;
  }
  return cleanup;
}
