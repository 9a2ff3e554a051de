import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app.ts";

const app = createApp();
const DEAD = "http://127.0.0.1:9";

async function call(path: string, overrides: Record<string, unknown>) {
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(`http://edge.test${path}`), { ...env, ...overrides }, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

interface Ready {
  status: string;
  checks: Record<"postgres" | "redis" | "storage", { ok: boolean; ms: number; error?: string }>;
}

describe("readiness when a dependency is down", () => {
  it("says degraded and names redis when the cache is unreachable", async () => {
    const res = await call("/readyz", { UPSTASH_REDIS_REST_URL: DEAD });
    const body = (await res.json()) as Ready;
    expect(res.status).toBe(200);
    expect(body.status).toBe("degraded");
    expect(body.checks.redis.ok).toBe(false);
    expect(body.checks.postgres.ok).toBe(true);
  });

  it("says degraded and names storage when the bucket is unreachable", async () => {
    const res = await call("/readyz", { S3_ENDPOINT: DEAD });
    const body = (await res.json()) as Ready;
    expect(body.status).toBe("degraded");
    expect(body.checks.storage.ok).toBe(false);
    expect(body.checks.storage.error).toBe("unavailable");
  });

  it("says down with 503 when postgres is unreachable, within the check timeout", async () => {
    const started = Date.now();
    const res = await call("/readyz", { DATABASE_WS_PROXY: "ws://127.0.0.1:9/v1" });
    const body = (await res.json()) as Ready;
    expect(res.status).toBe(503);
    expect(body.status).toBe("down");
    expect(body.checks.postgres.ok).toBe(false);
    expect(body.checks.redis.ok).toBe(true);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("reports the cache as not configured when Upstash is unset", async () => {
    const res = await call("/readyz", { UPSTASH_REDIS_REST_URL: undefined, UPSTASH_REDIS_REST_TOKEN: undefined });
    const body = (await res.json()) as Ready;
    expect(body.checks.redis).toMatchObject({ ok: false, error: "not configured" });
  });
});

describe("misconfiguration", () => {
  it("answers 500 problem+json that names no key and leaks no value", async () => {
    const res = await call("/readyz", { DATABASE_URL: "mysql://root:hunter2@db/app" });
    expect(res.status).toBe(500);
    expect(res.headers.get("Content-Type")).toContain("application/problem+json");
    const text = await res.text();
    expect(text).not.toContain("hunter2");
    expect(text).not.toContain("DATABASE_URL");
    expect(JSON.parse(text)).toMatchObject({ status: 500, type: "/problems/misconfigured" });
  });

  it("refuses every route, /healthz included, with a 500 problem while config is invalid", async () => {
    const res = await call("/healthz", { JWT_KEYS: "[]" });
    expect(res.status).toBe(500);
    expect(res.headers.get("X-Request-Id")).toBeTruthy();
  });
});
