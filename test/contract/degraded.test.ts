// The contract under a cache outage (the runner points UPSTASH_REDIS_REST_URL at a dead port):
// the service answers, reports itself degraded, serves what Postgres can, refuses what must fail
// closed with a 503 problem, and the process lives (the runner checks it did not exit).
import { describe, expect, it } from "vitest";

const BASE = process.env.CONTRACT_BASE_URL ?? "";
const RUNTIME = process.env.CONTRACT_RUNTIME ?? "unknown";

const call = (path: string, init: RequestInit = {}) =>
  fetch(`${BASE}${path}`, {
    ...init,
    headers: { "Content-Type": "application/json", ...init.headers },
    signal: AbortSignal.timeout(15_000),
  });

describe(`the service on ${RUNTIME} with Redis unreachable`, () => {
  it("reports itself ready but degraded, naming the cache, while liveness stays ok", async () => {
    expect((await call("/healthz")).status).toBe(200);
    const ready = await call("/readyz");
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as { status: string; checks: Record<string, { ok: boolean }> };
    expect(body.status).toBe("degraded");
    expect(body.checks.redis?.ok).toBe(false);
    expect(body.checks.postgres?.ok).toBe(true);
  });

  it("serves settings from Postgres, refuses sign-ups with a 503 problem (the rate limiter fails closed), and stays alive", async () => {
    expect((await call("/v1/settings")).status).toBe(200);
    const email = `degraded-${crypto.randomUUID().slice(0, 8)}@example.test`;
    const registered = await call("/v1/auth/register", {
      method: "POST",
      body: JSON.stringify({ email, password: `pw-${crypto.randomUUID()}` }),
    });
    expect(registered.status).toBe(503);
    expect(registered.headers.get("content-type")).toContain("application/problem+json");
    expect(registered.headers.get("retry-after")).not.toBeNull();
    expect((await call("/healthz")).status).toBe(200);
  });
});
